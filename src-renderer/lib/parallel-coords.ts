/**
 * The pure half of the parallel-coordinates plot: one scale per axis (linear, log for a
 * numeric path spanning more than a decade, evenly spaced categories otherwise), the
 * lines (one per completed run) and brushing. Positions are fractions of the axis
 * height, 0 at the bottom and 1 at the top, so a brush is a fraction range whatever the
 * scale, and filtering never depends on pixels.
 */
import type { ParamValue, SweepPointView } from '../../src-main/contract/sweep.ts';

export type AxisScale =
  | { kind: 'linear'; min: number; max: number; reversed: boolean }
  | { kind: 'log'; min: number; max: number }
  | { kind: 'category'; values: string[] };

export interface PcAxis {
  /** A swept config path, or the objective's figure key. */
  key: string;
  label: string;
  /** A second line under the name (the objective's unit and which way is better). */
  sub?: string;
  scale: AxisScale;
}

/** One completed run: its point's values and its objective. */
export interface PcLine {
  runId: number;
  point: number;
  seedIndex: number;
  /** Axis key → value (the objective under its figure key). */
  values: Record<string, ParamValue>;
  objective: number;
}

/** A brushed range on one axis, as fractions (lo ≤ hi, both in 0..1). */
export interface Brush {
  lo: number;
  hi: number;
}

const catKey = (v: ParamValue): string => (v === null ? 'null' : String(v));

/**
 * The scale for a set of values: numbers → log when all are > 0 and max/min > 10, else
 * linear; anything else (strings, booleans, null, a mix) → categories in first-seen
 * order (numbers among them sorted).
 */
export function scaleFor(values: readonly ParamValue[], opts: { reversed?: boolean } = {}): AxisScale {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (values.length > 0 && nums.length === values.length) {
    const min = Math.min(...nums);
    const max = Math.max(...nums);
    if (min > 0 && max / min > 10 && !opts.reversed) return { kind: 'log', min, max };
    return { kind: 'linear', min, max, reversed: opts.reversed ?? false };
  }
  const seen: string[] = [];
  for (const v of values) if (!seen.includes(catKey(v))) seen.push(catKey(v));
  const allNum = seen.every((s) => s !== '' && Number.isFinite(Number(s)));
  return { kind: 'category', values: allNum ? seen.sort((a, b) => Number(a) - Number(b)) : seen };
}

/** Where a value sits on its axis (0 bottom … 1 top); null when the axis does not have it. */
export function position(scale: AxisScale, v: ParamValue): number | null {
  switch (scale.kind) {
    case 'linear': {
      if (typeof v !== 'number') return null;
      const f = scale.max === scale.min ? 0.5 : (v - scale.min) / (scale.max - scale.min);
      return scale.reversed ? 1 - f : f;
    }
    case 'log': {
      if (typeof v !== 'number' || v <= 0) return null;
      return (Math.log(v) - Math.log(scale.min)) / (Math.log(scale.max) - Math.log(scale.min));
    }
    case 'category': {
      const i = scale.values.indexOf(catKey(v));
      if (i < 0) return null;
      return scale.values.length === 1 ? 0.5 : i / (scale.values.length - 1);
    }
  }
}

/** The value at a fraction of a numeric axis (brush labels); for categories, the nearest one. */
export function valueAt(scale: AxisScale, f: number): number | string | null {
  switch (scale.kind) {
    case 'linear': {
      const g = scale.reversed ? 1 - f : f;
      return scale.min + g * (scale.max - scale.min);
    }
    case 'log':
      return Math.exp(Math.log(scale.min) + f * (Math.log(scale.max) - Math.log(scale.min)));
    case 'category': {
      const n = scale.values.length;
      if (n === 0) return null;
      return scale.values[n === 1 ? 0 : Math.round(f * (n - 1))] ?? null;
    }
  }
}

