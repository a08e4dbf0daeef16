/**
 * Turning metric series into chart data: EMA smoothing (as TensorBoard does it,
 * de-biased so early points are not pulled to zero), x by step / epoch / wall time,
 * and uPlot's aligned tables.
 */
import type { Series } from '../../src-main/contract/api.ts';

/** `share`: % of each run's own steps, so runs of very different lengths overlay. */
export type XAxis = 'step' | 'epoch' | 'time' | 'share';

/** Exponential moving average with weight w in [0, 1); 0 returns the values unchanged. */
export function smooth(values: readonly number[], w: number): number[] {
  if (!(w > 0)) return [...values];
  const out: number[] = [];
  let acc = 0;
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    acc = acc * w + (1 - w) * v;
    n++;
    out.push(acc / (1 - w ** n));
  }
  return out;
}

export interface XContext {
  stepsPerEpoch: number;
  /** When the run started (ms since the epoch), for wall time. */
  startedAt: number | null;
  /** The run's length in steps (done, or planned while it trains), for `share`; null: the series' last step. */
  totalSteps?: number | null;
}

export function xValues(s: Series, axis: XAxis, ctx: XContext): number[] {
  if (axis === 'epoch') return s.steps.map((st) => st / Math.max(1, ctx.stepsPerEpoch));
  if (axis === 'time') {
    const t0 = ctx.startedAt ?? s.times[0] ?? 0;
    return s.times.map((t) => (t - t0) / 1000);
  }
  if (axis === 'share') {
    const total = ctx.totalSteps && ctx.totalSteps > 0 ? ctx.totalSteps : Math.max(1, s.steps[s.steps.length - 1] ?? 1);
    return s.steps.map((st) => (st / total) * 100);
  }
  return [...s.steps];
}

/** Runs this many times longer than others squash those into a sliver of a shared step axis. */
export const LENGTHS_DIFFER = 10;

/**
 * The x axis a comparison opens with: steps, unless the runs' lengths differ wildly (a
 * 6,000-step base run beside 100-step fine-tunes), then % of each run's own steps.
 */
export function defaultXAxis(totalSteps: readonly (number | null)[]): XAxis {
  const known = totalSteps.filter((n): n is number => n !== null && n > 0);
  if (known.length < 2) return 'step';
  return Math.max(...known) >= LENGTHS_DIFFER * Math.min(...known) ? 'share' : 'step';
}

/**
 * Several (x, y) series on one shared, sorted x axis — uPlot's AlignedData — with null
 * where a series has no point at an x.
 */
export function align(series: readonly ({ x: readonly number[]; y: readonly number[] } | null)[]): [number[], ...(number | null)[][]] {
  const xs = [...new Set(series.flatMap((s) => (s ? s.x : [])))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    if (s) s.x.forEach((x, i) => (col[at.get(x) as number] = s.y[i] ?? null));
    return col;
  });
  return [xs, ...ys];
}

/** One line of a metric chart: a run's (or a key's) series and how to place it on x. */
export interface Line {
  label: string;
  color: string;
  series: Series | null;
  context: XContext;
  /** Draw markers, never smoothed (sparse evaluations). */
  points?: boolean;
  dash?: number[];
}
