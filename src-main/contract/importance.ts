/**
 * Hyperparameter importance for a sweep's objective, as W&B's importance panel shows it
 * but offline: per swept path, the Pearson correlation of its value with the objective,
 * and the permutation importance of a seeded random forest of regression trees fitted to
 * (values → objective). Pure and dependency-free (the renderer may import it).
 *
 * Encoding of a path's values into one number per run:
 * - numbers as they are, except a path whose values are all > 0 and span more than one
 *   decade (max/min > 10, e.g. lr 1e-4 … 1e-2) is taken as log10: learning rates act
 *   multiplicatively, and a linear correlation over 1e-4, 1e-3, 1e-2 would be decided by
 *   the largest value alone;
 * - anything else (strings, booleans, null, mixed) is categorical: each distinct value is
 *   coded by the rank of its mean objective (0 = lowest mean). That orders categories so a
 *   correlation can be read at all; it flatters them (the order is fitted to the
 *   objective), so a categorical path's correlation is an upper bound.
 *
 * Forest (Breiman 2001): 100 trees, each on a bootstrap sample, depth ≤ 6, every path
 * considered at every split (there are few), splits minimising the squared error.
 * Importance of a path = the rise in out-of-bag mean squared error when that path's
 * values are permuted among the tree's out-of-bag runs, averaged over trees (OOB, so a
 * tree is never scored on the runs it memorised), negatives clipped to 0, normalised to
 * sum 1. When no path raises the error (a constant objective) every importance is 0.
 */
import type { ImportanceRow } from './groups.ts';
import type { ParamValue } from './sweep.ts';

export interface ImportanceSample {
  params: Record<string, ParamValue>;
  value: number;
}

const TREES = 100;
const MAX_DEPTH = 6;
/** Below this many runs a forest says nothing (importance null). */
export const MIN_IMPORTANCE_RUNS = 4;

