/**
 * stats.ts against an independent reference (test/fixtures/stats_reference.py: the t CDF
 * by quadrature of the density, not by the incomplete beta) and against textbook values.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ci95HalfWidth, incompleteBeta, mean, statOf, std, tCdf, tQuantile, tTwoSided, welch } from '../../src-main/contract/stats.ts';

interface Reference {
  cdf: { t: number; df: number; cdf: number }[];
  quantile: { p: number; df: number; q: number }[];
  welch: { a: number[]; b: number[]; diff: number; t: number; df: number; p: number; ci95: [number, number] }[];
  stat: { xs: number[]; n: number; mean: number; std: number; ci95: number }[];
  scipyChecked: boolean;
}

const script = fileURLToPath(new URL('../fixtures/stats_reference.py', import.meta.url));
const committed = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/stats_reference.json', import.meta.url)), 'utf8')) as Reference;

/** The script's live output; the committed copy where python3 with numpy is missing. */
function reference(): { ref: Reference; live: boolean } {
  try {
    const out = execFileSync('python3', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ref: JSON.parse(out) as Reference, live: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT' || /No module named 'numpy'/.test(String(err.stderr))) return { ref: committed, live: false };
    throw e;
  }
}

const { ref, live } = reference();
const close = (got: number | null, want: number, tol = 1e-6) => {
  expect(got).not.toBeNull();
  expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want)));
};

describe('the reference', () => {
  it('is the committed fixture when the script runs here', () => {
    if (!live) return; // nothing to compare against: the committed copy is the reference
    expect(ref.cdf.length).toBe(committed.cdf.length);
    ref.welch.forEach((w, i) => close(committed.welch[i]?.p ?? NaN, w.p, 1e-12));
  });
});

describe('Student t', () => {
  it('CDF matches the quadrature reference', () => {
    expect(ref.cdf.length).toBeGreaterThan(5);
    for (const c of ref.cdf) close(tCdf(c.t, c.df), c.cdf, 1e-9);
  });

  it('small tail probabilities keep their relative digits', () => {
    const c = ref.cdf.find((x) => x.cdf < 1e-5) as Reference['cdf'][number];
    expect(Math.abs(tCdf(c.t, c.df) / c.cdf - 1)).toBeLessThan(1e-7);
    expect(tTwoSided(c.t, c.df)).toBeCloseTo(2 * c.cdf, 15);
  });

  it('quantile matches the reference and the textbook t table', () => {
    for (const c of ref.quantile) close(tQuantile(c.p, c.df), c.q, 1e-9);
    // Two-sided 95% critical values, as printed in every t table.
    expect(tQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(tQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(tQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
    // Large df tends to the normal 1.95996.
    expect(tQuantile(0.975, 1e5)).toBeCloseTo(1.95996, 4);
  });

  it('quantile inverts the CDF, both sides', () => {
    for (const df of [1, 2.5, 9, 40]) {
      for (const p of [0.001, 0.2, 0.5, 0.8, 0.9999]) expect(tCdf(tQuantile(p, df), df)).toBeCloseTo(p, 12);
    }
    expect(tQuantile(0, 3)).toBe(-Infinity);
    expect(tQuantile(1, 3)).toBe(Infinity);
    expect(() => tQuantile(1.5, 3)).toThrow(/p in \[0, 1\]/);
    expect(() => tCdf(1, 0)).toThrow(/df > 0/);
  });

  it('the incomplete beta has its closed forms', () => {
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b.
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14);
    expect(incompleteBeta(0.6, 3, 1)).toBeCloseTo(0.216, 14);
    expect(incompleteBeta(0.2, 1, 4)).toBeCloseTo(1 - 0.8 ** 4, 14);
    expect(incompleteBeta(0, 2, 3)).toBe(0);
    expect(incompleteBeta(1, 2, 3)).toBe(1);
  });
});

describe('a stat of a list', () => {
  it('matches numpy (mean, ddof=1 std, t-based CI half-width)', () => {
    for (const c of ref.stat) {
      const s = statOf(c.xs);
      expect(s.n).toBe(c.n);
      close(s.mean, c.mean, 1e-12);
      close(s.std, c.std, 1e-12);
      close(s.ci95, c.ci95, 1e-9);
      expect(s.min).toBe(Math.min(...c.xs));
      expect(s.max).toBe(Math.max(...c.xs));
    }
  });

  it('n < 2 gives nulls; non-finite values are not counted', () => {
    expect(statOf([])).toEqual({ n: 0, mean: null, std: null, min: null, max: null, ci95: null });
    expect(statOf([5])).toEqual({ n: 1, mean: 5, std: null, min: 5, max: 5, ci95: null });
    expect(statOf([1, NaN, 3, Infinity])).toMatchObject({ n: 2, mean: 2, min: 1, max: 3 });
    expect(mean([])).toBeNull();
    expect(std([1])).toBeNull();
    expect(ci95HalfWidth(null, 5)).toBeNull();
    // Two passes: a huge offset does not cancel the variance away.
    expect(std([1e9 + 1, 1e9 + 2, 1e9 + 3])).toBeCloseTo(1, 9);
  });
});

describe("Welch's t-test", () => {
  it('matches the reference: t, df, p and the 95% CI of mean(b) − mean(a)', () => {
    expect(ref.welch.length).toBeGreaterThan(4);
    for (const c of ref.welch) {
      const w = welch(c.a, c.b);
      close(w.diff, c.diff, 1e-12);
      close(w.t, c.t, 1e-9);
      close(w.df, c.df, 1e-9);
      close(w.p, c.p, 1e-6);
      // Tiny p-values match relatively too (the far-apart case has p ≈ 3e-9).
      expect(Math.abs((w.p as number) / c.p - 1)).toBeLessThan(1e-6);
      close(w.ci95?.[0] ?? null, c.ci95[0], 1e-6);
      close(w.ci95?.[1] ?? null, c.ci95[1], 1e-6);
    }
  });

  it('one variance 0: df is the other sample’s n − 1', () => {
    const w = welch([10, 10, 10], [11, 13, 12]);
    expect(w.df).toBeCloseTo(2, 12);
    expect(w.t).toBeCloseTo(2 / Math.sqrt(1 / 3), 12);
  });

  it('edge cases: n < 2 and both variances 0 give no test, only the difference', () => {
    expect(welch([1], [2, 3])).toEqual({ diff: 1.5, ci95: null, t: null, df: null, p: null });
    expect(welch([], [2, 3])).toEqual({ diff: null, ci95: null, t: null, df: null, p: null });
    // Both constant: the standard error is 0, the test undefined, even though the means differ.
    expect(welch([4, 4, 4], [6, 6])).toEqual({ diff: 2, ci95: null, t: null, df: null, p: null });
    expect(welch([4, 4], [4, 4, 4])).toEqual({ diff: 0, ci95: null, t: null, df: null, p: null });
  });

  it('is antisymmetric: swapping the groups flips t, diff and the CI', () => {
    const a = [3, 5, 4, 6];
    const b = [7, 9, 8, 6, 10];
    const ab = welch(a, b);
    const ba = welch(b, a);
    expect(ba.t).toBeCloseTo(-(ab.t as number), 12);
    expect(ba.p).toBeCloseTo(ab.p as number, 14);
    expect(ba.ci95?.[0]).toBeCloseTo(-(ab.ci95?.[1] as number), 12);
  });
});
