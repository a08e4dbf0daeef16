/**
 * Intruder dimensions (src-main/adapters/intruders.ts) against the authors' recipe done
 * densely: W' = W0 + ΔW formed, both SVDs by Jacobi, max_j |u'_iᵀ·u0_j| per direction.
 */
import { describe, expect, it } from 'vitest';
import { randn } from '../helpers/matrices.ts';
import { INTRUDER_DEFAULTS, baseSpectrum, denseIntruders, lowRankIntruders } from '../../src-main/adapters/intruders.ts';
import { type Matrix, jacobiSvd, matmul, matrix, transpose } from '../../src-main/weights/linalg.ts';

/** The reference: per top-k direction of W', its σ and its largest |cosine| with W0's left singular vectors. */
function reference(W0: Matrix, W1: Matrix, k: number) {
  const base = jacobiSvd(W0);
  const tuned = jacobiSvd(W1);
  const m = base.S.length;
  const sigma: number[] = [];
  const maxCosine: number[] = [];
  for (let i = 0; i < k; i++) {
    let best = 0;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let r = 0; r < W0.rows; r++) dot += (tuned.U.data[r * tuned.U.cols + i] as number) * (base.U.data[r * m + j] as number);
      best = Math.max(best, Math.abs(dot));
    }
    sigma.push(tuned.S[i] as number);
    maxCosine.push(best);
  }
  return { sigma, maxCosine };
}

const plus = (a: Matrix, b: Matrix) => matrix(a.rows, a.cols, a.data.map((x, i) => x + (b.data[i] as number)));

/** A unit vector mixing every left singular direction of W0 equally (no single cosine above 1/√m). */
function spread(W0: Matrix): Matrix {
  const { U } = jacobiSvd(W0);
  const u = matrix(W0.rows, 1);
  for (let i = 0; i < W0.rows; i++) for (let j = 0; j < U.cols; j++) u.data[i] = (u.data[i] as number) + (j % 2 ? -1 : 1) * (U.data[i * U.cols + j] as number);
  const n = Math.hypot(...u.data);
  return matrix(W0.rows, 1, u.data.map((x) => x / n));
}

describe('baseSpectrum', () => {
  for (const [out, inF] of [
    [18, 30],
    [30, 18],
  ] as const) {
    it(`gives W0's singular values and left vectors ([${out}, ${inF}])`, () => {
      const W0 = randn(out, inF, out);
      const ref = jacobiSvd(W0);
      const got = baseSpectrum(W0);
      expect(got.S.length).toBe(Math.min(out, inF));
      for (let j = 0; j < got.S.length; j++) {
        expect(Math.abs((got.S[j] as number) - (ref.S[j] as number)) / (ref.S[0] as number)).toBeLessThan(1e-10);
        let dot = 0;
        for (let i = 0; i < out; i++) dot += (got.U.data[i * got.U.cols + j] as number) * (ref.U.data[i * ref.U.cols + j] as number);
        expect(Math.abs(dot)).toBeCloseTo(1, 8);
      }
    });
  }

  it('leaves out directions W0 does not act along', () => {
    const W0 = matmul(randn(20, 3, 1), randn(3, 12, 2)); // rank 3
    expect(baseSpectrum(W0).S.length).toBe(3);
  });
});

