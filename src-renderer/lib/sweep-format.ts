/** How sweep figures read: a Stat as mean ± std with n and unit, a point's values, counts. Pure. */
import { GROUP_FIGURES, type Stat } from '../../src-main/contract/groups.ts';
import type { ParamValue, SweepCounts } from '../../src-main/contract/sweep.ts';
import { fmtLr, fmtNum } from './format.ts';

type Unit = (typeof GROUP_FIGURES)[number]['unit'];

/** One value of a figure in its unit: fractions as percentages, counts whole, the rest 4 digits. */
export function fmtFigure(v: number | null, unit: Unit | string): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (unit === 'fraction') return `${(v * 100).toFixed(2)}%`;
  if (unit === 's') return `${fmtNum(v, 3)} s`;
  return fmtNum(v, 4);
}

/** The unit as a column header says it. */
export function unitLabel(unit: Unit | string): string {
  return unit === 'fraction' ? '%' : unit;
}

/** "91.20% ± 0.40 (n=3)"; the std in the same unit (percentage points for fractions); "—" with n = 0. */
export function fmtStat(s: Stat, unit: Unit | string): string {
  if (s.n === 0 || s.mean === null) return '—';
  const mean = fmtFigure(s.mean, unit);
  const std = s.std === null ? '' : ` ± ${unit === 'fraction' ? (s.std * 100).toFixed(2) : fmtNum(s.std, 3)}`;
  return `${mean}${std}`;
}

/** A swept value as it reads in tables and on axes: learning rates as 3e-3, text as is. */
export function fmtParam(path: string, v: ParamValue | undefined): string {
  if (v === undefined) return '—';
  if (v === null) return 'null';
  if (typeof v === 'number') return /(^|\.)lr$/i.test(path) || (Math.abs(v) > 0 && Math.abs(v) < 0.01) ? fmtLr(v) : fmtNum(v);
  return String(v);
}

/** "lora.r=4 lr=3e-3". */
export function fmtParams(params: Record<string, ParamValue>, paths: readonly string[]): string {
  return paths.map((p) => `${p}=${fmtParam(p, params[p])}`).join(' ');
}

/** Runs that are done one way or another (the "n" of "n of N"). */
export function doneCount(c: SweepCounts): number {
  return c.completed + c.failed + c.cancelled + c.pruned;
}
