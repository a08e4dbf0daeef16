import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importSource } from '../../src-main/data/import/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const pixelHeader = (n: number, name = (i: number) => `pixel${i}`) => ['label', ...Array.from({ length: n }, (_, i) => name(i))].join(',');

/** rows of [label, ...pixels] with distinct byte values. */
function pixelRows(n: number, size: number, labels: string[], salt: number): { rows: string[]; x: number[]; labels: string[] } {
  const rows: string[] = [];
  const x: number[] = [];
  const ls: string[] = [];
  for (let r = 0; r < n; r++) {
    const px = Array.from({ length: size }, (_, p) => (r * 31 + p * 7 + salt) % 256);
    const label = labels[r % labels.length] as string;
    rows.push([label, ...px].join(','));
    x.push(...px);
    ls.push(label);
  }
  return { rows, x, labels: ls };
}

describe('CSV importer', () => {
  const tmp = tempDir('lora-lab-import-csv-');
  afterAll(tmp.cleanup);
  let k = 0;
  const folder = (files: Record<string, string>) => {
    const dir = join(tmp.dir, `set${k++}`);
    mkdirSync(dir);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    return dir;
  };

  it('reads label,pixel0… train.csv + test.csv as square uint8 images, bytes exactly', async () => {
    const train = pixelRows(20, 16, ['0', '1', '2'], 1);
    const test = pixelRows(6, 16, ['2', '1', '0'], 2);
    const dir = folder({
      'train.csv': `${pixelHeader(16)}\n${train.rows.join('\n')}\n`,
      'test.csv': `${pixelHeader(16)}\n${test.rows.join('\n')}`,
    });
    const d = await importSource(dir, {});
    expect(d.format).toBe('csv');
    expect(d.kind).toBe('image');
    expect(d.shape).toEqual([4, 4, 1]);
    expect(d.dtype).toBe('uint8');
    expect(d.classes).toEqual(['0', '1', '2']);
    expect(d.train.count).toBe(20);
    expect(d.test.count).toBe(6);
    expect(d.train.x).toBeInstanceOf(Uint8Array);
    expect([...d.train.x]).toEqual(train.x);
    expect([...d.test.x]).toEqual(test.x);
    expect([...d.train.labels].map((l) => d.classes[l])).toEqual(train.labels);
    expect(d.origin).toMatchObject({ files: ['train.csv', 'test.csv'], layout: 'pixels', labelColumn: 'label', split: 'given' });
  });

  it('reads Kaggle-style mnist_train.csv / mnist_test.csv with RxC column names (2×3 images)', async () => {
    const header = 'label,1x1,1x2,1x3,2x1,2x2,2x3';
    const train = pixelRows(8, 6, ['7', '3'], 3);
    const test = pixelRows(2, 6, ['3', '7'], 4);
    const dir = folder({ 'mnist_train.csv': `${header}\r\n${train.rows.join('\r\n')}\r\n`, 'mnist_test.csv': `${header}\r\n${test.rows.join('\r\n')}\r\n` });
    const d = await importSource(dir, {});
    expect(d.shape).toEqual([2, 3, 1]);
    expect(d.classes).toEqual(['3', '7']);
    expect([...d.train.x]).toEqual(train.x);
  });

  it('reads a generic table as float32 features: quoted labels, floats, exponents, a BOM, CRLF, blank lines', async () => {
    const csv = [
      '\uFEFFsepal length,"sepal, width",species',
      '5.1,3.5,"Iris ""setosa"""',
      '4.9,-3e-1,"Iris ""setosa"""',
      '',
      '6.3,.25,virginica',
      '5.8,2.7,"versi',
      'color"',
      '6.0,2.2,virginica',
      '5.0,1e2,"versi\ncolor"',
      '',
    ].join('\r\n');
    // "species" is not one of label/class/target/y: without labelColumn the first column would be the label.
    const d = await importSource(folder({ 'iris.csv': csv }), { testFraction: 0.4, labelColumn: 'species' });
    expect(d.kind).toBe('table');
    expect(d.shape).toEqual([2]);
    expect(d.dtype).toBe('float32');
    expect(d.classes).toEqual(['Iris "setosa"', 'versi\ncolor', 'versi\r\ncolor', 'virginica']);
    expect(d.origin['labelColumn']).toBe('species');
    const all = new Map<string, number[]>();
    for (const s of [d.train, d.test]) {
      expect(s.x).toBeInstanceOf(Float32Array);
      for (let i = 0; i < s.count; i++) all.set(`${s.x[2 * i]},${s.x[2 * i + 1]}`, [s.labels[i] as number]);
    }
    const f = (v: number) => Math.fround(v);
    expect([...all.keys()].sort()).toEqual([`${f(5.1)},${f(3.5)}`, `${f(4.9)},${f(-0.3)}`, `${f(6.3)},${f(0.25)}`, `${f(5.8)},${f(2.7)}`, `${f(6)},${f(2.2)}`, `${f(5)},${f(100)}`].sort());
  });

  it('sorts numeric labels numerically, finds target/class columns, and honours labelColumn', async () => {
    const rows = ['a,target,b', '1,10,2', '3,2,4', '1,1,6', '3,10,8', '1,2,10', '3,1,12'];
    const d = await importSource(folder({ 'data.csv': rows.join('\n') }), { testFraction: 0.5 });
    expect(d.classes).toEqual(['1', '2', '10']);
    expect(d.origin['labelColumn']).toBe('target');
    expect(d.shape).toEqual([2]);
    const e = await importSource(folder({ 'data.csv': rows.join('\n') }), { testFraction: 0.5, labelColumn: 'a' });
    expect(e.origin['labelColumn']).toBe('a');
    expect(e.classes).toEqual(['1', '3']);
    expect(e.train.count + e.test.count).toBe(6);
    await expect(importSource(folder({ 'data.csv': rows.join('\n') }), { labelColumn: 'nope' })).rejects.toThrow(/data\.csv: no column "nope" in the header \(a, target, b\)/);
  });

  it('reads a pixel header whose values are not all bytes as a table, and says so', async () => {
    const train = pixelRows(6, 4, ['a', 'b'], 5);
    train.rows[3] = 'b,1,2,300,4';
    const d = await importSource(folder({ 'pix.csv': `${pixelHeader(4)}\n${train.rows.join('\n')}\n` }), { testFraction: 0.5 });
    expect(d.kind).toBe('table');
    expect(d.dtype).toBe('float32');
    expect(d.shape).toEqual([4]);
    expect(d.origin['note']).toMatch(/pix\.csv line 5, column pixel2: 300 is not an integer 0–255, so the file is read as a table/);
  });

  it('parses across read chunks: a 5 MB file round-trips every value', async () => {
    const n = 4000;
    const data = pixelRows(n, 400, ['0', '1', '2', '3'], 6);
    const dir = folder({ 'train.csv': `${pixelHeader(400)}\n${data.rows.join('\n')}\n`, 'test.csv': `${pixelHeader(400)}\n${data.rows.slice(0, 10).join('\n')}\n` });
    const progress: number[] = [];
    const d = await importSource(dir, { onProgress: (done, total) => progress.push(done / total) });
    expect(d.shape).toEqual([20, 20, 1]);
    expect(d.train.count).toBe(n);
    expect(Buffer.from(d.train.x).equals(Buffer.from(data.x))).toBe(true);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)).toBe(1);
    // Cancelled part way: the next chunk stops it.
    const ac = new AbortController();
    await expect(importSource(dir, { signal: ac.signal, onProgress: () => ac.abort() })).rejects.toThrow(/abort/i);
  });

  it('derives the same split for the same seed and another for another seed', async () => {
    const data = pixelRows(100, 4, ['x', 'y'], 7);
    const dir = folder({ 'one.csv': `${pixelHeader(4)}\n${data.rows.join('\n')}\n` });
    const a = await importSource(join(dir, 'one.csv'), { seed: 1 });
    const b = await importSource(join(dir, 'one.csv'), { seed: 1 });
    const c = await importSource(join(dir, 'one.csv'), { seed: 2 });
    expect(a.origin).toMatchObject({ split: 'derived', testFraction: 0.2, seed: 1, files: ['one.csv'] });
    expect(a.test.count).toBe(20);
    expect([...a.test.labels].filter((l) => l === 0)).toHaveLength(10);
    expect([...a.test.x]).toEqual([...b.test.x]);
    expect([...a.test.x]).not.toEqual([...c.test.x]);
  });

  it('maps labels through classes.txt (by name or index) and refuses one outside it, naming file and line', async () => {
    const rows = ['label,f', 'cat,1', '1,2', 'cat,3', 'dog,4', '0,5', 'dog,6'];
    const d = await importSource(folder({ 'd.csv': rows.join('\n'), 'classes.txt': 'cat\ndog\n' }), { testFraction: 0.5 });
    expect(d.classes).toEqual(['cat', 'dog']);
    expect(d.origin['classesFrom']).toBe('classes.txt');
    await expect(importSource(folder({ 'd.csv': [...rows, 'bird,7'].join('\n'), 'classes.txt': 'cat\ndog\n' }), {})).rejects.toThrow(
      /d\.csv line 8: label "bird" is not in classes\.txt \(2 classes\)/,
    );
    await expect(importSource(folder({ 'd.csv': rows.join('\n'), 'classes.txt': 'cat\ndog\nfish\n' }), {})).rejects.toThrow(/class "fish" has no training examples/);
  });

  it('refuses hostile and broken files with the file and line', async () => {
    const bad = (text: string) => importSource(folder({ 'bad.csv': text }), {});
    const header = 'label,a,b,c';
    await expect(bad(`${header}\n0,1,2,3\n1,1,2,3\n0,1,2,3,4\n`)).rejects.toThrow(/^bad\.csv line 4 has 5 values, the header has 4$/);
    await expect(bad(`${header}\n0,1,2,3\n1,1,2\n`)).rejects.toThrow(/^bad\.csv line 3 has 3 values, the header has 4$/);
    await expect(bad(`${header}\n0,1,2,3\n1,1,abc,3\n`)).rejects.toThrow(/^bad\.csv line 3, column b: "abc" is not a number$/);
    await expect(bad(`${header}\n0,1,NaN,3\n`)).rejects.toThrow(/line 2, column b: "NaN" is not a finite number/);
    await expect(bad(`${header}\n0,1,-Infinity,3\n`)).rejects.toThrow(/line 2, column b: "-Infinity" is not a finite number/);
    await expect(bad(`${header}\n0,1,1e999,3\n`)).rejects.toThrow(/line 2, column b: "1e999" is not a finite number/);
    await expect(bad(`${header}\n0,1,,3\n`)).rejects.toThrow(/line 2, column b: empty value/);
    await expect(bad(`${header}\n,1,2,3\n`)).rejects.toThrow(/line 2, column label: the label is empty/);
    await expect(bad('')).rejects.toThrow(/^bad\.csv: the file is empty/);
    await expect(bad(`${header}\n\n`)).rejects.toThrow(/^bad\.csv: only a header, no data rows$/);
    await expect(bad('0,1,2,3\n1,2,3,4\n')).rejects.toThrow(/bad\.csv line 1 holds numbers, not column names/);
    await expect(bad(`${header}\n"0,1,2,3\n`)).rejects.toThrow(/bad\.csv line 2: a quoted field is never closed/);
    await expect(bad(`${header}\n"0"x,1,2,3\n`)).rejects.toThrow(/bad\.csv line 2: a character after a closing quote/);
    const many = Array.from({ length: 300 }, (_, i) => `c${i},1`);
    await expect(bad(`label,f\n${many.join('\n')}\n`)).rejects.toThrow(/bad\.csv line 258: label "c256" is the 257th distinct value of column label; at most 256 classes/);
    await expect(importSource(folder({ 'train.csv': `${header}\n0,1,2,3\n1,1,2,3\n`, 'test.csv': 'label,a,x,c\n0,1,2,3\n' }), {})).rejects.toThrow(
      /test\.csv: column 3 is "x", the first file's is "b"/,
    );
    await expect(importSource(folder({ 'train.csv': `${header}\n0,1,2,3\n1,1,2,3\n`, 'test.csv': `${header}\n2,1,2,3\n` }), {})).rejects.toThrow(
      /class "2" has no training examples/,
    );
    await expect(importSource(folder({ 'train.csv': `${header}\n0,1,2,3\n1,1,2,3\n`, 'test.csv': 'a,b,c\n1,2,3\n' }), {})).rejects.toThrow(
      /test\.csv: the header has 3 columns, the first file's has 4 \(a test file without labels cannot be used: import the train file alone\)/,
    );
    await expect(importSource(folder({ 'a.csv': header, 'b.csv': header, 'c.csv': header }), {})).rejects.toThrow(/several CSV files \(a\.csv, b\.csv, c\.csv\)/);
  });
});
