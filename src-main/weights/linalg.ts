/**
 * The small dense linear algebra adapter merging needs, in float64, row-major:
 * products, Householder QR, one-sided Jacobi SVD, and truncated SVD of a matrix given
 * as low-rank factors (exact) or in full (randomized subspace iteration).
 *
 * Why factors: ΔW = B·A of LoRA adapters has rank ≤ R = Σ r_i, so its SVD follows
 * from QR of the two thin factors and the SVD of an R×R core — O((out+in)·R²) instead
 * of O(out·in·min(out, in)) for the [out, in] matrix.
 */
import { Rng } from '../util/rng.ts';

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array; // [rows, cols] row-major
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  const m = { rows, cols, data: new Float64Array(rows * cols) };
  if (data) {
    if (data.length !== rows * cols) throw new RangeError(`[${rows}, ${cols}] needs ${rows * cols} values, got ${data.length}`);
    m.data.set(data);
  }
  return m;
}

export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j] as number;
  return out;
}

/** The first k columns of m [rows, ≥k]: [rows, k]. */
export function leadingColumns(m: Matrix, k: number): Matrix {
  if (k > m.cols) throw new RangeError(`asked for ${k} columns of a matrix with ${m.cols}`);
  const out = matrix(m.rows, k);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < k; j++) out.data[i * k + j] = m.data[i * m.cols + j] as number;
  return out;
}

/**
 * a [m, k] · b [k, n] → [m, n], i-k-j order (the inner loop runs along rows of b), four
 * rows of a at a time so each value of b loaded serves four sums (about twice as fast
 * in V8 as one row at a time). Every sum runs over p in ascending order, as the plain
 * triple loop: for finite b the results are the same (up to the sign of a zero).
 */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new RangeError(`cannot multiply [${a.rows}, ${a.cols}] by [${b.rows}, ${b.cols}]`);
  const { rows: m, cols: k } = a;
  const n = b.cols;
  const out = matrix(m, n);
  const o = out.data;
  const A = a.data;
  const B = b.data;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const [o0, o1, o2, o3] = [i * n, (i + 1) * n, (i + 2) * n, (i + 3) * n];
    for (let p = 0; p < k; p++) {
      const a0 = A[i * k + p] as number;
      const a1 = A[(i + 1) * k + p] as number;
      const a2 = A[(i + 2) * k + p] as number;
      const a3 = A[(i + 3) * k + p] as number;
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        const x = B[bp + j] as number;
        o[o0 + j] = (o[o0 + j] as number) + a0 * x;
        o[o1 + j] = (o[o1 + j] as number) + a1 * x;
        o[o2 + j] = (o[o2 + j] as number) + a2 * x;
        o[o3 + j] = (o[o3 + j] as number) + a3 * x;
      }
    }
  }
  for (; i < m; i++) {
    const oi = i * n;
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p] as number;
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) o[oi + j] = (o[oi + j] as number) + aip * (B[bp + j] as number);
    }
  }
  return out;
}

/**
 * aᵀ·b for a [k, m] and b [k, n] → [m, n], without forming aᵀ: rows p of a and b add
 * the outer product a[p, :]ᵀ·b[p, :], so both are read along their rows; four rows at a
 * time, so each output value loaded takes four terms (added one by one, in ascending p:
 * the same sums as matmul(transpose(a), b)).
 */
export function matmulTN(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows) throw new RangeError(`cannot multiply [${a.rows}, ${a.cols}]ᵀ by [${b.rows}, ${b.cols}]`);
  const { rows: k, cols: m } = a;
  const n = b.cols;
  const out = matrix(m, n);
  const o = out.data;
  const A = a.data;
  const B = b.data;
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const [b0, b1, b2, b3] = [p * n, (p + 1) * n, (p + 2) * n, (p + 3) * n];
    for (let i = 0; i < m; i++) {
      const x0 = A[p * m + i] as number;
      const x1 = A[(p + 1) * m + i] as number;
      const x2 = A[(p + 2) * m + i] as number;
      const x3 = A[(p + 3) * m + i] as number;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const oi = i * n;
      for (let j = 0; j < n; j++) {
        let v = o[oi + j] as number;
        v += x0 * (B[b0 + j] as number);
        v += x1 * (B[b1 + j] as number);
        v += x2 * (B[b2 + j] as number);
        v += x3 * (B[b3 + j] as number);
        o[oi + j] = v;
      }
    }
  }
  for (; p < k; p++) {
    const bp = p * n;
    for (let i = 0; i < m; i++) {
      const x = A[p * m + i] as number;
      if (x === 0) continue;
      const oi = i * n;
      for (let j = 0; j < n; j++) o[oi + j] = (o[oi + j] as number) + x * (B[bp + j] as number);
    }
  }
  return out;
}

