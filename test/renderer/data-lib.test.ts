/**
 * The Data page's and the New run data set picker's pure logic (issue 13): which data
 * sets fit a base model, the widths a run on a data set gets, which test samples the
 * grid shows per class, default import names, and how an origin reads.
 */
import { describe, expect, it } from 'vitest';
import { chunk, defaultDatasetName, fitProblem, fitsWidths, originLines, pickPerClass, shapeLine, widthsFor } from '../../src-renderer/lib/datasets.ts';

const mnist = { name: 'MNIST', kind: 'image' as const, shape: [28, 28, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
const wine = { name: 'wine', kind: 'table' as const, shape: [13], classes: ['a', 'b', 'c'] };
const cifar = { name: 'tiny colour', kind: 'image' as const, shape: [8, 8, 3], classes: ['cat', 'dog'] };

describe('fit and widths', () => {
  it('a model fits a data set when its input is the values per sample and its output the classes', () => {
    expect(fitsWidths(mnist, [784, 100, 10])).toBe(true);
    expect(fitsWidths(mnist, [784, 100, 9])).toBe(false);
    expect(fitsWidths(cifar, [192, 2])).toBe(true);
    expect(fitsWidths(wine, [784, 16, 10])).toBe(false);
    expect(fitProblem(wine, [784, 16, 10])).toBe('the base maps 784 inputs to 10 classes; wine has 13 values per sample (13 features) and 3 classes');
    expect(fitProblem(mnist, [784, 10])).toBeNull();
  });

  it('a run on a data set keeps the hidden widths and takes its input and classes', () => {
    expect(widthsFor(wine, [784, 1000, 2000, 10])).toEqual([13, 1000, 2000, 3]);
    expect(widthsFor(cifar, [784, 10])).toEqual([192, 2]);
    expect(widthsFor(wine, null)).toEqual([13, 1000, 2000, 3]);
  });

  it('shape lines', () => {
    expect(shapeLine(mnist)).toBe('28×28 grey · 10 classes');
    expect(shapeLine(cifar)).toBe('8×8 colour · 2 classes');
    expect(shapeLine({ ...wine, classes: ['x'] })).toBe('13 features · 1 class');
  });
});

describe('sample grid picks', () => {
  it('the first N of each class in split order; a class with none stays empty', () => {
    const labels = Uint8Array.from([2, 0, 0, 2, 0, 2, 2, 0]);
    expect(pickPerClass(labels, 3, 2)).toEqual([[1, 2], [], [0, 3]]);
    expect(pickPerClass(labels, 3, 8)).toEqual([[1, 2, 4, 7], [], [0, 3, 5, 6]]);
  });

  it('calls of at most 500 indices', () => {
    const all = Array.from({ length: 1203 }, (_, i) => i);
    expect(chunk(all, 500).map((c) => c.length)).toEqual([500, 500, 203]);
    expect(chunk(all, 500).flat()).toEqual(all);
    expect(chunk([], 500)).toEqual([]);
  });
});

describe('import names and origins', () => {
  it('the default name is the entry without extensions, in the characters a name may have', () => {
    expect(defaultDatasetName('wine.csv')).toBe('wine');
    expect(defaultDatasetName('digits.tar.gz')).toBe('digits');
    expect(defaultDatasetName('my shapes')).toBe('my shapes');
    expect(defaultDatasetName('2024.csv')).toBe('data 2024');
    expect(defaultDatasetName('_private set')).toBe('private set');
    expect(defaultDatasetName('iris (v2).CSV')).toBe('iris (v2)');
    expect(defaultDatasetName('a#b.csv')).toBe('a-b');
  });

  it('an origin reads in a fixed order, with the split said in words', () => {
    const lines = originLines({ skipped: 2, split: 'derived', seed: 7, testFraction: 0.25, files: 1200, folders: '.', classesFrom: 'folders', skippedExamples: ['a/readme.txt', 'b/x.gif'] });
    expect(lines.map((l) => [l.label, l.value])).toEqual([
      ['Files', '1,200'],
      ['Folders', 'one folder per class'],
      ['Class names from', 'folders'],
      ['Train/test split', 'derived on import (the source had none)'],
      ['Test fraction', '0.25'],
      ['Split seed', '7'],
      ['Skipped files', '2'],
      ['Skipped, e.g.', 'a/readme.txt, b/x.gif'],
    ]);
    expect(originLines({ files: ['train.csv', 'test.csv'], split: 'given', extra: { a: 1 } }).map((l) => l.value)).toEqual(['train.csv, test.csv', 'given by the source', 'a 1']);
    expect(originLines(null)).toEqual([]);
  });
});
