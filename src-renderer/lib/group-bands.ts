/**
 * Group curves for uPlot: each group's mean as a line with its band (± one std, or the
 * 95% confidence interval of the mean) filled between two invisible edge series, and
 * its member runs faint underneath. One aligned table for all of them, so 30 runs ×
 * 1000 steps stay one chart.
 */
import uPlot from 'uplot';
import type { GroupSeries } from '../../src-main/contract/groups.ts';
import type { ChartColors } from './chart-colors.ts';
import { type ChartOptions, yRange } from './charts.ts';
import { fmtNum } from './format.ts';
import { align } from './series.ts';

export type BandMode = 'std' | 'ci95';

export interface BandGroup {
  label: string;
  color: string;
  series: GroupSeries | null;
}

/** The band's edges of one group at each of its steps; null where the band is unknown (a step with one run). */
export function bandEdges(s: GroupSeries, mode: BandMode): { lo: (number | null)[]; hi: (number | null)[] } {
  const ok = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  s.steps.forEach((_, i) => {
    const m = s.mean[i];
    const n = s.n[i] ?? 0;
    if (mode === 'std') {
      const sd = s.std[i];
      const known = ok(m) && ok(sd) && n >= 2;
      lo.push(known ? m - sd : null);
      hi.push(known ? m + sd : null);
    } else {
      const l = s.lo95[i];
      const h = s.hi95[i];
      const known = ok(l) && ok(h) && n >= 2;
      lo.push(known ? l : null);
      hi.push(known ? h : null);
    }
  });
  return { lo, hi };
}

/** Where each group's series sit in the aligned table (uPlot series indices: 0 is x). */
export interface BandLayout {
  groups: { members: number[]; lo: number; hi: number; mean: number }[];
  count: number;
}

/**
 * The aligned table and its layout: per group, its members (when shown), then the
 * band's lower and upper edge, then the mean, so the mean draws on top.
 */
export function bandData(groups: readonly BandGroup[], mode: BandMode, members: boolean): { data: uPlot.AlignedData; layout: BandLayout } {
  type Col = { x: readonly number[]; y: readonly (number | null)[] } | null;
  const cols: Col[] = [];
  const layout: BandLayout = { groups: [], count: 0 };
  for (const g of groups) {
    const s = g.series;
    const memberIdx: number[] = [];
    if (members) {
      for (const m of s?.members ?? []) {
        cols.push({ x: m.steps, y: m.values.map((v) => (Number.isFinite(v) ? v : null)) });
        memberIdx.push(cols.length);
      }
    }
    const edges = s ? bandEdges(s, mode) : { lo: [], hi: [] };
    cols.push(s ? { x: s.steps, y: edges.lo } : null);
    const lo = cols.length;
    cols.push(s ? { x: s.steps, y: edges.hi } : null);
    const hi = cols.length;
    cols.push(s ? { x: s.steps, y: s.mean } : null);
    layout.groups.push({ members: memberIdx, lo, hi, mean: cols.length });
  }
  layout.count = cols.length;
  // align() takes numbers; nulls ride along (a column holds null where unknown either way).
  return { data: align(cols as ({ x: readonly number[]; y: readonly number[] } | null)[]), layout };
}

/** "#2f6ad9" at alpha 0.2 → "rgba(47, 106, 217, 0.2)"; other colour forms are returned as they are. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return color;
  const hex = m[1] as string;
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/**
 * uPlot options for a band chart: no legend (the page names the groups; `onCursor`
 * gets the hovered index for a read-out), faint members, invisible edges, filled bands.
 */
export function bandOptions(
  c: ChartColors,
  groups: readonly Pick<BandGroup, 'label' | 'color'>[],
  layout: BandLayout,
  opts: { percent?: boolean; onCursor?: (idx: number | null) => void } = {},
): ChartOptions {
  const axis = (extra: uPlot.Axis): uPlot.Axis => ({
    stroke: c.muted,
    font: FONT,
    labelFont: FONT,
    grid: { stroke: c.grid, width: 1 },
    ticks: { stroke: c.grid, width: 1, size: 4 },
    gap: 4,
    ...extra,
  });
  const series: uPlot.Series[] = [{ label: 'step' }];
  const bands: uPlot.Band[] = [];
  groups.forEach((g, k) => {
    const at = layout.groups[k];
    if (!at) return;
    for (let i = 0; i < at.members.length; i++) series.push({ label: `${g.label} run ${i + 1}`, stroke: withAlpha(g.color, 0.22), width: 1, spanGaps: true, points: { show: false } });
    series.push({ label: `${g.label} lower`, stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } });
    series.push({ label: `${g.label} upper`, stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } });
    series.push({ label: `${g.label} mean`, stroke: g.color, width: 2, spanGaps: true, points: { show: false } });
    bands.push({ series: [at.hi, at.lo], fill: withAlpha(g.color, 0.18) });
  });
  const pct = !!opts.percent;
  const tick = (v: number) => (pct ? `${Number((v * 100).toFixed(2))}%` : fmtNum(v, 3));
  return {
    scales: {
      x: { time: false, range: (_u, min, max) => (min === null || max === null ? [0, 1] : max > min ? [min, max] : [Math.max(0, min - 1), max + 1]) },
      y: { range: (_u, min, max) => yRange(min, max, pct) },
    },
    legend: { show: false },
    cursor: { drag: { x: true, y: false }, points: { show: false } },
    axes: [axis({ label: 'step', labelSize: 18 }), axis({ size: 52, values: (_u, ticks) => ticks.map(tick) })],
    series,
    bands,
    ...(opts.onCursor ? { hooks: { setCursor: [(u: uPlot) => opts.onCursor?.(u.cursor.idx ?? null)] } } : {}),
  };
}
