import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataImportError, detectFormat, importSource } from '../../src-main/data/import/index.ts';
import { permuteRows, splitRule, stratifiedSplit } from '../../src-main/data/import/split.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('seeded stratified split', () => {
  /** count samples of rowSize floats, sample i holding i in every value; labels by `labelOf`. */
  const whole = (count: number, rowSize: number, labelOf: (i: number) => number) => ({
    x: Float32Array.from({ length: count * rowSize }, (_, j) => Math.floor(j / rowSize)),
    labels: Uint8Array.from({ length: count }, (_, i) => labelOf(i)),
    count,
  });

  it('holds out round(n · fraction) of each class, keeps rows whole and each split in file order', () => {
    const all = whole(103, 3, (i) => (i < 50 ? 0 : i < 100 ? 1 : 2)); // classes of 50, 50, 3
    const { train, test } = stratifiedSplit(all, 3, 3, { testFraction: 0.2, seed: 0 }, 'w');
    const perClass = (l: Uint8Array) => [0, 1, 2].map((c) => [...l].filter((v) => v === c).length);
    expect(perClass(test.labels)).toEqual([10, 10, 1]);
    expect(perClass(train.labels)).toEqual([40, 40, 2]);
    const ids = (s: typeof train) => Array.from({ length: s.count }, (_, i) => {
      const row = [...s.x.subarray(3 * i, 3 * i + 3)];
      expect(new Set(row).size).toBe(1); // the row moved as one
      expect(s.labels[i]).toBe(row[0]! < 50 ? 0 : row[0]! < 100 ? 1 : 2);
      return row[0]!;
    });
    const a = ids(train);
    const b = ids(test);
    expect(a).toEqual([...a].sort((p, q) => p - q));
    expect(b).toEqual([...b].sort((p, q) => p - q));
    expect(new Set([...a, ...b]).size).toBe(103);
    // Train and test are views of the one buffer (no second copy).
    expect(train.x.buffer).toBe(test.x.buffer);
  });

  it('is deterministic per seed and differs between seeds; a class of one stays in train', () => {
    const run = (seed: number) => [...stratifiedSplit(whole(40, 1, (i) => i % 2), 1, 2, { testFraction: 0.25, seed }, 'w').test.x];
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const tiny = stratifiedSplit(whole(5, 1, (i) => (i === 4 ? 1 : 0)), 1, 2, { testFraction: 0.5, seed: 0 }, 'w');
    expect([...tiny.train.labels].includes(1)).toBe(true);
  });

  it('permutes rows in place', () => {
    const x = Uint8Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    permuteRows(x, 2, Uint32Array.from([3, 0, 4, 1, 2]));
    expect([...x]).toEqual([3, 3, 0, 0, 4, 4, 1, 1, 2, 2]);
  });

  it('refuses a test fraction outside (0, 1) and a bad seed', () => {
    expect(() => splitRule({ testFraction: 1 })).toThrow(/test fraction must be between 0 and 1 \(exclusive\), got 1/);
    expect(() => splitRule({ testFraction: 0 })).toThrow(DataImportError);
    expect(() => splitRule({ seed: -1 })).toThrow(/seed must be an integer/);
    expect(splitRule({})).toEqual({ testFraction: 0.2, seed: 0 });
  });
});

describe('format detection', () => {
  const tmp = tempDir('lora-lab-import-detect-');
  afterAll(tmp.cleanup);

  it('tells IDX, CSV and image folders apart and refuses what is none of them', async () => {
    const mk = (name: string, files: Record<string, string>, dirs: string[] = []) => {
      const dir = join(tmp.dir, name);
      mkdirSync(dir);
      for (const d of dirs) mkdirSync(join(dir, d));
      for (const [f, t] of Object.entries(files)) writeFileSync(join(dir, f), t);
      return dir;
    };
    expect(await detectFormat(mk('idx', { 'train-images-idx3-ubyte.gz': '' }))).toBe('idx');
    expect(await detectFormat(mk('csv', { 'train.csv': '', 'test.csv': '' }))).toBe('csv');
    expect(await detectFormat(join(tmp.dir, 'csv', 'train.csv'))).toBe('csv');
    expect(await detectFormat(mk('img', { 'README.md': '' }, ['cats', 'dogs']))).toBe('images');
    await expect(detectFormat(mk('none', { 'notes.txt': '' }))).rejects.toThrow(/none: no data set found/);
    await expect(importSource(join(tmp.dir, 'none', 'notes.txt'), {})).rejects.toThrow(/notes\.txt: not a CSV file/);
    await expect(importSource(join(tmp.dir, 'missing'), {})).rejects.toThrow(/missing: cannot read \(ENOENT\)/);
    await expect(importSource(join(tmp.dir, 'csv', 'train.csv'), { format: 'idx' })).rejects.toThrow(/IDX data sets are read from a folder/);
  });
});
