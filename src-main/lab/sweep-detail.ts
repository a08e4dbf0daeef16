/**
 * A stored sweep as the LabApi shows it: its counts, objective and ETA (SweepView), and
 * with its points, groups, importance and best point (SweepDetail). Pure reads of the
 * store plus the Lab's live run views.
 */
import type { DatasetRef, RunView } from '../contract/api.ts';
import { LabError } from '../contract/api.ts';
import { GROUP_FIGURES, type GroupFigure } from '../contract/groups.ts';
import { importance } from '../contract/importance.ts';
import { statOf } from '../contract/stats.ts';
import type { SweepCounts, SweepDetail, SweepObjective, SweepPointView, SweepRunView, SweepSpec, SweepView } from '../contract/sweep.ts';
import type { RunStatus } from '../contract/run-status.ts';
import type { StoredRun } from '../store/runs.ts';
import type { StoredSweep } from '../store/sweeps.ts';
import type { Store } from '../store/store.ts';
import { groupRuns } from './groups.ts';

export interface DetailHost {
  runView(run: StoredRun): RunView;
  datasetRef(id: number): DatasetRef | null;
}

/** Swept paths, grid axes first, in spec order. */
export function sweepPaths(spec: SweepSpec): string[] {
  const grid = spec.axes.filter((a) => 'values' in a).map((a) => a.path);
  return [...grid, ...spec.axes.filter((a) => !('values' in a)).map((a) => a.path)];
}

/** `focusWrong` when the runs train on a slice of the classes, else test accuracy. */
export function objectiveOf(sweep: StoredSweep, figure?: string): SweepObjective {
  const key = figure ?? (sweep.config.classes ? 'focusWrong' : 'accuracy');
  const f = GROUP_FIGURES.find((g) => g.key === key);
  if (!f) throw new LabError(`unknown objective "${key}" (figures: ${GROUP_FIGURES.map((g) => g.key).join(', ')})`);
  return { figure: f.key, better: f.better };
}

/** A run's value of a group figure (null until it has it). */
export function figureOf(view: RunView, figure: GroupFigure): number | null {
  switch (figure) {
    case 'accuracy':
      return view.accuracy;
    case 'focusWrong':
      return view.focusWrong;
    case 'focusWrongBefore':
      return view.focusWrongBefore;
    case 'otherAccuracy':
      return view.otherAccuracy;
    case 'finalLoss':
      return view.summary?.finalLoss ?? null;
    case 'wallSeconds':
      return view.summary?.wallSeconds ?? null;
  }
}

export function sweepCounts(store: Store, id: number): SweepCounts {
  const c = store.sweeps.counts(id);
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return { total, ...c };
}

/**
 * Seconds left: the mean wall time of its completed runs × the runs left / its
 * concurrency; null until one completed, and once it no longer runs.
 */
function etaOf(store: Store, sweep: StoredSweep, counts: SweepCounts): number | null {
  if (sweep.status !== 'running') return null;
  const left = counts.pending + counts.queued + counts.running;
  if (left === 0) return null;
  const times: number[] = [];
  for (const sr of store.sweeps.runs(sweep.id)) {
    if (sr.state !== 'completed' || sr.runId === null) continue;
    const run = store.runs.find(sr.runId);
    if (run?.startedAt != null && run.finishedAt != null) times.push((run.finishedAt - run.startedAt) / 1000);
  }
  if (!times.length) return null;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return (mean * left) / Math.min(sweep.spec.concurrency ?? 1, left);
}

export function sweepView(store: Store, sweep: StoredSweep, drivenHere: boolean): SweepView {
  const counts = sweepCounts(store, sweep.id);
  return {
    id: sweep.id,
    name: sweep.name,
    status: sweep.status,
    spec: sweep.spec,
    paths: sweepPaths(sweep.spec),
    points: store.sweeps.pointCount(sweep.id),
    seeds: sweep.spec.seeds ?? 1,
    counts,
    objective: objectiveOf(sweep),
    createdAt: sweep.createdAt,
    finishedAt: sweep.finishedAt,
    etaSeconds: etaOf(store, sweep, counts),
    drivenHere,
    owner: sweep.owner,
    error: sweep.error,
  };
}

export function sweepDetail(store: Store, sweep: StoredSweep, drivenHere: boolean, host: DetailHost, figure?: string): SweepDetail {
  const objective = objectiveOf(sweep, figure);
  const key = objective.figure as GroupFigure;
  const paths = sweepPaths(sweep.spec);
  const byPoint = new Map<number, SweepPointView>();
  const completed: { params: SweepPointView['params']; value: number }[] = [];
  const runsByStatus: Partial<Record<RunStatus, number[]>> = {};
  const completedIds = new Map<number, number[]>();
  for (const sr of store.sweeps.runs(sweep.id)) {
    let point = byPoint.get(sr.point);
    if (!point) byPoint.set(sr.point, (point = { index: sr.point, params: sr.params, runs: [], objective: statOf([]) }));
    const run = sr.runId === null ? undefined : store.runs.find(sr.runId);
    const view = run ? host.runView(run) : null;
    const value = view ? figureOf(view, key) : null;
    const step = view?.status === 'completed' ? (view.summary?.steps ?? null) : (view?.progress?.step ?? null);
    const totalSteps = view?.status === 'completed' ? (view.summary?.steps ?? null) : (view?.progress?.totalSteps ?? null);
    const rv: SweepRunView = { seedIndex: sr.seedIndex, seed: sr.seed, runId: sr.runId, state: sr.state, attempts: sr.attempts, step, totalSteps, value };
    point.runs.push(rv);
    if (run) (runsByStatus[run.status] ??= []).push(run.id);
    if (run && sr.state === 'completed' && value !== null && Number.isFinite(value)) {
      completed.push({ params: sr.params, value });
      completedIds.set(sr.point, [...(completedIds.get(sr.point) ?? []), run.id]);
    }
  }
  const pointList = [...byPoint.values()].sort((a, b) => a.index - b.index);
  for (const p of pointList) {
    const values = p.runs.filter((r) => r.state === 'completed' && r.value !== null).map((r) => r.value as number);
    p.objective = statOf(values);
  }
  let best: SweepDetail['best'] = null;
  for (const p of pointList) {
    if (p.objective.mean === null) continue;
    const better = best === null || (objective.better === 'higher' ? p.objective.mean > (best.objective.mean as number) : p.objective.mean < (best.objective.mean as number));
    if (better) best = { point: p.index, params: p.params, objective: p.objective, runIds: completedIds.get(p.index) ?? [] };
  }
  const groups = groupRuns(store, { sweepId: sweep.id, by: paths }, (id) => host.datasetRef(id)).groups;
  return {
    ...sweepView(store, sweep, drivenHere),
    objective,
    config: sweep.config,
    baseModelId: sweep.baseModelId,
    pointList,
    groups,
    importance: importance(completed, paths),
    best,
    runsByStatus,
  };
}
