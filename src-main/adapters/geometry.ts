/**
 * What an adapter's update looks like as a matrix (issue 16, docs/math.md): the
 * spectrum of ΔW = s·B·A taken from the rank-r factors, the ranks that summarise it,
 * the LoRA paper's amplification factor (§7.3) and its subspace similarity φ
 * (Figures 3–4). Plain float64 host math, no tfjs: the same figures the tests
 * recompute densely.
 */
import { type Matrix, type Svd, jacobiSvd, leadingColumns, matmul, qr, transpose } from '../weights/linalg.ts';

/**
 * SVD of ΔW = s·B·A [out, in] without forming it: B = Q_B·R_B, Aᵀ = Q_A·R_A, so
 * ΔW = Q_B·(s·R_B·R_Aᵀ)·Q_Aᵀ and the r×r core's SVD U_c·Σ·V_cᵀ gives
 * ΔW = (Q_B·U_c)·Σ·(Q_A·V_c)ᵀ. Cost O((out + in)·r²), against O(out·in·min) dense.
 */
export function factorSvd(B: Matrix, A: Matrix, scale: number): Svd {
  if (B.cols !== A.rows) throw new RangeError(`B [${B.rows}, ${B.cols}] and A [${A.rows}, ${A.cols}] do not chain`);
  const { Q: QB, R: RB } = qr(B); // [out, r], [r, r]
  const { Q: QA, R: RA } = qr(transpose(A)); // [in, r], [r, r]
  const core = matmul(RB, transpose(RA)); // [r, r]
  for (let i = 0; i < core.data.length; i++) core.data[i] = (core.data[i] as number) * scale;
  const c = jacobiSvd(core);
  return { U: matmul(QB, c.U), S: c.S, V: matmul(QA, c.V) }; // [out, q], [q], [in, q]
}

export interface SpectrumRanks {
  /** exp(−Σ pᵢ ln pᵢ), pᵢ = σᵢ / Σσ (Roy & Vetterli). 0 for a zero update. */
  effectiveRank: number;
  /** ‖ΔW‖²_F / ‖ΔW‖²₂ = Σσᵢ² / σ₁². 0 for a zero update. */
  stableRank: number;
  /** The fewest leading singular values holding 90% of Σσᵢ² (0 for a zero update). */
  rank90: number;
  /** ‖ΔW‖_F = √Σσᵢ². */
  frobenius: number;
}

export function spectrumRanks(sigma: ArrayLike<number>): SpectrumRanks {
  const s = Array.from(sigma, (x) => Math.max(0, x)).sort((a, b) => b - a);
  const sum = s.reduce((a, x) => a + x, 0);
  const energy = s.reduce((a, x) => a + x * x, 0);
  if (!(sum > 0)) return { effectiveRank: 0, stableRank: 0, rank90: 0, frobenius: 0 };
  let entropy = 0;
  for (const x of s) if (x > 0) entropy -= (x / sum) * Math.log(x / sum);
  let rank90 = 0;
  for (let acc = 0; rank90 < s.length && acc < 0.9 * energy; rank90++) acc += (s[rank90] as number) ** 2;
  return { effectiveRank: Math.exp(entropy), stableRank: energy / (s[0] as number) ** 2, rank90, frobenius: Math.sqrt(energy) };
}

/**
 * The LoRA paper's amplification factor (§7.3): ‖ΔW‖_F / ‖Uᵀ·W0·V‖_F with U, V the
 * top-r singular vectors of ΔW. Large when ΔW amplifies directions W0 barely uses.
 */
export function amplification(W0: Matrix, delta: Svd, r: number): { rank: number; factor: number; projectedNorm: number } {
  const k = Math.min(r, delta.S.length);
  const U = leadingColumns(delta.U, k); // [out, k]
  const V = leadingColumns(delta.V, k); // [in, k]
  const projected = matmul(matmul(transpose(U), W0), V); // [k, k]
  const projectedNorm = Math.sqrt(projected.data.reduce((a, x) => a + x * x, 0));
  const deltaNorm = spectrumRanks(delta.S).frobenius;
  return { rank: k, factor: projectedNorm > 0 ? deltaNorm / projectedNorm : Infinity, projectedNorm };
}

/**
 * Normalised subspace similarity of the LoRA paper (§7.2):
 * φ(i, j) = ‖U₁[:, :i]ᵀ·U₂[:, :j]‖²_F / min(i, j), in [0, 1], for i ≤ U₁'s columns and
 * j ≤ U₂'s. Returned as phi[i − 1][j − 1], from one product and its 2-D prefix sums.
 */
export function subspaceSimilarity(U1: Matrix, U2: Matrix): number[][] {
  if (U1.rows !== U2.rows) throw new RangeError(`directions of length ${U1.rows} and ${U2.rows} cannot be compared`);
  const P = matmul(transpose(U1), U2); // [i, j]
  const [I, J] = [P.rows, P.cols];
  const prefix = new Float64Array((I + 1) * (J + 1));
  for (let i = 1; i <= I; i++) {
    for (let j = 1; j <= J; j++) {
      const p = P.data[(i - 1) * J + (j - 1)] as number;
      prefix[i * (J + 1) + j] = p * p + (prefix[(i - 1) * (J + 1) + j] as number) + (prefix[i * (J + 1) + j - 1] as number) - (prefix[(i - 1) * (J + 1) + j - 1] as number);
    }
  }
  return Array.from({ length: I }, (_, a) => Array.from({ length: J }, (_, b) => (prefix[(a + 1) * (J + 1) + b + 1] as number) / Math.min(a + 1, b + 1)));
}
