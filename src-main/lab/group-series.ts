/**
 * A group's curve of one metric: its member runs' series aligned by step, and at each
 * step the mean, the sample std and the 95% band (Student t, n − 1 df) over the members
 * that have a value there. Runs of different lengths or eval intervals (ragged steps)
 * give steps with fewer members; `n` says how many at each step.
 */
import type { Series } from '../contract/api.ts';
import type { GroupSeries } from '../contract/groups.ts';
import { mean, std, t975 } from '../contract/stats.ts';

/**
 * The aligned curve of `members` (completedIds order), or null when none has a point.
 * A step where no member has a finite value (a diverged NaN) is left out of the band;
 * the members keep their own series as stored. Where only one run has a value the band
 * has width 0 and std is 0: numbers, so the JSON stays number[], and n = 1 says why.
 */
export function alignSeries(members: Series[]): GroupSeries | null {
  if (!members.some((s) => s.steps.length > 0)) return null;
  const at = new Map<number, number[]>();
  for (const s of members) {
    s.steps.forEach((step, i) => {
      const v = s.values[i] as number;
      if (!Number.isFinite(v)) return;
      let list = at.get(step);
      if (!list) at.set(step, (list = []));
      list.push(v);
    });
  }
  const steps = [...at.keys()].sort((a, b) => a - b);
  const out: GroupSeries = { steps, mean: [], std: [], n: [], lo95: [], hi95: [], members };
  for (const step of steps) {
    const vs = at.get(step) as number[];
    const m = mean(vs) as number;
    const s = std(vs) ?? 0;
    const half = vs.length >= 2 ? (t975(vs.length - 1) * s) / Math.sqrt(vs.length) : 0;
    out.mean.push(m);
    out.std.push(s);
    out.n.push(vs.length);
    out.lo95.push(m - half);
    out.hi95.push(m + half);
  }
  return out;
}
