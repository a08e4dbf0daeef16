/**
 * Intruder dimensions (Shuttleworth et al. 2024, "LoRA vs Full Fine-tuning: An
 * Illusion of Equivalence"): among the top-k left singular vectors u_i of the tuned
 * weight W' = W0 + ΔW, those whose largest |cosine| with every left singular vector of
 * W0 is below ε. The authors' code takes U0 from W0's thin SVD; so does this file.
 *
 * W0's SVD (once per base, cached by the caller): the eigen-decomposition of the Gram
 * matrix of its smaller side (eigen.ts). With out ≤ in, W0·W0ᵀ = U0·Σ²·U0ᵀ gives U0
 * directly; with in < out, W0ᵀ·W0 gives V0 and U0 = W0·V0/σ. Directions with
 * σ_j < DROP·σ_1 are left out (their U0 column is not defined to float64 accuracy
 * through the Gram matrix, and W0 barely acts along them).
 *
 * W' for a low-rank ΔW = P·Qᵀ (P = s·B [out, r], Q = Aᵀ [in, r]) never needs an
 * [out, in] SVD: range(W') lies in span(E), E = [U0 | Q⊥] with Q⊥ an orthonormal basis
 * of P's part outside span(U0) (T: those coordinates of P). In E's coordinates
 *
 *   Eᵀ·W'·W'ᵀ·E = D + G·P̃ᵀ + P̃·Gᵀ + P̃·(QᵀQ)·P̃ᵀ,   D = diag(Σ0², 0),
 *   G = EᵀW0·Q = [diag(σ0)·V0ᵀ·Q; 0],   P̃ = Eᵀ·P = [U0ᵀ·P; T],
 *
 * a diagonal plus a rank-2r term, applied in O(n·r). Its top-k eigenvectors y_i come
 * from Chebyshev-filtered block subspace iteration, started at W0's own leading
 * directions; u_i = E·y_i, and the cosine of u_i with U0's column j is simply y_i[j].
 * A dense W' (DoRA, full fine-tuning) goes through its own Gram matrix instead.
 */
import { gramSvd, symmetricEigen } from './eigen.ts';
import { type Matrix, leadingColumns, matmul, matmulTN, matrix, qr } from '../weights/linalg.ts';

/** PEFT's `reduce_intruder_dimension` defaults, and the paper's. */
export const INTRUDER_DEFAULTS = { k: 10, epsilon: 0.5 } as const;
/** Directions of W0 with σ_j below this fraction of σ_1 are not compared against. */
const DROP = 1e-6;

/** W0's thin SVD: U0 [out, m], σ [m] descending, V0 [in, m]; W0 ≈ U0·diag(σ)·V0ᵀ (directions below DROP·σ₁ left out). */
export interface BaseSpectrum {
  U: Matrix;
  S: Float64Array;
  V: Matrix;
}

export interface Intruders {
  k: number;
  epsilon: number;
  /** How many of the top-k directions of W' are intruders. */
  count: number;
  /** Per top direction i of W': σ_i(W') and max_j |cos(u_i, u0_j)|. */
  sigma: number[];
  maxCosine: number[];
  /** Rayleigh–Ritz steps of the subspace iteration (0 for the dense path). */
  rounds: number;
}

/** The thin SVD of W0 [out, in] through the Gram matrix of its smaller side. */
export function baseSpectrum(W0: Matrix): BaseSpectrum {
  return gramSvd(W0, Infinity, Infinity, DROP);
}

/**
 * P's part outside span(U0) in coordinates: with R = P − U0·(U0ᵀP) [out, r] and its
 * QR R = Q⊥·T, Q⊥ is the orthonormal complement basis and Q⊥ᵀ·P = Q⊥ᵀ·R = T [r′, r];
 * Q⊥ itself is never needed (cosines are read off U0's coordinates). Rows of T below
 * `tolerance`·max‖P's column‖ are left out: directions P barely reaches outside U0.
 * One projection is enough here, unlike a basis that must stay orthogonal to U0:
 * what one pass leaves along U0 (≈ ε·‖P‖ per column) is an error of that size in P's
 * representation, whatever the size of R.
 */