/** Tick labels: the categories, or the ends and middle of a numeric axis (log: its decades when there are few). */
export function ticks(scale: AxisScale): { at: number; value: number | string }[] {
  if (scale.kind === 'category') {
    const n = scale.values.length;
    return scale.values.map((v, i) => ({ at: n === 1 ? 0.5 : i / (n - 1), value: v }));
  }
  if (scale.kind === 'log') {
    const out: { at: number; value: number }[] = [];
    for (let e = Math.ceil(Math.log10(scale.min)); e <= Math.floor(Math.log10(scale.max)); e++) out.push({ at: position(scale, 10 ** e) ?? 0, value: 10 ** e });
    if (out.length < 2) return [{ at: 0, value: scale.min }, { at: 1, value: scale.max }];
    return out;
  }
  if (scale.min === scale.max) return [{ at: 0.5, value: scale.min }];
  return [0, 0.5, 1].map((f) => ({ at: f, value: valueAt(scale, f) as number }));
}

/** Lines of a sweep: one per completed run that has the objective. */
export function linesOf(points: readonly SweepPointView[], objectiveKey: string): PcLine[] {
  const out: PcLine[] = [];
  for (const p of points) {
    for (const r of p.runs) {
      if (r.state !== 'completed' || r.value === null || r.runId === null) continue;
      out.push({ runId: r.runId, point: p.index, seedIndex: r.seedIndex, values: { ...p.params, [objectiveKey]: r.value }, objective: r.value });
    }
  }
  return out;
}

/**
 * The axes: one per swept path (its values over every point, so a path shows its whole
 * range even before its runs finish), then the objective with the better end on top.
 */
export function axesOf(paths: readonly string[], points: readonly SweepPointView[], lines: readonly PcLine[], objective: { key: string; label: string; unit?: string; better: 'higher' | 'lower' }): PcAxis[] {
  const axes: PcAxis[] = paths.map((path) => ({ key: path, label: path, scale: scaleFor(points.map((p) => p.params[path] ?? null)) }));
  const values = lines.map((l) => l.objective);
  axes.push({ key: objective.key, label: objective.label, sub: `${objective.unit ? `${objective.unit}, ` : ''}${objective.better} is better ↑`, scale: values.length ? scaleFor(values, { reversed: objective.better === 'lower' }) : { kind: 'linear', min: 0, max: 1, reversed: false } });
  return axes;
}

/** The lines inside every brush (an axis without a brush lets every line through). */
export function brushed<L extends { values: Record<string, ParamValue> }>(lines: readonly L[], axes: readonly PcAxis[], brushes: Readonly<Record<string, Brush>>): L[] {
  const active = axes.filter((a) => brushes[a.key] !== undefined);
  if (active.length === 0) return [...lines];
  return lines.filter((l) =>
    active.every((a) => {
      const b = brushes[a.key] as Brush;
      const f = position(a.scale, l.values[a.key] ?? null);
      // A little slack: a brush drawn exactly over a category or an end still holds it.
      return f !== null && f >= b.lo - 1e-9 && f <= b.hi + 1e-9;
    }),
  );
}

/** A drag from fraction a to fraction b as a brush (ordered, clamped); a click (tiny drag) is none. */
export function brushFrom(a: number, b: number): Brush | null {
  const lo = Math.max(0, Math.min(a, b));
  const hi = Math.min(1, Math.max(a, b));
  return hi - lo < 0.01 ? null : { lo, hi };
}

/**
 * Colour of an objective value: 0 = worst of the lines … 1 = best, on a blue → teal →
 * amber ramp readable on light and dark backgrounds (colour-blind safe ends).
 */
export function objectiveColor(t: number): string {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [33, 145, 140],
    [253, 200, 40],
  ];
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i] as [number, number, number];
  const b = stops[i + 1] as [number, number, number];
  const c = a.map((v, k) => Math.round(v + f * ((b[k] as number) - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** A line's colour fraction: where its objective sits between the worst and best lines. */
export function goodness(value: number, lines: readonly PcLine[], better: 'higher' | 'lower'): number {
  if (lines.length === 0) return 0.5;
  const vs = lines.map((l) => l.objective);
  const min = Math.min(...vs);
  const max = Math.max(...vs);
  if (max === min) return 0.5;
  const f = (value - min) / (max - min);
  return better === 'higher' ? f : 1 - f;
}