/**
 * Thin Householder QR: a [m, n] = Q [m, p] · R [p, n] with p = min(m, n). Q has
 * orthonormal columns even when a is rank-deficient (zero columns, B = 0 adapters).
 * The work is done on aᵀ and Qᵀ (each column of a, and of Q, one contiguous row), so
 * every dot product and update of a tall matrix runs along memory; the arithmetic is
 * that of the textbook column loops, in the same order. `withQ: false` skips forming Q
 * (two thirds of the work for a tall a) where only R is wanted: Q is then [m, 0].
 */
export function qr(a: Matrix, withQ = true): { Q: Matrix; R: Matrix } {
  const { rows: m, cols: n } = a;
  const p = Math.min(m, n);
  const wt = transpose(a).data; // [n, m]: column c of a at wt[c·m …], reduced in place to R
  const vs: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    const col = j * m;
    const v = new Float64Array(m - j);
    let norm = 0;
    for (let i = j; i < m; i++) norm += (wt[col + i] as number) ** 2;
    norm = Math.sqrt(norm);
    const x0 = wt[col + j] as number;
    // Reflect onto −sign(x0)·‖x‖·e1 so v = x − alpha·e1 never cancels.
    const alpha = x0 >= 0 ? -norm : norm;
    for (let i = j; i < m; i++) v[i - j] = wt[col + i] as number;
    v[0] = (v[0] as number) - alpha;
    let vNorm = 0;
    for (let i = 0; i < v.length; i++) vNorm += (v[i] as number) ** 2;
    vNorm = Math.sqrt(vNorm);
    if (vNorm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / vNorm;
    vs.push(v);
    if (vNorm === 0) continue; // the column is already zero below the diagonal
    for (let c = j; c < n; c++) {
      const cc = c * m + j;
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += (v[i] as number) * (wt[cc + i] as number);
      for (let i = 0; i < v.length; i++) wt[cc + i] = (wt[cc + i] as number) - 2 * (v[i] as number) * dot;
    }
  }
  const R = matrix(p, n);
  for (let i = 0; i < p; i++) for (let c = i; c < n; c++) R.data[i * n + c] = wt[c * m + i] as number;
  if (!withQ) return { Q: matrix(m, 0), R };
  // Q = H_0 · H_1 ⋯ H_{p−1} · I[:, :p], applied right to left, on Qᵀ [p, m].
  const qt = new Float64Array(p * m);
  for (let i = 0; i < p; i++) qt[i * m + i] = 1;
  for (let j = p - 1; j >= 0; j--) {
    const v = vs[j] as Float64Array;
    for (let c = 0; c < p; c++) {
      const cc = c * m + j;
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += (v[i] as number) * (qt[cc + i] as number);
      if (dot === 0) continue;
      for (let i = 0; i < v.length; i++) qt[cc + i] = (qt[cc + i] as number) - 2 * (v[i] as number) * dot;
    }
  }
  return { Q: transpose(matrix(p, m, qt)), R };
}

export interface Svd {
  U: Matrix; // [m, p], orthonormal columns where S > 0
  S: Float64Array; // [p], descending
  V: Matrix; // [n, p]
}

/**
 * One-sided Jacobi SVD (Hestenes) of a small matrix: rotate column pairs of a until
 * all are orthogonal; the column norms are then the singular values. Accurate to
 * float64 rounding and simple; meant for the R×R cores here (R a few dozen at most).
 */
export function jacobiSvd(a: Matrix, maxSweeps = 60): Svd {
  if (a.rows < a.cols) {
    const t = jacobiSvd(transpose(a), maxSweeps);
    return { U: t.V, S: t.S, V: t.U };
  }
  const { rows: m, cols: n } = a;
  const x = Float64Array.from(a.data); // [m, n], columns become U·Σ
  const v = new Float64Array(n * n); // [n, n]
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const eps = 1e-15;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const xp = x[i * n + p] as number;
          const xq = x[i * n + q] as number;
          alpha += xp * xp;
          beta += xq * xq;
          gamma += xp * xq;
        }
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const xp = x[i * n + p] as number;
          const xq = x[i * n + q] as number;
          x[i * n + p] = c * xp - s * xq;
          x[i * n + q] = s * xp + c * xq;
        }
        for (let i = 0; i < n; i++) {
          const vp = v[i * n + p] as number;
          const vq = v[i * n + q] as number;
          v[i * n + p] = c * vp - s * vq;
          v[i * n + q] = s * vp + c * vq;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += (x[i * n + j] as number) ** 2;
    return Math.sqrt(s);
  });
  const order = norms.map((_, j) => j).sort((i, j) => (norms[j] as number) - (norms[i] as number));
  const U = matrix(m, n);
  const V = matrix(n, n);
  const S = new Float64Array(n);
  order.forEach((src, dst) => {
    const sigma = norms[src] as number;
    S[dst] = sigma;
    for (let i = 0; i < m; i++) U.data[i * n + dst] = sigma > 0 ? (x[i * n + src] as number) / sigma : 0;
    for (let i = 0; i < n; i++) V.data[i * n + dst] = v[i * n + src] as number;
  });
  return { U, S, V };
}

