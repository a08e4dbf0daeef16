import { describe, expect, it } from 'vitest';
import { BatchIterator, subsetIndices } from '../../src-main/data/datasets.ts';
import { mnistSamples } from '../../src-main/data/mnist.ts';

describe('datasets', () => {
  const train = mnistSamples('train');

  it('selects one digit or several', () => {
    const sevens = subsetIndices(train, { classes: [7], limit: null });
    expect(sevens.length).toBe(6265);
    expect([...sevens].every((i) => train.labels[i] === 7)).toBe(true);
    const both = subsetIndices(train, { classes: [3, 5], limit: null });
    expect([...both].every((i) => train.labels[i] === 3 || train.labels[i] === 5)).toBe(true);
  });

  it('limits with a seeded sample', () => {
    const a = subsetIndices(train, { classes: null, limit: 500, seed: 1 });
    const b = subsetIndices(train, { classes: null, limit: 500, seed: 1 });
    const c = subsetIndices(train, { classes: null, limit: 500, seed: 2 });
    expect(a.length).toBe(500);
    expect([...a]).toEqual([...b]);
    expect([...a]).not.toEqual([...c]);
  });

  it('shuffles by seed and visits every image once per epoch, keeping the short last batch', () => {
    const idx = subsetIndices(train, { classes: null, limit: 25, seed: 3 });
    const labelsOf = (seed: number) => {
      const it = new BatchIterator(train, idx, 10, seed);
      expect(it.batchesPerEpoch).toBe(3);
      const sizes: number[] = [];
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        const b = it.next();
        sizes.push(b.size);
        seen.push(...b.y);
      }
      return { sizes, seen };
    };
    const a = labelsOf(7);
    expect(a.sizes).toEqual([10, 10, 5]);
    expect([...a.seen].sort()).toEqual([...idx].map((i) => train.labels[i] as number).sort());
    expect(labelsOf(7).seen).toEqual(a.seen);
    expect(labelsOf(8).seen).not.toEqual(a.seen);
  });

  it('refuses an empty subset', () => {
    expect(() => new BatchIterator(train, new Uint32Array(0), 10, 0)).toThrow(/empty/);
  });
});