/** mulberry32, seeded: the same runs and seed give the same importances. */
function rng(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One number per sample for `path` (see the header for the encoding). */
export function encodePath(samples: readonly ImportanceSample[], path: string): number[] {
  const raw = samples.map((s) => (path in s.params ? s.params[path] : null) as ParamValue);
  if (raw.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const nums = raw as number[];
    const min = Math.min(...nums);
    const max = Math.max(...nums);
    return min > 0 && max / min > 10 ? nums.map((x) => Math.log10(x)) : nums;
  }
  const sums = new Map<string, { sum: number; n: number }>();
  const keys = raw.map((v) => JSON.stringify(v));
  keys.forEach((k, i) => {
    const e = sums.get(k) ?? { sum: 0, n: 0 };
    e.sum += (samples[i] as ImportanceSample).value;
    e.n += 1;
    sums.set(k, e);
  });
  const ranked = [...sums.entries()].sort((a, b) => a[1].sum / a[1].n - b[1].sum / b[1].n || (a[0] < b[0] ? -1 : 1));
  const rank = new Map(ranked.map(([k], i) => [k, i]));
  return keys.map((k) => rank.get(k) as number);
}

/** Pearson correlation; null when either side is constant or n < 2. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  // Relative thresholds: values equal up to rounding are constant.
  if (sxx <= 1e-24 * (mx * mx * n + 1e-300) || syy <= 1e-24 * (my * my * n + 1e-300)) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** A regression tree as flat arrays: node i splits on feature[i] at threshold[i], or is a leaf (feature −1). */
interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

/** Buffers one forest's trees share, so fitting allocates nothing per node. */
interface Workspace {
  /** Per feature: the bootstrap rows sorted by that feature; a node owns a range of each. */
  sorted: Int32Array[];
  scratch: Int32Array;
  /** 1 where a row goes left at the split being made. */
  goesLeft: Uint8Array;
}

/**
 * Fits a tree to a bootstrap sample (`counts[row]` copies of each row) of X (column-major)
 * and y. `orders[f]` is every row sorted by feature f, computed once per forest. A node is
 * the same range [lo, hi) of every feature's sorted list; a split partitions each range
 * stably in place (lefts first), so no node sorts and a tree level costs O(features · rows).
 */
function fitTree(cols: readonly Float64Array[], y: Float64Array, counts: Uint16Array, size: number, orders: readonly Int32Array[], ws: Workspace): Tree {
  const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const { sorted, scratch, goesLeft } = ws;
  orders.forEach((order, f) => {
    const out = sorted[f] as Int32Array;
    let k = 0;
    for (const row of order) for (let c = counts[row] as number; c > 0; c--) out[k++] = row;
  });
  const grow = (lo: number, hi: number, depth: number): number => {
    const m0 = hi - lo;
    const rows = sorted[0] as Int32Array;
    const node = tree.feature.length;
    let sum = 0;
    let sumSq = 0;
    for (let i = lo; i < hi; i++) {
      const yi = y[rows[i] as number] as number;
      sum += yi;
      sumSq += yi * yi;
    }
    const m = sum / m0;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(m);
    if (depth >= MAX_DEPTH || m0 < 2) return node;
    const sse = sumSq - sum * m;
    if (sse <= 1e-12 * (sumSq + 1e-300)) return node;
    // Best split over every feature: scan its sorted range with prefix sums.
    let bestGain = 1e-12 * sse;
    let bestF = -1;
    let bestT = 0;
    let bestLeft = 0;
    for (let f = 0; f < sorted.length; f++) {
      const order = sorted[f] as Int32Array;
      const col = cols[f] as Float64Array;
      let ls = 0;
      let lsq = 0;
      for (let i = lo; i < hi - 1; i++) {
        const yi = y[order[i] as number] as number;
        ls += yi;
        lsq += yi * yi;
        const xi = col[order[i] as number] as number;
        const xn = col[order[i + 1] as number] as number;
        if (xi === xn) continue;
        const nl = i + 1 - lo;
        const rs = sum - ls;
        const childSse = lsq - (ls * ls) / nl + (sumSq - lsq) - (rs * rs) / (m0 - nl);
        const gain = sse - childSse;
        if (gain > bestGain) {
          bestGain = gain;
          bestF = f;
          bestT = (xi + xn) / 2;
          bestLeft = nl;
        }
      }
    }
    if (bestF < 0) return node;
    const col = cols[bestF] as Float64Array;
    for (let i = lo; i < hi; i++) {
      const row = rows[i] as number;
      goesLeft[row] = (col[row] as number) <= bestT ? 1 : 0;
    }
    for (const order of sorted) {
      let a = lo;
      let b = 0;
      for (let i = lo; i < hi; i++) {
        const row = order[i] as number;
        if (goesLeft[row]) order[a++] = row;
        else scratch[b++] = row;
      }
      order.set(scratch.subarray(0, b), a);
    }
    tree.feature[node] = bestF;
    tree.threshold[node] = bestT;
    tree.left[node] = grow(lo, lo + bestLeft, depth + 1);
    tree.right[node] = grow(lo + bestLeft, hi, depth + 1);
    return node;
  };
  grow(0, size, 0);
  return tree;
}

/** The tree's prediction for row r, reading feature `swapF` from row `swapRow` instead (a permutation). */
function predict(tree: Tree, cols: readonly Float64Array[], r: number, swapF = -1, swapRow = r): number {
  let node = 0;
  for (;;) {
    const f = tree.feature[node] as number;
    if (f < 0) return tree.value[node] as number;
    const x = (cols[f] as Float64Array)[f === swapF ? swapRow : r] as number;
    node = (x <= (tree.threshold[node] as number) ? tree.left[node] : tree.right[node]) as number;
  }
}

/** OOB permutation importance per feature, unnormalised (mean rise in MSE over trees that have OOB rows). */
function forestImportance(cols: readonly Float64Array[], y: Float64Array, seed: number): number[] {
  const n = y.length;
  const next = rng(seed);
  const rise = cols.map(() => 0);
  const orders = cols.map((col) => Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => (col[a] as number) - (col[b] as number)));
  // Bootstrap copies per row (a row drawn 65536 times would need n far beyond any sweep).
  const counts = new Uint16Array(n);
  const ws: Workspace = { sorted: cols.map(() => new Int32Array(n)), scratch: new Int32Array(n), goesLeft: new Uint8Array(n) };
  let scored = 0;
  for (let t = 0; t < TREES; t++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const r = Math.floor(next() * n);
      counts[r] = (counts[r] as number) + 1;
    }
    const oob: number[] = [];
    for (let i = 0; i < n; i++) if (counts[i] === 0) oob.push(i);
    const tree = fitTree(cols, y, counts, n, orders, ws);
    if (oob.length < 2) continue;
    let base = 0;
    for (const r of oob) base += (predict(tree, cols, r) - (y[r] as number)) ** 2;
    base /= oob.length;
    const perm = new Int32Array(oob.length);
    for (let f = 0; f < cols.length; f++) {
      // Fisher–Yates over the OOB rows: row oob[i] reads feature f from row perm[i].
      perm.set(oob);
      for (let i = perm.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = perm[i] as number;
        perm[i] = perm[j] as number;
        perm[j] = tmp;
      }
      let mse = 0;
      for (let i = 0; i < oob.length; i++) {
        const r = oob[i] as number;
        mse += (predict(tree, cols, r, f, perm[i] as number) - (y[r] as number)) ** 2;
      }
      rise[f] = (rise[f] as number) + mse / oob.length - base;
    }
    scored += 1;
  }
  return rise.map((v) => (scored > 0 ? Math.max(0, v / scored) : 0));
}

/**
 * Importance of each path for `value` over the samples (completed runs and their
 * objective). Samples with a non-finite value are left out; `n` says how many count.
 */
export function importance(samples: readonly ImportanceSample[], paths: readonly string[], seed = 0): ImportanceRow[] {
  const used = samples.filter((s) => Number.isFinite(s.value));
  const n = used.length;
  const y = Float64Array.from(used, (s) => s.value);
  const codes = paths.map((p) => encodePath(used, p));
  const correlations = codes.map((c) => pearson(c, Array.from(y)));
  let shares: (number | null)[] = paths.map(() => null);
  if (n >= MIN_IMPORTANCE_RUNS && paths.length > 0) {
    const raw = forestImportance(
      codes.map((c) => Float64Array.from(c)),
      y,
      seed,
    );
    const total = raw.reduce((s, v) => s + v, 0);
    shares = raw.map((v) => (total > 0 ? v / total : 0));
  }
  return paths.map((path, i) => ({ path, correlation: correlations[i] ?? null, importance: shares[i] ?? null, n }));
}
