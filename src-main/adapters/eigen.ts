/**
 * Every eigenvalue and eigenvector of a symmetric matrix, for the full spectra
 * intruder dimensions and dense updates need (W0's SVD through its Gram matrix):
 * Householder reduction to tridiagonal form, then the implicit QL iteration with
 * Wilkinson shifts on the tridiagonal, accumulating the rotations. O(n³), float64.
 */
import { type Matrix, leadingColumns, matmul, matrix, transpose } from '../weights/linalg.ts';

export interface SymmetricEigen {
  /** Descending. */
  values: Float64Array;
  /** [n, n], column j the unit eigenvector of values[j]. */
  vectors: Matrix;
}

export function symmetricEigen(a: Matrix, maxIterations = 60): SymmetricEigen {
  if (a.rows !== a.cols) throw new RangeError(`an eigen-decomposition needs a square matrix, got [${a.rows}, ${a.cols}]`);
  const n = a.rows;
  if (!a.data.every(Number.isFinite)) throw new RangeError(`an eigen-decomposition of a [${n}, ${n}] matrix with non-finite values`);
  const z = Float64Array.from(a.data); // becomes the eigenvectors (row-major, column j = vector j)
  const d = new Float64Array(n); // diagonal
  const e = new Float64Array(n); // off-diagonal, e[i] couples i − 1 and i
  tridiagonalize(z, n, d, e);
  ql(z, n, d, e, maxIterations);
  // Sort descending, with the vectors.
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (d[j] as number) - (d[i] as number));
  const values = Float64Array.from(order, (i) => d[i] as number);
  const vectors = matrix(n, n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors.data[r * n + c] = z[r * n + (order[c] as number)] as number;
  return { values, vectors };
}

/**
 * The SVD of a dense M [rows, cols] through the Gram matrix of its smaller side: the
 * eigenvectors of M·Mᵀ (or Mᵀ·M) are U (or V), σ = √λ, and the other side's vectors
 * follow as Mᵀ·u/σ (or M·v/σ), computed only for the first `left` / `right` columns
 * asked for. Directions with σ ≤ drop·σ₁ are left out: through the Gram matrix their
 * vectors are not defined to float64 accuracy (σ² loses what σ had below √ε·σ₁).
 * O(min(rows, cols)³) for the eigen-decomposition.
 */
export function gramSvd(M: Matrix, left: number, right: number, drop = 1e-6): { U: Matrix; S: Float64Array; V: Matrix } {
  const wide = M.rows <= M.cols;
  const Mt = transpose(M);
  const { values, vectors } = symmetricEigen(wide ? matmul(M, Mt) : matmul(Mt, M)); // [rows, rows] or [cols, cols]
  const top = Math.sqrt(Math.max(0, values[0] ?? 0));
  let m = 0;
  while (m < values.length && Math.sqrt(Math.max(0, values[m] as number)) > drop * top) m++;
  const S = Float64Array.from({ length: m }, (_, j) => Math.sqrt(values[j] as number));
  /** other[:, j] = X·w_j / σ_j for the first `count` eigenvectors w_j. */
  const across = (X: Matrix, count: number): Matrix => {
    const c = Math.min(count, m);
    const out = matmul(X, leadingColumns(vectors, c));
    for (let i = 0; i < out.rows; i++) for (let j = 0; j < c; j++) out.data[i * c + j] = (out.data[i * c + j] as number) / (S[j] as number);
    return out;
  };
  const own = (count: number) => leadingColumns(vectors, Math.min(count, m));
  return wide ? { U: own(left), S, V: across(Mt, right) } : { U: across(M, left), S, V: own(right) };
}

/**
 * Householder: for i = n−1 … 1, a reflection zeroes row i left of i − 1; z ends as the
 * product of the reflections (the orthogonal Q with Qᵀ·A·Q tridiagonal).
 */
function tridiagonalize(z: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(z[i * n + k] as number);
      if (scale === 0) {
        e[i] = z[i * n + l] as number;
      } else {
        for (let k = 0; k <= l; k++) {
          z[i * n + k] = (z[i * n + k] as number) / scale;
          h += (z[i * n + k] as number) ** 2;
        }
        const f = z[i * n + l] as number;
        const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        z[i * n + l] = f - g;
        let ff = 0;
        for (let j = 0; j <= l; j++) {
          z[j * n + i] = (z[i * n + j] as number) / h;
          let gg = 0;
          for (let k = 0; k <= j; k++) gg += (z[j * n + k] as number) * (z[i * n + k] as number);
          for (let k = j + 1; k <= l; k++) gg += (z[k * n + j] as number) * (z[i * n + k] as number);
          e[j] = gg / h;
          ff += (e[j] as number) * (z[i * n + j] as number);
        }
        const hh = ff / (h + h);
        for (let j = 0; j <= l; j++) {
          const fj = z[i * n + j] as number;
          const gj = (e[j] as number) - hh * fj;
          e[j] = gj;
          for (let k = 0; k <= j; k++) z[j * n + k] = (z[j * n + k] as number) - (fj * (e[k] as number) + gj * (z[i * n + k] as number));
        }
      }
    } else {
      e[i] = z[i * n + l] as number;
    }
    d[i] = h;
  }
  d[0] = 0;
  e[0] = 0;
  // Accumulate the reflections into z.
  for (let i = 0; i < n; i++) {
    const l = i - 1;
    if (d[i] !== 0) {
      for (let j = 0; j <= l; j++) {
        let g = 0;
        for (let k = 0; k <= l; k++) g += (z[i * n + k] as number) * (z[k * n + j] as number);
        for (let k = 0; k <= l; k++) z[k * n + j] = (z[k * n + j] as number) - g * (z[k * n + i] as number);
      }
    }
    d[i] = z[i * n + i] as number;
    z[i * n + i] = 1;
    for (let j = 0; j <= l; j++) {
      z[j * n + i] = 0;
      z[i * n + j] = 0;
    }
  }
}

/** Implicit QL with shifts on the tridiagonal (d, e), rotating z's columns along. */
function ql(z: Float64Array, n: number, d: Float64Array, e: Float64Array, maxIterations: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  if (n > 0) e[n - 1] = 0;
  // An off-diagonal below ε·‖T‖ is zero too: where both neighbouring diagonal values are
  // themselves ~0 (a rank-deficient Gram matrix: dead units), the relative test alone
  // never splits and the iteration would not end.
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i] as number) + Math.abs(e[i] as number));
  const floor = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        if (Math.abs(e[m] as number) <= Number.EPSILON * dd || Math.abs(e[m] as number) <= floor) break;
      }
      if (m === l) break;
      if (++iterations > maxIterations) throw new Error(`eigenvalue ${l} did not converge in ${maxIterations} iterations`);
      let g = ((d[l + 1] as number) - (d[l] as number)) / (2 * (e[l] as number));
      let r = Math.hypot(g, 1);
      g = (d[m] as number) - (d[l] as number) + (e[l] as number) / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        let f = s * (e[i] as number);
        const b = c * (e[i] as number);
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = (d[i + 1] as number) - p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = (d[i + 1] as number) - p;
        r = ((d[i] as number) - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        for (let k = 0; k < n; k++) {
          f = z[k * n + i + 1] as number;
          z[k * n + i + 1] = s * (z[k * n + i] as number) + c * f;
          z[k * n + i] = c * (z[k * n + i] as number) - s * f;
        }
      }
      if (r === 0 && i >= l) continue;
      d[l] = (d[l] as number) - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