function complementCoordinates(U0: Matrix, U0tP: Matrix, P: Matrix, tolerance: number): Matrix {
  const inside = matmul(U0, U0tP); // [out, r]
  const R = matrix(P.rows, P.cols, P.data.map((x, i) => x - (inside.data[i] as number)));
  const T = qr(R, false).R; // [min(out, r), r]
  const r = P.cols;
  let scale = 0;
  for (let c = 0; c < r; c++) {
    let n2 = 0;
    for (let i = 0; i < P.rows; i++) n2 += (P.data[i * r + c] as number) ** 2;
    scale = Math.max(scale, Math.sqrt(n2));
  }
  const kept: number[] = [];
  for (let i = 0; i < T.rows; i++) {
    let n2 = 0;
    for (let c = 0; c < r; c++) n2 += (T.data[i * r + c] as number) ** 2;
    if (Math.sqrt(n2) > tolerance * scale) kept.push(i);
  }
  const out = matrix(kept.length, r);
  kept.forEach((row, i) => out.data.set(T.data.subarray(row * r, (row + 1) * r), i * r));
  return out;
}

/** Degree of the Chebyshev filter applied between Rayleigh–Ritz steps. */
const FILTER_DEGREE = 8;

/**
 * Top-k eigenpairs of a positive semi-definite operator on Rⁿ: block subspace
 * iteration with Rayleigh–Ritz, each step filtered by the Chebyshev polynomial of
 * degree FILTER_DEGREE that is bounded by 1 on [0, a], a the block's smallest Ritz
 * value (Zhou & Saad 2007). Plain power steps gain (λ_i / a)^d in d applications; the
 * filter gains T_d(2λ_i/a − 1), e.g. 512 against 4 for λ_i = 1.2·a and d = 8, so a
 * trained layer's slowly decaying spectrum converges in a few steps, not hundreds.
 */
function topEigen(apply: (Y: Matrix) => Matrix, start: Matrix, k: number, tolerance: number, maxSteps: number) {
  let Y = qr(start).Q; // [n, b]
  const b = Y.cols;
  for (let step = 1; ; step++) {
    const SY = apply(Y); // [n, b]
    const T = matmulTN(Y, SY); // [b, b]
    for (let i = 0; i < b; i++) for (let j = 0; j < i; j++) T.data[i * b + j] = T.data[j * b + i] = ((T.data[i * b + j] as number) + (T.data[j * b + i] as number)) / 2;
    const { values, vectors } = symmetricEigen(T);
    const ritz = matmul(Y, vectors); // [n, b]
    const applied = matmul(SY, vectors); // S·ritz
    const scale = Math.max(Math.abs(values[0] as number), Number.MIN_VALUE);
    let worst = 0;
    for (let j = 0; j < k; j++) {
      let r2 = 0;
      for (let i = 0; i < ritz.rows; i++) r2 += ((applied.data[i * b + j] as number) - (values[j] as number) * (ritz.data[i * b + j] as number)) ** 2;
      worst = Math.max(worst, Math.sqrt(r2) / scale);
    }
    if (worst <= tolerance || step >= maxSteps) return { values: values.slice(0, k), vectors: leadingColumns(ritz, k), rounds: step, residual: worst };
    const a = values[b - 1] as number;
    Y = qr(a > 1e-12 * scale ? chebyshev(apply, ritz, applied, a) : applied).Q;
  }
}

/** T_d((2S − a)/a)·X by the three-term recurrence, given S·X. */
function chebyshev(apply: (Y: Matrix) => Matrix, X: Matrix, SX: Matrix, a: number): Matrix {
  const [c, e] = [a / 2, a / 2];
  const step = (SZ: Matrix, Z: Matrix, prev: Matrix | null): Matrix => {
    const out = matrix(Z.rows, Z.cols);
    for (let i = 0; i < out.data.length; i++) {
      const y = ((SZ.data[i] as number) - c * (Z.data[i] as number)) / e;
      out.data[i] = prev ? 2 * y - (prev.data[i] as number) : y;
    }
    return out;
  };
  let prev = X;
  let cur = step(SX, X, null); // T_1
  for (let d = 2; d <= FILTER_DEGREE; d++) [prev, cur] = [cur, step(apply(cur), cur, prev)];
  return cur;
}

