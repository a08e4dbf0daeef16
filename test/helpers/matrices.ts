/** Seeded Gaussian matrices and norms for the linear-algebra tests. */
import { type Matrix, matrix } from '../../src-main/weights/linalg.ts';
import { Rng } from '../../src-main/util/rng.ts';

export const randn = (rows: number, cols: number, seed: number): Matrix => {
  const rng = new Rng(seed);
  return matrix(rows, cols, Array.from({ length: rows * cols }, () => rng.normal()));
};

export const frob = (a: Matrix): number => Math.sqrt(a.data.reduce((s, x) => s + x * x, 0));
