/**
 * uPlot option builders: line charts of metrics and grouped bars per class. Colours come
 * from the theme; components only mount what these return.
 */
import uPlot from 'uplot';
import type { ChartColors } from './chart-colors.ts';
import { fmtNum } from './format.ts';
import type { XAxis } from './series.ts';

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

export interface LineSpec {
  label: string;
  color: string;
  /** Draw markers (sparse series such as evaluations). */
  points?: boolean;
  dash?: number[];
  width?: number;
}

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

function axis(c: ChartColors, extra: uPlot.Axis = {}): uPlot.Axis {
  return {
    stroke: c.muted,
    font: FONT,
    labelFont: FONT,
    grid: { stroke: c.grid, width: 1 },
    ticks: { stroke: c.grid, width: 1, size: 4 },
    gap: 4,
    ...extra,
  };
}

/** Tick text with just enough decimals to tell neighbouring ticks apart. */
function tickLabel(v: number, incr: number, percent: boolean): string {
  const scale = percent ? 100 : 1;
  const step = Math.abs(incr * scale);
  const decimals = step > 0 && Number.isFinite(step) ? Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 2;
  const x = v * scale;
  if (!percent && (Math.abs(x) >= 1e5 || (Math.abs(x) > 0 && Math.abs(x) < 1e-4))) return x.toExponential(1);
  return `${x.toFixed(decimals)}${percent ? '%' : ''}`;
}

export function xLabel(x: XAxis): string {
  return x === 'step' ? 'step' : x === 'epoch' ? 'epoch' : x === 'share' ? "% of each run's steps" : 'seconds since start';
}

/**
 * The y range of a metric chart from its data's extent. uPlot's own range doubles a
 * lone value (one accuracy point of 0.75 drew an axis to 150%): here an accuracy
 * (`percent`, a fraction) stays within 0–100%, and a metric that is never negative
 * (losses, accuracies) never gets a negative axis.
 */
export function yRange(min: number | null, max: number | null, percent: boolean): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const span = max - min;
  const pad = span > 0 ? span * 0.08 : Math.max(Math.abs(max) * 0.05, percent ? 0.01 : 0.05);
  let lo = min - pad;
  let hi = max + pad;
  if (min >= 0) lo = Math.max(0, lo);
  if (percent) {
    lo = Math.max(0, lo);
    hi = Math.min(1, hi);
    if (hi <= lo) [lo, hi] = [Math.max(0, hi - 0.02), Math.min(1, lo + 0.02)];
  }
  return [lo, hi];
}

/** The x range: the data's extent; one lone x is centred; "% of each run" is always 0–100. */
export function xRange(min: number | null, max: number | null, x: XAxis): [number, number] {
  if (x === 'share') return [0, 100];
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max > min) return [min, max];
  return [Math.max(min >= 0 ? 0 : -Infinity, min - 1), max + 1];
}

export function lineOptions(c: ChartColors, series: LineSpec[], opts: { x: XAxis; yLabel?: string; percent?: boolean } = { x: 'step' }): ChartOptions {
  const fmtY = (v: number | null) => (v === null ? '—' : opts.percent ? `${(v * 100).toFixed(2)}%` : fmtNum(v));
  return {
    scales: {
      x: { time: false, range: (_u, min, max) => xRange(min, max, opts.x) },
      y: { range: (_u, min, max) => yRange(min, max, !!opts.percent) },
    },
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    legend: { live: true },
    axes: [
      axis(c, {
        label: xLabel(opts.x),
        labelSize: 18,
        ...(opts.x === 'share' ? { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${Number(t.toFixed(1))}%`) } : {}),
      }),
      axis(c, {
        size: 52,
        ...(opts.yLabel ? { label: opts.yLabel, labelSize: 18 } : {}),
        values: (_u, ticks, _axis, _space, incr) => ticks.map((t) => tickLabel(t, incr, !!opts.percent)),
      }),
    ],
    series: [
      { label: xLabel(opts.x), value: (_u, v) => (v === null ? '—' : opts.x === 'share' ? `${fmtNum(v, 3)}%` : fmtNum(v)) },
      ...series.map(
        (s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          spanGaps: true,
          value: (_u, v) => fmtY(v),
          points: s.points ? { show: true, size: 5, fill: s.color, stroke: s.color } : { show: false },
          ...(s.dash ? { dash: s.dash } : {}),
        }),
      ),
    ],
  };
}

/**
 * Bars per class, one bar per series side by side in each class's slot; the x axis
 * names the classes (cut to fit their slot, every k-th where too many to name all, on
 * their side when long). uPlot's bar path builder places each series' bars by its own
 * offsets (data units).
 */
export function groupedBarOptions(
  c: ChartColors,
  series: { label: string; color: string }[],
  opts: { yLabel?: string; classes?: readonly string[]; noun?: string } = {},
): ChartOptions {
  const names = opts.classes ?? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const count = Math.max(1, names.length);
  const noun = opts.noun ?? 'digit';
  const long = names.some((s) => s.length > 3);
  const n = Math.max(1, series.length);
  const group = 0.8;
  const width = group / n;
  const bars = (k: number) =>
    uPlot.paths.bars!({
      disp: {
        x0: { unit: 1, values: (u) => (u.data[0] as number[]).map((x) => x - group / 2 + k * width) },
        size: { unit: 1, values: (u) => (u.data[0] as number[]).map(() => width * 0.92) },
      },
    });
  return {
    scales: { x: { time: false, range: [-0.6, count - 0.4] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.08)] } },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    legend: { live: true },
    axes: [
      axis(c, {
        label: `true ${noun}`,
        labelSize: 18,
        ...(long ? { rotate: -40, size: 62 } : {}),
        splits: () => names.map((_, i) => i),
        values: (u, t) => classTicks(u, t, names, long),
        grid: { show: false },
      }),
      axis(c, { size: 44, ...(opts.yLabel ? { label: opts.yLabel, labelSize: 18 } : {}), values: (_u, t) => t.map((v) => (Number.isInteger(v) ? String(v) : '')) }),
    ],
    series: [
      { label: noun, value: (_u, v) => (v === null ? '—' : (names[v] ?? String(v))) },
      ...series.map(
        (s, k): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          fill: s.color,
          width: 0,
          paths: bars(k),
          points: { show: false },
          value: (_u, v) => (v === null ? '—' : String(v)),
        }),
      ),
    ],
  };
}

/** Class names under their bars: every k-th when slots are too narrow to name each, cut to their room. */
export function classTicks(u: { bbox: { width: number } } | null, ticks: number[], names: readonly string[], rotated: boolean): string[] {
  const dpr = typeof devicePixelRatio === 'number' ? devicePixelRatio : 1;
  const plotWidth = u ? u.bbox.width / dpr : 600;
  const slot = plotWidth / Math.max(1, names.length);
  // Names at 40° need about a line's height over sin 40° of room each (20 px); upright ones a few characters' width.
  const every = Math.max(1, Math.ceil((rotated ? 20 : 14) / slot));
  const chars = rotated ? 12 : Math.max(1, Math.floor(slot / 6.5));
  return ticks.map((t) => {
    const name = names[t];
    if (name === undefined || t % every !== 0) return '';
    return name.length <= chars ? name : `${name.slice(0, Math.max(1, chars - 1))}…`;
  });
}
