/**
 * Groups of runs and their statistics: runs with the same config but the seed (or the
 * same values of the paths a person picks) as one row of n and mean ± std per figure,
 * and groups set against each other (curves as mean with a 95% band, and for two groups
 * Welch's t-test on every figure and every class's wrong count). Pure reads of the store.
 */
import type { DatasetRef, NamedRef, Series } from '../contract/api.ts';
import { LabError } from '../contract/api.ts';
import type { GroupComparison, GroupComparisonRequest, GroupRequest, GroupTable, GroupTest, GroupView } from '../contract/groups.ts';
import { GROUP_FIGURES, GROUP_FIGURE_KEYS } from '../contract/groups.ts';
import { welch } from '../contract/stats.ts';
import type { ParamValue } from '../contract/sweep.ts';
import type { StoredRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import type { BuiltGroup, RunFigures } from './group-build.ts';
import { buildGroup, exclusionReason, flattenParams, labelOf, paramAt, runFigures } from './group-build.ts';
import { alignSeries } from './group-series.ts';

type RefOf = (id: number) => DatasetRef | null;

/** The runs a request names, in its order (a sweep's in start order), and which of them ASHA pruned. */
function requestedRuns(store: Store, req: GroupRequest): { runs: StoredRun[]; pruned: Set<number> } {
  const hasIds = req.runIds !== undefined;
  const hasSweep = req.sweepId !== undefined;
  if (hasIds === hasSweep) throw new LabError('group either runs (runIds) or a sweep (sweepId), not both and not neither');
  if (hasIds) {
    const ids = req.runIds as number[];
    if (ids.length === 0) throw new LabError('choose at least one run to group');
    if (new Set(ids).size !== ids.length) throw new LabError('a run is listed twice');
    return { runs: ids.map((id) => findRun(store, id)), pruned: new Set() };
  }
  const sweepId = req.sweepId as number;
  if (!store.sweeps.find(sweepId)) throw new LabError(`sweep ${sweepId} does not exist`, 404);
  const rows = store.sweeps.runs(sweepId).filter((r) => r.runId !== null);
  const runs = rows.flatMap((r) => store.runs.find(r.runId as number) ?? []);
  return { runs, pruned: new Set(rows.filter((r) => r.state === 'pruned').map((r) => r.runId as number)) };
}

function findRun(store: Store, id: number): StoredRun {
  const r = store.runs.find(id);
  if (!r) throw new LabError(`run ${id} does not exist`, 404);
  return r;
}

/** Every leaf path whose value differs between the runs, but `seed`, in config order. */
export function differingPaths(runs: readonly StoredRun[]): string[] {
  const flat = runs.map((r) => flattenParams(r.config));
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))];
  return paths.filter((p) => {
    if (p === 'seed') return false;
    const first = JSON.stringify(flat[0]?.[p]);
    return flat.some((f) => JSON.stringify(f[p]) !== first);
  });
}

/** The request's `by`, checked: each path must exist in some run's config (a leaf or an object like `lora`). */
function groupingPaths(runs: readonly StoredRun[], by: readonly string[] | undefined): string[] {
  if (by === undefined) return differingPaths(runs);
  if (new Set(by).size !== by.length) throw new LabError('a grouping path is listed twice');
  // A sweep that has not created a run yet: nothing to check the paths against, and no groups.
  if (runs.length === 0) return [...by];
  const unknown = by.filter((p) => !runs.some((r) => paramAt(r.config, p) !== undefined));
  if (unknown.length > 0) {
    const known = [...new Set(runs.flatMap((r) => Object.keys(flattenParams(r.config))))].join(', ');
    throw new LabError(`unknown config path${unknown.length > 1 ? 's' : ''} ${unknown.map((p) => JSON.stringify(p)).join(', ')} to group by (the runs have: ${known})`);
  }
  return [...by];
}

/** A memo of each run's figures, so a run is read once per answer. */
function figureCache(store: Store, refOf: RefOf): (run: StoredRun) => RunFigures {
  const memo = new Map<number, RunFigures>();
  return (run) => {
    let f = memo.get(run.id);
    if (!f) memo.set(run.id, (f = runFigures(store, run, refOf)));
    return f;
  };
}

