import { describe, expect, it } from 'vitest';
import { frob, randn } from '../helpers/matrices.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { type Matrix, jacobiSvd, matmul, matmulTN, matrix, qr, randomizedSvd, transpose, truncatedSvdOfProduct } from '../../src-main/weights/linalg.ts';


function maxDiff(a: Matrix, b: Matrix): number {
  expect([a.rows, a.cols]).toEqual([b.rows, b.cols]);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return m;
}

const sub = (a: Matrix, b: Matrix) => matrix(a.rows, a.cols, a.data.map((x, i) => x - (b.data[i] as number)));
const identity = (n: number) => matrix(n, n, Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)));

/** U·diag(σ)·Vᵀ with random orthonormal U, V: a matrix whose SVD is known by construction. */
function withSpectrum(rows: number, cols: number, sigma: number[], seed: number): { M: Matrix; U: Matrix; V: Matrix } {
  const U = qr(randn(rows, sigma.length, seed)).Q;
  const V = qr(randn(cols, sigma.length, seed + 1)).Q;
  const US = matrix(rows, sigma.length, U.data.map((x, i) => x * (sigma[i % sigma.length] as number)));
  return { M: matmul(US, transpose(V)), U, V };
}

/** Best rank-k approximation from the known construction (Eckart–Young). */
function bestRankK(U: Matrix, V: Matrix, sigma: number[], k: number): Matrix {
  const Uk = matrix(U.rows, k, Array.from({ length: U.rows * k }, (_, i) => (U.data[Math.floor(i / k) * U.cols + (i % k)] as number) * (sigma[i % k] as number)));
  const Vk = matrix(V.rows, k, Array.from({ length: V.rows * k }, (_, i) => V.data[Math.floor(i / k) * V.cols + (i % k)] as number));
  return matmul(Uk, transpose(Vk));
}

describe('matmulTN', () => {
  it('gives aᵀ·b as a plain triple loop does, zeros in a included', () => {
    const a = randn(7, 5, 1);
    a.data[3] = 0;
    const b = randn(7, 4, 2);
    const ref = matrix(5, 4);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) for (let p = 0; p < 7; p++) ref.data[i * 4 + j] = (ref.data[i * 4 + j] as number) + (a.data[p * 5 + i] as number) * (b.data[p * 4 + j] as number);
    expect(maxDiff(matmulTN(a, b), ref)).toBe(0);
    expect(maxDiff(matmulTN(a, b), matmul(transpose(a), b))).toBe(0);
    expect(() => matmulTN(a, randn(6, 4, 3))).toThrow(/cannot multiply/);
  });
});

describe('Householder QR', () => {
  for (const [m, n, what] of [[50, 7, 'tall'], [5, 9, 'wide'], [6, 6, 'square']] as const) {
    it(`${what} [${m}, ${n}]: Q orthonormal, Q·R = A, R upper triangular`, () => {
      const A = randn(m, n, m * n);
      const { Q, R } = qr(A);
      const p = Math.min(m, n);
      expect(maxDiff(matmul(transpose(Q), Q), identity(p))).toBeLessThan(1e-12);
      expect(maxDiff(matmul(Q, R), A)).toBeLessThan(1e-12);
      for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) expect(R.data[i * n + j]).toBe(0);
    });
  }

  it('stays orthonormal for rank-deficient input (zero and repeated columns)', () => {
    const A = randn(20, 4, 3);
    for (let i = 0; i < 20; i++) {
      A.data[i * 4 + 1] = 0;
      A.data[i * 4 + 3] = A.data[i * 4] as number;
    }
    const { Q, R } = qr(A);
    expect(maxDiff(matmul(transpose(Q), Q), identity(4))).toBeLessThan(1e-12);
    expect(maxDiff(matmul(Q, R), A)).toBeLessThan(1e-12);
    expect(maxDiff(qr(matrix(7, 3)).Q, qr(matrix(7, 3)).Q)).toBe(0);
  });
});

