/**
 * Stored data sets are shuffled in place (data/dataset.ts shuffleRows): the result is the
 * same seeded permutation a plain copy would give, rows keep their labels, and a set
 * imported in class order no longer puts one class first in its test split.
 */
import { describe, expect, it } from 'vitest';
import { type DataSplit, shuffleRows } from '../../src-main/data/dataset.ts';
import { Rng } from '../../src-main/util/rng.ts';

function split(n: number, width: number, float: boolean): DataSplit {
  const x = float ? new Float32Array(n * width) : new Uint8Array(n * width);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor((i * 5) / n); // class order: 0 0 … 1 1 … 4
    for (let p = 0; p < width; p++) x[i * width + p] = (i * 7 + p) % (float ? 1000 : 256);
  }
  return { x, labels, count: n };
}

describe('shuffleRows', () => {
  for (const float of [false, true]) {
    it(`moves whole rows with their labels to the seeded order (${float ? 'float32' : 'uint8'})`, () => {
      const s = split(101, 3, float);
      const before = split(101, 3, float);
      shuffleRows(s, 3, 7);
      const order = new Rng(7).shuffle(Uint32Array.from({ length: 101 }, (_, i) => i));
      for (let i = 0; i < 101; i++) {
        const from = order[i]!;
        expect(s.labels[i]).toBe(before.labels[from]);
        expect(Array.from(s.x.subarray(i * 3, i * 3 + 3))).toEqual(Array.from(before.x.subarray(from * 3, from * 3 + 3)));
      }
    });
  }

  it('spreads a class-ordered split: its first 20 rows hold every class; another seed, another order', () => {
    const a = split(500, 2, false);
    shuffleRows(a, 2, 0);
    expect(new Set(a.labels.subarray(0, 20)).size).toBe(5);
    const b = split(500, 2, false);
    shuffleRows(b, 2, 1);
    expect(Array.from(b.labels)).not.toEqual(Array.from(a.labels));
  });
});
