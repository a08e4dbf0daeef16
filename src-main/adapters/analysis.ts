/**
 * One layer's update analysed (issue 16): ΔW's spectrum and ranks, its size against
 * W0, the amplification factor, intruder dimensions and the top directions that
 * pictures and φ use. A LoRA update (PiSSA and OLoRA stored converted: rank 2r) is
 * taken from its factors, never formed; a DoRA one (W' = m ⊙ (W0 + ΔW)/‖W0 + ΔW‖, a
 * full-rank change) as the dense W' − W0 through a Gram matrix, refused above
 * DENSE_SIDE_LIMIT (the eigen-decomposition is O(side³): ~5 s at 1000).
 */
import type { LayerAnalysis, LayerIntruders } from '../contract/analysis.ts';
import { gramSvd } from './eigen.ts';
import { amplification, factorSvd, spectrumRanks } from './geometry.ts';
import { type BaseSpectrum, denseIntruders, lowRankIntruders } from './intruders.ts';
import { type Matrix, type Svd, leadingColumns, matrix, transpose } from '../weights/linalg.ts';

export const DENSE_SIDE_LIMIT = 2048;
/** Directions kept for pictures and φ (the LoRA paper compares up to rank 64). */
export const KEPT_DIRECTIONS = 64;

export type LayerUpdate =
  | { method: 'factors'; B: Matrix; A: Matrix; scaling: number; rank: number } // B [out, r], A [r, in]
  | { method: 'dense'; delta: Matrix; rank: number }; // W' − W0 [out, in]

export interface AnalysedLayer {
  analysis: Omit<LayerAnalysis, 'layer'>;
  /** ΔW's top singular vectors (at most KEPT_DIRECTIONS): U [out, q], V [in, q], σ [q]. */
  directions: Svd;
}

function frobenius(m: Matrix): number {
  let sum = 0;
  for (let i = 0; i < m.data.length; i++) sum += (m.data[i] as number) ** 2;
  return Math.sqrt(sum);
}

export class AnalysisError extends Error {
  override name = 'AnalysisError';
}

export function analyseLayer(W0: Matrix, update: LayerUpdate, base: BaseSpectrum | null, intruders: { k: number; epsilon: number } | null): AnalysedLayer {
  const [out, inF] = [W0.rows, W0.cols];
  let svd: Svd;
  if (update.method === 'factors') {
    svd = factorSvd(update.B, update.A, update.scaling); // [out, r], [r], [in, r]
  } else {
    if (Math.min(out, inF) > DENSE_SIDE_LIMIT) {
      throw new AnalysisError(`a dense update of [${out}, ${inF}] needs an eigen-decomposition of side ${Math.min(out, inF)}, above the ${DENSE_SIDE_LIMIT} this analysis allows`);
    }
    svd = gramSvd(update.delta, KEPT_DIRECTIONS, KEPT_DIRECTIONS);
  }
  const ranks = spectrumRanks(svd.S);
  const norm0 = frobenius(W0);
  let found: LayerIntruders | null = null;
  if (intruders && base) {
    const got =
      update.method === 'factors'
        ? lowRankIntruders(base, scaled(update.B, update.scaling), transpose(update.A), intruders.k, intruders.epsilon)
        : denseIntruders(plus(W0, update.delta), base, intruders.k, intruders.epsilon);
    found = { k: got.k, epsilon: got.epsilon, count: got.count, sigma: got.sigma, maxCosine: got.maxCosine };
  }
  const q = Math.min(KEPT_DIRECTIONS, svd.S.length, svd.U.cols, svd.V.cols);
  return {
    analysis: {
      shape: [out, inF],
      method: update.method,
      singularValues: Array.from(svd.S),
      ...ranks,
      relativeNorm: norm0 > 0 ? ranks.frobenius / norm0 : 0,
      amplification: amplification(W0, svd, update.rank),
      intruders: found,
    },
    directions: signedDirections(leadingColumns(svd.U, q), svd.S.slice(0, q), leadingColumns(svd.V, q)),
  };
}

/** Column j of a singular-vector matrix, as a plain array. */
export function column(m: Matrix, j: number): number[] {
  return Array.from({ length: m.rows }, (_, i) => m.data[i * m.cols + j] as number);
}

const scaled = (m: Matrix, s: number) => matrix(m.rows, m.cols, m.data.map((x) => x * s));
const plus = (a: Matrix, b: Matrix) => matrix(a.rows, a.cols, a.data.map((x, i) => x + (b.data[i] as number)));

/** Each column's sign chosen so its largest-|value| entry is positive: the same picture every time. */
function signs(m: Matrix): number[] {
  return Array.from({ length: m.cols }, (_, j) => {
    let best = 0;
    for (let i = 0; i < m.rows; i++) if (Math.abs(m.data[i * m.cols + j] as number) > Math.abs(best)) best = m.data[i * m.cols + j] as number;
    return best < 0 ? -1 : 1;
  });
}

function flip(m: Matrix, s: number[]): Matrix {
  return matrix(m.rows, m.cols, m.data.map((x, i) => x * (s[i % m.cols] as number)));
}

/** U's columns signed so each largest-|value| entry is positive, V's flipped alike so u_j·σ_j·v_jᵀ stays a term of ΔW. */
function signedDirections(U: Matrix, S: Float64Array, V: Matrix): Svd {
  const s = signs(U);
  return { U: flip(U, s), S, V: flip(V, s) };
}
