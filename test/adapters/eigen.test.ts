import { describe, expect, it } from 'vitest';
import { randn } from '../helpers/matrices.ts';
import { symmetricEigen } from '../../src-main/adapters/eigen.ts';
import { type Matrix, jacobiSvd, matmul, matrix, transpose } from '../../src-main/weights/linalg.ts';


describe('symmetricEigen', () => {
  for (const n of [1, 2, 3, 17, 60]) {
    it(`decomposes a ${n}×${n} Gram matrix: A·v = λ·v, V orthonormal, λ = σ² of Jacobi's SVD`, () => {
      const X = randn(n + 5, n, n);
      const G = matmul(transpose(X), X); // [n, n], symmetric positive definite
      const { values, vectors } = symmetricEigen(G);
      const sigma = jacobiSvd(X).S;
      const top = values[0] as number;
      for (let i = 0; i < n; i++) {
        expect(Math.abs((values[i] as number) - (sigma[i] as number) ** 2) / top).toBeLessThan(1e-12);
        if (i > 0) expect(values[i] as number).toBeLessThanOrEqual(values[i - 1] as number);
      }
      const AV = matmul(G, vectors);
      const VtV = matmul(transpose(vectors), vectors);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          expect(Math.abs((AV.data[r * n + c] as number) - (values[c] as number) * (vectors.data[r * n + c] as number)) / top).toBeLessThan(1e-12);
          expect(Math.abs((VtV.data[r * n + c] as number) - (r === c ? 1 : 0))).toBeLessThan(1e-12);
        }
      }
    });
  }

  it('handles repeated and negative eigenvalues (an indefinite diagonal block)', () => {
    const D = matrix(4, 4, [2, 0, 0, 0, 0, -3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]);
    expect(Array.from(symmetricEigen(D).values)).toEqual([2, 2, 0, -3]);
  });

  it('refuses a matrix that is not square, or one with non-finite values', () => {
    expect(() => symmetricEigen(matrix(2, 3))).toThrow(/square/);
    expect(() => symmetricEigen(matrix(2, 2, [1, Number.NaN, Number.NaN, 1]))).toThrow(/non-finite/);
  });

  it('decomposes a Gram matrix whose null space is only nearly zero (rows of ~1e-155: entries near underflow)', () => {
    // Dead units leave rows of a trained weight at (almost) nothing; their Gram block is
    // denormal.
    const M = randn(30, 12, 5);
    for (let i = 5; i < 30; i++) for (let j = 0; j < 12; j++) M.data[i * 12 + j] = (M.data[i * 12 + j] as number) * 1e-155;
    const G = matmul(M, transpose(M)); // [30, 30], rank 12, a block of ~1e-310
    const { values, vectors } = symmetricEigen(G);
    const top = values[0] as number;
    for (let j = 0; j < 30; j++) {
      let worst = 0;
      for (let i = 0; i < 30; i++) {
        let av = 0;
        for (let k = 0; k < 30; k++) av += (G.data[i * 30 + k] as number) * (vectors.data[k * 30 + j] as number);
        worst = Math.max(worst, Math.abs(av - (values[j] as number) * (vectors.data[i * 30 + j] as number)));
      }
      expect(worst).toBeLessThan(1e-12 * top);
    }
    expect(values.filter((v) => v > 1e-10 * top)).toHaveLength(5); // the five ordinary rows
  });

  for (const [seed, n, k, tiny] of [
    [2, 8, 4, 1e-310],
    [3, 9, 2, 1e-315],
    [4, 10, 3, 1e-320],
  ] as const) {
    it(`converges on a block of subnormal entries beside an ordinary one (n = ${n}, entries ~${tiny})`, () => {
      // Both diagonal neighbours of a subnormal off-diagonal are ~0, so the relative split
      // test |e| ≤ ε·(|d_i| + |d_i+1|) never holds; rounding in the subnormal range keeps e
      // from reaching 0 exactly, and QL did not converge here before the ε·‖T‖ split.
      const R = randn(n, n, seed);
      const A = matrix(n, n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          const v = (R.data[i * n + j] as number) * (i < k && j < k ? 1 : i >= k && j >= k ? tiny : 0);
          A.data[i * n + j] = A.data[j * n + i] = v;
        }
      }
      const { values, vectors } = symmetricEigen(A);
      const top = Math.max(...Array.from(values, Math.abs));
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          let av = 0;
          for (let c = 0; c < n; c++) av += (A.data[i * n + c] as number) * (vectors.data[c * n + j] as number);
          expect(Math.abs(av - (values[j] as number) * (vectors.data[i * n + j] as number))).toBeLessThan(1e-13 * top);
        }
      }
      expect(values.filter((v) => Math.abs(v) > 1e-100)).toHaveLength(k); // the ordinary block's
    });
  }
});
