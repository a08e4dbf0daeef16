/**
 * Adapter geometry (src-main/adapters/geometry.ts) against plain dense computations:
 * ΔW formed explicitly and decomposed by Jacobi, ranks and φ by their definitions.
 */
import { describe, expect, it } from 'vitest';
import { frob, randn } from '../helpers/matrices.ts';
import { amplification, factorSvd, spectrumRanks, subspaceSimilarity } from '../../src-main/adapters/geometry.ts';
import { type Matrix, jacobiSvd, leadingColumns, matmul, matrix, qr, transpose } from '../../src-main/weights/linalg.ts';

const scaled = (m: Matrix, s: number) => matrix(m.rows, m.cols, m.data.map((x) => x * s));

describe('factorSvd', () => {
  it('gives the singular values and vectors of the dense ΔW = s·B·A', () => {
    const [out, inF, r, s] = [37, 29, 5, 0.7];
    const B = randn(out, r, 1);
    const A = randn(r, inF, 2);
    const dense = scaled(matmul(B, A), s);
    const ref = jacobiSvd(dense);
    const got = factorSvd(B, A, s);
    expect(got.S.length).toBe(r);
    for (let i = 0; i < r; i++) expect(Math.abs((got.S[i] as number) - (ref.S[i] as number)) / (ref.S[0] as number)).toBeLessThan(1e-12);
    for (let i = r; i < ref.S.length; i++) expect(ref.S[i] as number).toBeLessThan(1e-10 * (ref.S[0] as number));
    // U·Σ·Vᵀ rebuilds ΔW.
    const US = matrix(out, r, got.U.data.map((x, i) => x * (got.S[i % r] as number)));
    const rebuilt = matmul(US, transpose(got.V));
    let diff = 0;
    for (let i = 0; i < dense.data.length; i++) diff = Math.max(diff, Math.abs((rebuilt.data[i] as number) - (dense.data[i] as number)));
    expect(diff).toBeLessThan(1e-12 * frob(dense));
  });

  it('refuses factors that do not chain', () => {
    expect(() => factorSvd(randn(4, 2, 1), randn(3, 5, 2), 1)).toThrow(/do not chain/);
  });
});

describe('spectrumRanks', () => {
  it('follows the definitions', () => {
    const sigma = [4, 2, 1, 1];
    const sum = 8;
    const entropy = -sigma.reduce((a, x) => a + (x / sum) * Math.log(x / sum), 0);
    const got = spectrumRanks(sigma);
    expect(got.effectiveRank).toBeCloseTo(Math.exp(entropy), 12);
    expect(got.stableRank).toBeCloseTo(22 / 16, 12);
    expect(got.frobenius).toBeCloseTo(Math.sqrt(22), 12);
    // 16 of 22 is 72.7%, 20 of 22 is 90.9%: two values hold 90%.
    expect(got.rank90).toBe(2);
  });

  it('is rank 1 for one direction, r for r equal ones, 0 for nothing', () => {
    expect(spectrumRanks([3, 0, 0])).toMatchObject({ effectiveRank: 1, stableRank: 1, rank90: 1 });
    const flat = spectrumRanks([2, 2, 2, 2, 2]);
    expect(flat.effectiveRank).toBeCloseTo(5, 12);
    expect(flat.stableRank).toBeCloseTo(5, 12);
    expect(flat.rank90).toBe(5);
    expect(spectrumRanks([0, 0])).toEqual({ effectiveRank: 0, stableRank: 0, rank90: 0, frobenius: 0 });
  });
});

describe('amplification', () => {
  it('is ‖ΔW‖_F / ‖UᵀW0V‖_F with U, V from the dense SVD of ΔW', () => {
    const [out, inF, r] = [23, 19, 3];
    const W0 = randn(out, inF, 5);
    const B = randn(out, r, 6);
    const A = randn(r, inF, 7);
    const dense = matmul(B, A);
    const ref = jacobiSvd(dense);
    const U = leadingColumns(ref.U, r);
    const V = leadingColumns(ref.V, r);
    const expected = frob(dense) / frob(matmul(matmul(transpose(U), W0), V));
    const got = amplification(W0, factorSvd(B, A, 1), r);
    expect(got.rank).toBe(r);
    expect(Math.abs(got.factor - expected) / expected).toBeLessThan(1e-10);
  });
});

describe('subspaceSimilarity', () => {
  const norm = (m: Matrix) => frob(m) ** 2;

  it('matches ‖U₁ᵢᵀU₂ⱼ‖²_F / min(i, j) computed slice by slice', () => {
    const U1 = qr(randn(30, 6, 11)).Q;
    const U2 = qr(randn(30, 4, 12)).Q;
    const phi = subspaceSimilarity(U1, U2);
    expect(phi.length).toBe(6);
    expect(phi[0]!.length).toBe(4);
    for (let i = 1; i <= 6; i++) {
      for (let j = 1; j <= 4; j++) {
        const expected = norm(matmul(transpose(leadingColumns(U1, i)), leadingColumns(U2, j))) / Math.min(i, j);
        expect(phi[i - 1]![j - 1]).toBeCloseTo(expected, 12);
        expect(phi[i - 1]![j - 1]).toBeGreaterThanOrEqual(0);
        expect(phi[i - 1]![j - 1]).toBeLessThanOrEqual(1 + 1e-12);
      }
    }
  });

  it('is 1 where one subspace holds the other and 0 for orthogonal ones', () => {
    const Q = qr(randn(20, 8, 13)).Q;
    const first = leadingColumns(Q, 5);
    const self = subspaceSimilarity(first, first);
    for (let i = 0; i < 5; i++) expect(self[i]![i]).toBeCloseTo(1, 12);
    const rest = matrix(20, 3);
    for (let i = 0; i < 20; i++) for (let j = 0; j < 3; j++) rest.data[i * 3 + j] = Q.data[i * 8 + 5 + j] as number;
    for (const row of subspaceSimilarity(first, rest)) for (const x of row) expect(Math.abs(x)).toBeLessThan(1e-12);
  });
});