/** The best rank-k approximation B·A (Eckart–Young), B [m, k] = U_k·Σ_k, A [k, n] = V_kᵀ (PEFT's split). */
export interface LowRank {
  B: Matrix; // [m, k]
  A: Matrix; // [k, n]
  S: Float64Array; // every singular value found, descending
}

/**
 * Truncated SVD of F [m, p] · G [p, n] to rank k without forming the product:
 * F = Q1·R1, Gᵀ = Q2·R2, so F·G = Q1·(R1·R2ᵀ)·Q2ᵀ; the core's SVD U·Σ·Vᵀ gives
 * F·G = (Q1·U)·Σ·(Q2·V)ᵀ. Ranks beyond those present come back as zero rows/columns.
 */
export function truncatedSvdOfProduct(F: Matrix, G: Matrix, k: number): LowRank {
  if (F.cols !== G.rows) throw new RangeError(`factors [${F.rows}, ${F.cols}] and [${G.rows}, ${G.cols}] do not chain`);
  const { Q: Q1, R: R1 } = qr(F); // [m, p1], [p1, p]
  const { Q: Q2, R: R2 } = qr(transpose(G)); // [n, p2], [p2, p]
  const core = matmul(R1, transpose(R2)); // [p1, p2]
  const { U, S, V } = jacobiSvd(core);
  const left = matmul(Q1, U); // [m, q]
  const right = matmul(Q2, V); // [n, q]
  const q = S.length;
  const B = matrix(F.rows, k);
  const A = matrix(k, G.cols);
  for (let j = 0; j < Math.min(k, q); j++) {
    const sigma = S[j] as number;
    for (let i = 0; i < F.rows; i++) B.data[i * k + j] = (left.data[i * q + j] as number) * sigma;
    for (let i = 0; i < G.cols; i++) A.data[j * G.cols + i] = right.data[i * q + j] as number;
  }
  return { B, A, S };
}

export interface RandomizedSvdOptions {
  /** Extra sampled directions beyond k (Halko, Martinsson & Tropp 2011 suggest 5–10). */
  oversample?: number;
  /** Subspace (power) iterations: each sharpens the captured subspace when the spectrum decays slowly. */
  iterations?: number;
}

/**
 * Truncated SVD of a full matrix w [m, n] by randomized subspace iteration (Halko et
 * al., Algorithm 4.4): Y = w·Ω for a Gaussian Ω [n, l] drawn from `rng`
 * (l = k + oversample), re-orthonormalised through `iterations` rounds of wᵀ and w,
 * then w ≈ Q·(Qᵀ·w) and that product is truncated exactly as above. When l reaches
 * min(m, n) the captured subspace is the whole range and the result is exact.
 */
export function randomizedSvd(w: Matrix, k: number, rng: Rng, opts: RandomizedSvdOptions = {}): LowRank {
  const wt = transpose(w);
  return randomizedSvdOf({ rows: w.rows, cols: w.cols, mul: (x) => matmul(w, x), mulT: (y) => matmul(wt, y) }, k, rng, opts);
}

/**
 * A matrix w [rows, cols] known only by its products, w·x and wᵀ·y: enough for the
 * subspace iteration, and lets the caller multiply where it is fast (the trainer's
 * PiSSA init multiplies on its TF.js backend, see trainer/lora.ts).
 */
export interface LinearOperator {
  rows: number;
  cols: number;
  /** w·x for x [cols, l] → [rows, l]. */
  mul(x: Matrix): Matrix;
  /** wᵀ·y for y [rows, l] → [cols, l]. */
  mulT(y: Matrix): Matrix;
}

/** randomizedSvd over an operator: the same steps, every product through `w`. */
export function randomizedSvdOf(w: LinearOperator, k: number, rng: Rng, opts: RandomizedSvdOptions = {}): LowRank {
  const l = Math.min(k + (opts.oversample ?? 10), w.rows, w.cols);
  const omega = matrix(w.cols, l);
  for (let i = 0; i < omega.data.length; i++) omega.data[i] = rng.normal();
  let Q = qr(w.mul(omega)).Q; // [m, l]
  for (let it = 0; it < (opts.iterations ?? 4); it++) {
    const Z = qr(w.mulT(Q)).Q; // [n, l]
    Q = qr(w.mul(Z)).Q; // [m, l]
  }
  const G = transpose(w.mulT(Q)); // Qᵀ·w [l, n]
  return truncatedSvdOfProduct(Q, G, k);
}
