/**
 * The statistics groups and sweeps state: mean, sample standard deviation, Student's t
 * distribution (CDF and quantile), the 95% confidence interval of a mean and Welch's
 * t-test of two samples. Pure and dependency-free, so the renderer imports it too.
 *
 * The t CDF goes through the regularised incomplete beta function, evaluated by its
 * continued fraction with the modified Lentz method (Numerical Recipes §6.4);
 * test/fixtures/stats_reference.py checks it against an independent computation.
 */
import type { Stat } from './groups.ts';

/** The finite values of a list (NaN and ±Infinity say nothing about a mean). */
const finiteOf = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x));

/** Arithmetic mean; null for an empty list. */
export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample variance (n − 1); null for n < 2. Two passes, so large offsets do not cancel. */
export function variance(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs) as number;
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (xs.length - 1);
}

/** Sample standard deviation (n − 1); null for n < 2. */
export function std(xs: readonly number[]): number | null {
  const v = variance(xs);
  return v === null ? null : Math.sqrt(v);
}

// Lanczos approximation (g = 7, n = 9), good to ~1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of I_x(a, b), modified Lentz; converges fast for x < (a+1)/(a+b+2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-16;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`incomplete beta needs a, b > 0, got ${a}, ${b}`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  // The fraction converges quickly only on one side of the mean; use the symmetry
  // I_x(a, b) = 1 − I_{1−x}(b, a) on the other.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (df need not be an integer). */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`t distribution needs df > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2); each tail is half of it.
  const tail = 0.5 * tTwoSided(t, df);
  return t > 0 ? 1 - tail : tail;
}

/** P(|T| ≥ |t|), computed directly (no 1 − cdf), so tiny p-values keep their digits. */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The density of Student's t (for Newton steps). */
function tDensity(t: number, df: number): number {
  const lnC = lnGamma((df + 1) / 2) - lnGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(lnC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * The t with P(T ≤ t) = p. Newton on the CDF from 0, kept inside a bracket that
 * bisection shrinks whenever a Newton step would leave it (the tails are steep for small df).
 */
export function tQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`t distribution needs df > 0, got ${df}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a quantile needs p in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Symmetric: solve in the upper half, where the bracket [0, hi] is found by doubling.
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  let x = (lo + hi) / 2;
  for (let i = 0; i < 200; i++) {
    const f = tCdf(x, df) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    const step = f / tDensity(x, df);
    let next = x - step;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-15 * Math.max(1, Math.abs(x))) return next;
    x = next;
  }
  return x;
}

const T975 = new Map<number, number>();
/** The two-sided 95% critical value t_{0.975, df}, cached per df (groups ask for the same few). */
export function t975(df: number): number {
  let q = T975.get(df);
  if (q === undefined) {
    q = tQuantile(0.975, df);
    if (T975.size < 10_000) T975.set(df, q);
  }
  return q;
}

/** Half-width of the 95% confidence interval of the mean of `n` values with sample std `s`; null for n < 2. */
export function ci95HalfWidth(s: number | null, n: number): number | null {
  if (s === null || n < 2) return null;
  return (t975(n - 1) * s) / Math.sqrt(n);
}

/** n, mean, sample std, min, max and the 95% CI half-width of the finite values of `xs`. */
export function statOf(xs: readonly number[]): Stat {
  const v = finiteOf(xs);
  const n = v.length;
  if (n === 0) return { n: 0, mean: null, std: null, min: null, max: null, ci95: null };
  const s = std(v);
  return { n, mean: mean(v), std: s, min: Math.min(...v), max: Math.max(...v), ci95: ci95HalfWidth(s, n) };
}

export interface WelchResult {
  /** mean(b) − mean(a); null when either sample is empty. */
  diff: number | null;
  /** 95% CI of the difference (Welch–Satterthwaite df). */
  ci95: [number, number] | null;
  t: number | null;
  df: number | null;
  /** Two-sided p-value. */
  p: number | null;
}

/**
 * Welch's unequal-variance t-test of b against a (finite values only): t = (m_b − m_a) / se
 * with se² = s_a²/n_a + s_b²/n_b and the Welch–Satterthwaite df.
 *
 * Edge cases, chosen once here: a sample with n < 2 has no variance, so t, df, p and the
 * CI are null (diff is still given when both samples have a value). When both variances
 * are 0 the standard error is 0: the test is undefined (t would be ±∞ or 0/0), so t, df,
 * p and the CI are null too, whether or not the means differ. The contract says so
 * (GroupTest.p) and a test pins it; `diff` still says how far apart the means are.
 */
export function welch(a: readonly number[], b: readonly number[]): WelchResult {
  const xa = finiteOf(a);
  const xb = finiteOf(b);
  const ma = mean(xa);
  const mb = mean(xb);
  const diff = ma !== null && mb !== null ? mb - ma : null;
  const none = { diff, ci95: null, t: null, df: null, p: null };
  const va = variance(xa);
  const vb = variance(xb);
  if (diff === null || va === null || vb === null) return none;
  const qa = va / xa.length;
  const qb = vb / xb.length;
  const se2 = qa + qb;
  if (!(se2 > 0)) return none;
  const se = Math.sqrt(se2);
  const t = diff / se;
  const df = (se2 * se2) / ((qa * qa) / (xa.length - 1) + (qb * qb) / (xb.length - 1));
  const half = tQuantile(0.975, df) * se;
  return { diff, ci95: [diff - half, diff + half], t, df, p: tTwoSided(t, df) };
}