/** Max |cos| of each column of Y [n, k] (coordinates in a basis whose first m columns are U0) with U0's columns. */
function maxCosines(Y: Matrix, m: number): number[] {
  return Array.from({ length: Y.cols }, (_, c) => {
    let best = 0;
    for (let j = 0; j < m; j++) best = Math.max(best, Math.abs(Y.data[j * Y.cols + c] as number));
    return best;
  });
}

function result(k: number, epsilon: number, sigma: number[], maxCosine: number[], rounds: number): Intruders {
  return { k, epsilon, count: maxCosine.filter((c) => c < epsilon).length, sigma, maxCosine, rounds };
}

/**
 * Intruders of W' = W0 + P·Qᵀ (a LoRA update: P = s·B [out, r], Q = Aᵀ [in, r]) from
 * W0's spectrum and the factors, in the coordinates described above. The products
 * with U0 and V0 (O(m·(out + in)·r)) are the cost; G = U0ᵀ·W0·Q = diag(σ0)·V0ᵀ·Q.
 */
export function lowRankIntruders(base: BaseSpectrum, P: Matrix, Q: Matrix, k: number, epsilon: number, maxSteps = 500): Intruders {
  const m = base.S.length;
  const r = P.cols;
  const U0tP = matmulTN(base.U, P); // [m, r]
  const T = complementCoordinates(base.U, U0tP, P, 1e-9); // [r′, r]
  const n = m + T.rows;
  const Pt = matrix(n, r); // Eᵀ·P
  Pt.data.set(U0tP.data);
  Pt.data.set(T.data, m * r);
  const G = matrix(n, r); // EᵀW0·Q: zero below U0
  G.data.set(matmulTN(base.V, Q).data);
  for (let j = 0; j < m; j++) for (let c = 0; c < r; c++) G.data[j * r + c] = (G.data[j * r + c] as number) * (base.S[j] as number);
  const C = matmulTN(Q, Q); // [r, r]
  const D = Float64Array.from({ length: n }, (_, j) => (j < m ? (base.S[j] as number) ** 2 : 0));
  const apply = (Y: Matrix): Matrix => {
    const PtY = matmulTN(Pt, Y); // [r, b]
    const GtY = matmulTN(G, Y); // [r, b]
    const out = matmul(G, PtY); // G·P̃ᵀY
    const more = matmul(Pt, add(GtY, matmul(C, PtY))); // P̃·(GᵀY + C·P̃ᵀY)
    for (let i = 0; i < out.data.length; i++) out.data[i] = (out.data[i] as number) + (more.data[i] as number) + (D[Math.floor(i / Y.cols)] as number) * (Y.data[i] as number);
    return out;
  };
  const kk = Math.min(k, n);
  const b = Math.min(n, kk + 10);
  // W0's leading directions, and P's own (where an intruder would come from).
  const start = matrix(n, b);
  const fromP = Math.min(r, b - kk, 5);
  for (let j = 0; j < b - fromP; j++) start.data[j * b + j] = 1;
  for (let c = 0; c < fromP; c++) for (let i = 0; i < n; i++) start.data[i * b + (b - fromP + c)] = Pt.data[i * r + c] as number;
  const eig = topEigen(apply, start, kk, 1e-10, maxSteps);
  const sigma = Array.from(eig.values, (x) => Math.sqrt(Math.max(0, x)));
  return result(kk, epsilon, sigma, maxCosines(eig.vectors, m), eig.rounds);
}

/** Intruders of a dense W' [out, in], through its Gram matrix (O(min(out, in)³)). */
export function denseIntruders(W1: Matrix, base: BaseSpectrum, k: number, epsilon: number): Intruders {
  const tuned = baseSpectrum(W1);
  const kk = Math.min(k, tuned.S.length);
  const Uk = leadingColumns(tuned.U, kk); // [out, k]
  const coords = matmulTN(base.U, Uk); // [m, k]: cosines with U0's columns
  return result(kk, epsilon, Array.from(tuned.S.slice(0, kk)), maxCosines(coords, base.S.length), 0);
}

function add(a: Matrix, b: Matrix): Matrix {
  return matrix(a.rows, a.cols, a.data.map((x, i) => x + (b.data[i] as number)));
}
