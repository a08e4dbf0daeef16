/**
 * Adapter initialisations that start from the base weight, and what they imply, in
 * float64 on the host (PyTorch orientation: W0 [out, in], A [r, in], B [out, r]):
 *
 * - PiSSA (PEFT `init_lora_weights="pissa"`): W0 = U·S·Vᵀ; B = U_r·√(S_r/s),
 *   A = √(S_r/s)·V_rᵀ, so s·B·A = U_r·S_r·V_rᵀ, the principal rank-r part.
 * - OLoRA (`"olora"`): W0 = Q·R; B = Q_r, A = R_r (the first r columns of Q, rows of R).
 *
 * Both then train against the residual W0 − s·B0·A0 (so at step 0 the adapted model is
 * the base), and are stored relative to the original base by PEFT's conversion:
 * A' = [A; A0], B' = [B | −B0], rank 2r, so s·B'·A' = s·(B·A − B0·A0).
 */
import { type LinearOperator, type LowRank, type Matrix, matmul, matrix, qr, transpose, truncatedSvdOfProduct, jacobiSvd } from '../weights/linalg.ts';
import type { Rng } from '../util/rng.ts';
import type { Factors } from './delta.ts';

/**
 * PiSSA's truncated SVD. A layer whose smaller side is at most EXACT_SIDE gets a sketch
 * of its whole range, which is exact (to the products' rounding) in one round. A larger
 * one gets randomized subspace iteration (Halko et al.; PEFT's `pissa_niter_N` is the
 * same idea with a fixed count) until every one of the r singular triplets has
 * ‖W0·v_j − σ_j·u_j‖ ≤ tolerance·σ_1, checked every round, at most MAX_ROUNDS rounds:
 * a trained layer's leading singular values stand apart and converge in a few rounds;
 * a flat spectrum (a freshly initialised layer) converges slowly, and there the top-r
 * subspace is barely defined anyway.
 */
export const EXACT_SIDE = 256;
const OVERSAMPLE = 10;
export const PISSA_MAX_ROUNDS = 60;

export interface PissaResult extends Factors<Matrix> {
  /** Subspace-iteration rounds taken (0: exact sketch). */
  rounds: number;
  /** max_j ‖W0·v_j − σ_j·u_j‖ / σ_1 reached (0 for the exact sketch). */
  residual: number;
}

/** The rank-r SVD of W0 as B = U_r·S_r [out, r] and A = V_rᵀ [r, in] (see above). */
export function topSvd(W0: LinearOperator, r: number, rng: Rng, tolerance: number): { svd: LowRank; rounds: number; residual: number } {
  const full = Math.min(W0.rows, W0.cols);
  const l = full <= EXACT_SIDE ? full : Math.min(r + OVERSAMPLE, full);
  const omega = matrix(W0.cols, l);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  let Q = qr(W0.mul(omega)).Q; // [out, l]
  for (let rounds = 0; ; rounds++) {
    const svd = truncatedSvdOfProduct(Q, transpose(W0.mulT(Q)), r); // Rayleigh–Ritz: Q·(Qᵀ·W0)
    if (l === full) return { svd, rounds, residual: 0 }; // Q spans W0's whole range
    const WV = W0.mul(transpose(svd.A)); // W0·v_j [out, r]
    let worst = 0;
    for (let j = 0; j < r; j++) {
      let sq = 0;
      for (let o = 0; o < W0.rows; o++) sq += ((WV.data[o * r + j] as number) - (svd.B.data[o * r + j] as number)) ** 2;
      worst = Math.max(worst, Math.sqrt(sq));
    }
    const residual = worst / ((svd.S[0] as number) || 1);
    if (residual <= tolerance || rounds >= PISSA_MAX_ROUNDS) return { svd, rounds, residual };
    Q = qr(W0.mul(qr(W0.mulT(Q)).Q)).Q;
  }
}