describe('lowRankIntruders', () => {
  for (const [out, inF, r] of [
    [24, 40, 3],
    [40, 24, 4],
  ] as const) {
    it(`matches the dense recipe for W0 + s·B·A ([${out}, ${inF}], r = ${r})`, () => {
      const W0 = randn(out, inF, 7);
      const P = matrix(out, r, randn(out, r, 8).data.map((x) => 0.6 * x)); // s·B
      const Q = randn(inF, r, 9); // Aᵀ
      const W1 = plus(W0, matmul(P, transpose(Q)));
      const k = 10;
      const ref = reference(W0, W1, k);
      const got = lowRankIntruders(baseSpectrum(W0), P, Q, k, 0.5);
      expect(got.k).toBe(k);
      for (let i = 0; i < k; i++) {
        expect(Math.abs((got.sigma[i] as number) - (ref.sigma[i] as number)) / (ref.sigma[0] as number)).toBeLessThan(1e-8);
        expect(got.maxCosine[i]).toBeCloseTo(ref.maxCosine[i] as number, 6);
      }
      expect(got.count).toBe(ref.maxCosine.filter((c) => c < 0.5).length);
    });
  }

  it('matches the dense recipe when P lies almost inside span(U0) (one projection is enough)', () => {
    const W0 = randn(40, 24, 13); // U0 spans 24 of 40 dimensions
    const { U } = jacobiSvd(W0);
    const inside = matmul(U, randn(24, 3, 14)); // [40, 3] in span(U0)
    const outside = randn(40, 3, 15);
    const proj = matmul(U, matmul(transpose(U), outside));
    const P = matrix(40, 3, inside.data.map((x, i) => 0.5 * x + 1e-7 * ((outside.data[i] as number) - (proj.data[i] as number))));
    const Q = randn(24, 3, 16);
    const ref = reference(W0, plus(W0, matmul(P, transpose(Q))), 10);
    const got = lowRankIntruders(baseSpectrum(W0), P, Q, 10, 0.5);
    for (let i = 0; i < 10; i++) {
      expect(Math.abs((got.sigma[i] as number) - (ref.sigma[i] as number)) / (ref.sigma[0] as number)).toBeLessThan(1e-8);
      expect(got.maxCosine[i]).toBeCloseTo(ref.maxCosine[i] as number, 6);
    }
  });

  it('counts a strong new direction outside W0’s range as an intruder, and none for a tiny update', () => {
    const W0 = randn(40, 24, 3); // U0 spans 24 of 40 dimensions
    const { U } = jacobiSvd(W0);
    // A direction orthogonal to every column of U0.
    const x = randn(40, 1, 4);
    const proj = matmul(U, matmul(transpose(U), x));
    const u = matrix(40, 1, x.data.map((v, i) => v - (proj.data[i] as number)));
    const norm = Math.hypot(...u.data);
    const sigma1 = jacobiSvd(W0).S[0] as number;
    const P = matrix(40, 1, u.data.map((v) => (2 * sigma1 * v) / norm));
    const Q = matrix(24, 1, randn(24, 1, 5).data.map((v, _, a) => v / Math.hypot(...a)));
    const big = lowRankIntruders(baseSpectrum(W0), P, Q, 10, INTRUDER_DEFAULTS.epsilon);
    const ref = reference(W0, plus(W0, matmul(P, transpose(Q))), 10);
    big.maxCosine.forEach((c, i) => expect(c).toBeCloseTo(ref.maxCosine[i] as number, 6));
    expect(big.maxCosine[0]).toBeLessThan(0.5); // the top direction of W' is mostly the new one
    expect(big.count).toBe(ref.maxCosine.filter((c) => c < 0.5).length);
    const tiny = lowRankIntruders(baseSpectrum(W0), matrix(40, 1, P.data.map((v) => v * 1e-6)), Q, 10, 0.5);
    expect(tiny.count).toBe(0);
    for (const c of tiny.maxCosine) expect(c).toBeGreaterThan(0.99);
  });

  it('finds an intruder inside a full-rank W0’s range: a direction mixing all of U0', () => {
    const W0 = randn(16, 30, 11); // out ≤ in: U0 is a complete basis
    const u = spread(W0); // |cos| = 1/4 with every u0_j
    const sigma1 = jacobiSvd(W0).S[0] as number;
    const P = matrix(16, 1, u.data.map((v) => 3 * sigma1 * v));
    const Q = matrix(30, 1, randn(30, 1, 12).data.map((v, _, a) => v / Math.hypot(...a)));
    const got = lowRankIntruders(baseSpectrum(W0), P, Q, 10, 0.5);
    const ref = reference(W0, plus(W0, matmul(P, transpose(Q))), 10);
    expect(got.count).toBe(ref.maxCosine.filter((c) => c < 0.5).length);
    expect(got.count).toBeGreaterThanOrEqual(1);
    expect(got.maxCosine[0]).toBeLessThan(0.5);
  });
});

describe('denseIntruders', () => {
  it('matches the dense recipe for any W′', () => {
    const W0 = randn(30, 22, 21);
    const W1 = plus(W0, matrix(30, 22, randn(30, 22, 22).data.map((x) => 0.8 * x)));
    const ref = reference(W0, W1, 10);
    const got = denseIntruders(W1, baseSpectrum(W0), 10, 0.5);
    for (let i = 0; i < 10; i++) {
      expect(Math.abs((got.sigma[i] as number) - (ref.sigma[i] as number)) / (ref.sigma[0] as number)).toBeLessThan(1e-10);
      expect(got.maxCosine[i]).toBeCloseTo(ref.maxCosine[i] as number, 8);
    }
    expect(got.count).toBe(ref.maxCosine.filter((c) => c < 0.5).length);
  });
});