export function groupRuns(store: Store, req: GroupRequest, datasetRef: RefOf): GroupTable {
  const { runs, pruned } = requestedRuns(store, req);
  const by = groupingPaths(runs, req.by);
  // Groups in the order their first run comes.
  const members = new Map<string, { params: Record<string, ParamValue>; runs: StoredRun[] }>();
  for (const run of runs) {
    const params = Object.fromEntries(by.map((p) => [p, paramAt(run.config, p) ?? null])) as Record<string, ParamValue>;
    const key = JSON.stringify(by.map((p) => params[p]));
    const g = members.get(key);
    if (g) g.runs.push(run);
    else members.set(key, { params, runs: [run] });
  }
  const figuresOf = figureCache(store, datasetRef);
  const groups = [...members.entries()].map(
    ([key, g]) => buildGroup(g.runs, { key, label: labelOf(by, g.params), params: g.params }, figuresOf, datasetRef).view,
  );
  const excluded = runs
    .filter((r) => r.status !== 'completed')
    .map((r): NamedRef & { reason: string } => ({ id: r.id, name: r.name, reason: exclusionReason(r, pruned.has(r.id)) }));
  return { by, groups, excluded, figures: GROUP_FIGURES };
}

/**
 * The paths that tell the compared groups apart: the same within every group and not
 * the same across them (seed aside). With one group, none.
 */
function distinguishingPaths(groups: readonly StoredRun[][]): string[] {
  const all = groups.flat();
  return differingPaths(all).filter((p) =>
    groups.every((g) => {
      const first = JSON.stringify(paramAt((g[0] as StoredRun).config, p) ?? null);
      return g.every((r) => JSON.stringify(paramAt(r.config, p) ?? null) === first);
    }),
  );
}

export function compareGroups(store: Store, req: GroupComparisonRequest, datasetRef: RefOf): GroupComparison {
  if (!Array.isArray(req.groups) || req.groups.length === 0) throw new LabError('choose at least one group to compare');
  const seen = new Map<number, number>();
  const runGroups = req.groups.map((g, i) => {
    if (g.runIds.length === 0) throw new LabError(`group ${i + 1} has no runs`);
    return g.runIds.map((id) => {
      const before = seen.get(id);
      if (before !== undefined) {
        throw new LabError(before === i ? `run ${id} is listed twice in group ${i + 1}` : `run ${id} is in group ${before + 1} and group ${i + 1}: a run belongs to one group`);
      }
      seen.set(id, i);
      return findRun(store, id);
    });
  });
  const by = distinguishingPaths(runGroups);
  const figuresOf = figureCache(store, datasetRef);
  const built = runGroups.map((runs) => {
    const params = Object.fromEntries(by.map((p) => [p, paramAt((runs[0] as StoredRun).config, p) ?? null])) as Record<string, ParamValue>;
    return buildGroup(runs, { key: JSON.stringify(runs.map((r) => r.id)), label: labelOf(by, params), params }, figuresOf, datasetRef);
  });
  // A group's name: the request's, else its distinguishing values when they tell it apart, else "group k".
  const labels = built.map((b) => b.view.label);
  const groups = built.map((b, i): GroupView & { name: string } => {
    const own = req.groups[i]?.name;
    const unique = by.length > 0 && labels.indexOf(b.view.label) === labels.lastIndexOf(b.view.label);
    return { ...b.view, name: own ?? (unique ? b.view.label : `group ${i + 1}`) };
  });
  return { groups, series: groupSeries(store, built), tests: built.length === 2 ? groupTests(built[0] as BuiltGroup, built[1] as BuiltGroup) : [] };
}

/** Metric key → each group's aligned curve over its completed runs (null where none has the metric). */
function groupSeries(store: Store, built: readonly BuiltGroup[]): GroupComparison['series'] {
  const ids = built.flatMap((b) => b.view.completedIds);
  const keys = [...new Set(ids.flatMap((id) => store.metrics.keys(id)))].sort();
  const out: GroupComparison['series'] = {};
  for (const key of keys) {
    out[key] = built.map((b) => {
      const members = store.metrics.seriesMany(b.view.completedIds, key).map(({ steps, values, times }): Series => ({ steps, values, times }));
      return alignSeries(members);
    });
  }
  return out;
}

/** b − a on every figure, then on each class's wrong count when both groups are over one data set. */
export function groupTests(a: BuiltGroup, b: BuiltGroup): GroupTest[] {
  const tests: GroupTest[] = GROUP_FIGURE_KEYS.map((figure) => ({ figure, ...welch(a.values[figure], b.values[figure]) }));
  if (a.datasetId !== null && a.datasetId === b.datasetId) {
    const classes = Math.min(a.wrong.length, b.wrong.length);
    for (let c = 0; c < classes; c++) tests.push({ figure: `wrong:${c}`, ...welch(a.wrong[c] as number[], b.wrong[c] as number[]) });
  }
  return tests;
}