/** PiSSA's B0 and A0 for W0 [out, in] (given by its products) at rank r and scaling s. */
export function pissaFactors(W0: LinearOperator, r: number, scaling: number, rng: Rng, tolerance = 1e-9): PissaResult {
  const { svd, rounds, residual } = topSvd(W0, r, rng, tolerance);
  // svd.B = U_r·S_r [out, r], svd.A = V_rᵀ [r, in]
  const B = matrix(W0.rows, r);
  const A = matrix(r, W0.cols);
  for (let j = 0; j < r; j++) {
    const sigma = svd.S[j] ?? 0;
    if (!(sigma > 0)) continue; // rank-deficient W0: that direction stays zero
    const bScale = 1 / Math.sqrt(sigma * scaling); // U_j·√(σ_j/s) = (U_j·σ_j)/√(σ_j·s)
    const aScale = Math.sqrt(sigma / scaling);
    for (let o = 0; o < W0.rows; o++) B.data[o * r + j] = (svd.B.data[o * r + j] as number) * bScale;
    for (let i = 0; i < W0.cols; i++) A.data[j * W0.cols + i] = (svd.A.data[j * W0.cols + i] as number) * aScale;
  }
  return { A, B, rounds, residual };
}

/** W0 as an operator multiplied on the host (tests, and where no faster multiply is at hand). */
export const hostOperator = (W0: Matrix): LinearOperator => {
  const t = transpose(W0);
  return { rows: W0.rows, cols: W0.cols, mul: (x) => matmul(W0, x), mulT: (y) => matmul(t, y) };
};


/**
 * OLoRA's B0 = Q_r [out, r] and A0 = R_r [r, in] = Q_rᵀ·W0, from W0's first r columns
 * `first` [out, r] (all Q_r depends on) and W0's products.
 */
export function oloraFactors(first: Matrix, W0: LinearOperator): Factors<Matrix> {
  const Q = qr(first).Q; // [out, r]
  return { B: Q, A: transpose(W0.mulT(Q)) };
}

/** PEFT's conversion of a PiSSA/OLoRA adapter to the original base: A' = [A; A0], B' = [B | −B0]. */
export function toOriginalBase(trained: Factors<Matrix>, initial: Factors<Matrix>): Factors<Matrix> {
  const r = trained.A.rows;
  const [inF, outF] = [trained.A.cols, trained.B.rows];
  const A = matrix(2 * r, inF);
  A.data.set(trained.A.data, 0);
  A.data.set(initial.A.data, r * inF);
  const B = matrix(outF, 2 * r);
  for (let o = 0; o < outF; o++) {
    for (let k = 0; k < r; k++) {
      B.data[o * 2 * r + k] = trained.B.data[o * r + k] as number;
      B.data[o * 2 * r + r + k] = -(initial.B.data[o * r + k] as number);
    }
  }
  return { A, B };
}

/** The alpha that keeps the scaling when the rank doubles (PEFT: ×2, or ×√2 with rsLoRA). */
export function convertedAlpha(alpha: number, rule: 'standard' | 'rslora'): number {
  return rule === 'rslora' ? alpha * Math.SQRT2 : alpha * 2;
}

/** δ PEFT's LoraFAOptimizer adds to A·Aᵀ before the pseudo-inverse. */
const LORA_FA_DELTA = 1e-8;

/**
 * LoRA-FA's projection of B's gradient (PEFT's LoraFAOptimizer): g_B ← g_B·P with
 * P = (1/s²)·pinv(A·Aᵀ + δI) [r, r], constant while A is frozen. The pseudo-inverse of
 * this symmetric matrix comes from its SVD, with NumPy/PyTorch's cut-off for tiny
 * singular values (r·ε·σ_max).
 */
export function loraFaProjection(A: Matrix, scaling: number): Matrix {
  const r = A.rows;
  const gram = matmul(A, transpose(A)); // [r, r]
  for (let k = 0; k < r; k++) gram.data[k * r + k] = (gram.data[k * r + k] as number) + LORA_FA_DELTA;
  const { U, S, V } = jacobiSvd(gram);
  const cutoff = r * 2.220446049250313e-16 * (S[0] ?? 0);
  const P = matrix(r, r);
  for (let j = 0; j < S.length; j++) {
    const sj = S[j] as number;
    if (!(sj > cutoff)) continue;
    for (let a = 0; a < r; a++) for (let b = 0; b < r; b++) P.data[a * r + b] = (P.data[a * r + b] as number) + ((V.data[a * S.length + j] as number) * (U.data[b * S.length + j] as number)) / sj;
  }
  const f = 1 / (scaling * scaling);
  for (let i = 0; i < P.data.length; i++) P.data[i] = (P.data[i] as number) * f;
  return P;
}