describe('Jacobi SVD', () => {
  for (const [m, n] of [[8, 8], [10, 4], [4, 10]] as const) {
    it(`[${m}, ${n}]: U·Σ·Vᵀ = A, descending Σ, orthonormal factors`, () => {
      const A = randn(m, n, 7 + m);
      const { U, S, V } = jacobiSvd(A);
      const p = S.length;
      expect(p).toBe(Math.min(m, n));
      for (let i = 1; i < p; i++) expect(S[i]).toBeLessThanOrEqual(S[i - 1] as number);
      const US = matrix(m, p, U.data.map((x, i) => x * (S[i % p] as number)));
      expect(maxDiff(matmul(US, transpose(V)), A)).toBeLessThan(1e-12);
      expect(maxDiff(matmul(transpose(U), U), identity(p))).toBeLessThan(1e-12);
      expect(maxDiff(matmul(transpose(V), V), identity(p))).toBeLessThan(1e-12);
    });
  }

  it('recovers a known spectrum', () => {
    const sigma = [9, 4, 2.5, 1, 0.1];
    const { S } = jacobiSvd(withSpectrum(12, 9, sigma, 5).M);
    sigma.forEach((x, i) => expect(Math.abs((S[i] as number) - x)).toBeLessThan(1e-12));
    expect(Math.max(...S.subarray(5))).toBeLessThan(1e-12);
  });
});

describe('truncated SVD of a product of factors', () => {
  it('is the best rank-k approximation (against a matrix of known spectrum)', () => {
    const sigma = [10, 7, 5, 3, 2, 1];
    const { M, U, V } = withSpectrum(60, 40, sigma, 21);
    // Factors unrelated to the SVD: F = U·X, G = X⁻¹·Σ·Vᵀ for a random mixing X.
    const X = randn(6, 6, 2); // [6, 6]
    const F = matmul(U, X); // [60, 6]
    const Sigma = matrix(6, 6, Array.from({ length: 36 }, (_, i) => (i % 7 === 0 ? (sigma[i / 7] as number) : 0)));
    const G = matmul(jacobiInverse(X), matmul(Sigma, transpose(V))); // [6, 40]
    expect(maxDiff(matmul(F, G), M)).toBeLessThan(1e-10);
    for (const k of [1, 3, 5, 6]) {
      const lr = truncatedSvdOfProduct(F, G, k);
      expect([lr.B.rows, lr.B.cols, lr.A.rows, lr.A.cols]).toEqual([60, k, k, 40]);
      expect(maxDiff(matmul(lr.B, lr.A), bestRankK(U, V, sigma, k))).toBeLessThan(1e-10);
      // Eckart–Young: the error is exactly the dropped singular values.
      const dropped = Math.sqrt(sigma.slice(k).reduce((s, x) => s + x * x, 0));
      expect(Math.abs(frob(sub(M, matmul(lr.B, lr.A))) - dropped)).toBeLessThan(1e-10);
    }
    const padded = truncatedSvdOfProduct(F, G, 9);
    expect(padded.B.cols).toBe(9);
    expect(maxDiff(matmul(padded.B, padded.A), M)).toBeLessThan(1e-10);
  });
});

/** Inverse of a small well-conditioned matrix through its SVD (test helper). */
function jacobiInverse(X: Matrix): Matrix {
  const { U, S, V } = jacobiSvd(X);
  const n = S.length;
  const VSinv = matrix(n, n, V.data.map((x, i) => x / (S[i % n] as number)));
  return matmul(VSinv, transpose(U));
}

describe('randomized SVD of a full matrix', () => {
  const sigma = Array.from({ length: 40 }, (_, j) => 0.75 ** j);
  const { M, U, V } = withSpectrum(300, 200, sigma, 33);

  it('is within 1e-6 of the optimal rank-k error, and reproducible by seed', () => {
    for (const k of [1, 4, 8]) {
      const lr = randomizedSvd(M, k, new Rng(1));
      const optimal = Math.sqrt(sigma.slice(k).reduce((s, x) => s + x * x, 0));
      const err = frob(sub(M, matmul(lr.B, lr.A)));
      expect(err).toBeGreaterThanOrEqual(optimal * (1 - 1e-12));
      expect(err / optimal - 1).toBeLessThan(1e-6);
      expect(maxDiff(matmul(lr.B, lr.A), bestRankK(U, V, sigma, k))).toBeLessThan(1e-6);
    }
    const a = randomizedSvd(M, 4, new Rng(9));
    const b = randomizedSvd(M, 4, new Rng(9));
    expect(maxDiff(a.B, b.B)).toBe(0);
    expect(maxDiff(a.A, b.A)).toBe(0);
  });

  it('is exact when the sample covers the whole range', () => {
    const W = randn(12, 30, 4);
    const lr = randomizedSvd(W, 12, new Rng(2));
    expect(maxDiff(matmul(lr.B, lr.A), W)).toBeLessThan(1e-10);
  });
});
