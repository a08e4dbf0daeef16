/**
 * A seeded, stratified train/test split for sources that come without one. Each class
 * holds out round(n · fraction) of its samples (at least one stays in train), chosen by
 * one Rng(seed) shuffling the classes' indices in class order, so a seed gives the same
 * split on any machine. The rows are reordered in place (train first, then test, each in
 * file order) and both splits are views of that one buffer: no second copy of x.
 */
import type { DataSplit } from '../dataset.ts';
import { Rng } from '../../util/rng.ts';
import { DataImportError } from './errors.ts';

export const DEFAULT_TEST_FRACTION = 0.2;
export const DEFAULT_SEED = 0;

export interface SplitOptions {
  testFraction?: number | undefined;
  seed?: number | undefined;
}

export interface SplitRule {
  testFraction: number;
  seed: number;
}

export function splitRule(opts: SplitOptions): SplitRule {
  const testFraction = opts.testFraction ?? DEFAULT_TEST_FRACTION;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isFinite(testFraction) || testFraction <= 0 || testFraction >= 1) {
    throw new DataImportError(`test fraction must be between 0 and 1 (exclusive), got ${testFraction}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new DataImportError(`seed must be an integer from 0 to 4294967295, got ${seed}`);
  }
  return { testFraction, seed };
}

/** Split `all` ([count, rowSize] samples, labels < classes) per class; `all.x` is reordered in place. */
export function stratifiedSplit(all: DataSplit, rowSize: number, classes: number, rule: SplitRule, what: string): { train: DataSplit; test: DataSplit } {
  const { x, labels, count } = all;
  // Indices grouped by class (a counting sort keeps file order within a class).
  const start = new Uint32Array(classes + 1);
  for (let i = 0; i < count; i++) start[(labels[i] as number) + 1]! += 1;
  for (let c = 0; c < classes; c++) start[c + 1]! += start[c] as number;
  const byClass = new Uint32Array(count);
  const fill = start.slice(0, classes);
  for (let i = 0; i < count; i++) byClass[fill[labels[i] as number]!++] = i;

  const rng = new Rng(rule.seed);
  const isTest = new Uint8Array(count);
  let nTest = 0;
  for (let c = 0; c < classes; c++) {
    const members = byClass.subarray(start[c], start[c + 1]);
    const n = members.length;
    const take = Math.min(Math.round(n * rule.testFraction), Math.max(0, n - 1));
    rng.shuffle(members);
    for (let k = 0; k < take; k++) isTest[members[k] as number] = 1;
    nTest += take;
  }
  if (nTest === 0) {
    throw new DataImportError(`${what}: ${count} samples are too few to hold out ${rule.testFraction} of each class; give a test set or a larger test fraction`);
  }
  const nTrain = count - nTest;
  // perm[newPosition] = old index: train rows in file order, then test rows in file order.
  const perm = new Uint32Array(count);
  let a = 0;
  let b = nTrain;
  for (let i = 0; i < count; i++) perm[isTest[i] ? b++ : a++] = i;
  permuteRows(x, rowSize, perm);
  const newLabels = new Uint8Array(count);
  for (let i = 0; i < count; i++) newLabels[i] = labels[perm[i] as number] as number;
  return {
    train: { x: x.subarray(0, nTrain * rowSize), labels: newLabels.subarray(0, nTrain), count: nTrain },
    test: { x: x.subarray(nTrain * rowSize, count * rowSize), labels: newLabels.subarray(nTrain), count: nTest },
  };
}

/** Reorder rows in place so that row j becomes old row perm[j] (cycle by cycle, one row of scratch). */
export function permuteRows(x: Uint8Array | Float32Array, rowSize: number, perm: Uint32Array): void {
  const n = perm.length;
  const done = new Uint8Array(n);
  const tmp = x.slice(0, rowSize); // scratch of the same type
  for (let i = 0; i < n; i++) {
    if (done[i] || perm[i] === i) continue;
    tmp.set(x.subarray(i * rowSize, (i + 1) * rowSize));
    let j = i;
    for (;;) {
      done[j] = 1;
      const k = perm[j] as number;
      if (k === i) {
        x.set(tmp, j * rowSize);
        break;
      }
      x.copyWithin(j * rowSize, k * rowSize, (k + 1) * rowSize);
      j = k;
    }
  }
}
