/**
 * The parts of a group of runs: a run's config as dotted paths, a run's summary figures
 * (derived exactly as the run's view derives them: views.ts runView), why a run is left
 * out, and one group's view with the raw values behind its statistics (which Welch's
 * test needs again).
 */
import type { DatasetRef } from '../contract/api.ts';
import type { RunConfig } from '../contract/config.ts';
import type { GroupFigure, GroupView } from '../contract/groups.ts';
import { GROUP_FIGURE_KEYS } from '../contract/groups.ts';
import { statOf } from '../contract/stats.ts';
import type { ParamValue } from '../contract/sweep.ts';
import type { StoredRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { runView } from './views.ts';

/**
 * { lora: { r: 1 }, sizes: [784, 32, 10] } → { 'lora.r': 1, sizes: '[784,32,10]' }.
 * Arrays are one value each, as JSON, so they compare exactly (`classes`, `sizes`).
 */
export function flattenParams(cfg: RunConfig): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) out[path] = null;
    else if (Array.isArray(v)) out[path] = JSON.stringify(v);
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    else out[path] = v as ParamValue;
  };
  walk(cfg, '');
  return out;
}

/**
 * The value at a dotted path of a config: a leaf as flattenParams gives it, an object
 * (e.g. `lora`) as its JSON, undefined where the config has no such path.
 */
export function paramAt(cfg: RunConfig, path: string): ParamValue | undefined {
  let v: unknown = cfg;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !(part in v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') return v as ParamValue;
  return JSON.stringify(v);
}

/** "lora.r=4 lr=0.003"; a group keyed by nothing (every run alike but the seed) is "all runs". */
export function labelOf(by: readonly string[], params: Record<string, ParamValue>): string {
  if (by.length === 0) return 'all runs';
  return by.map((p) => `${p}=${params[p] === null ? 'none' : String(params[p])}`).join(' ');
}

/** One run's figures: GROUP_FIGURES keys (null where it lacks one) and its wrong count per class after training. */
export interface RunFigures {
  figures: Record<GroupFigure, number | null>;
  wrongPerClass: number[] | null;
}

export function runFigures(store: Store, run: StoredRun, refOf: (id: number) => DatasetRef | null): RunFigures {
  const view = runView(store, run, null, refOf);
  const after = store.evaluations.get(run.id).after;
  return {
    figures: {
      accuracy: view.accuracy,
      focusWrong: view.focusWrong,
      focusWrongBefore: view.focusWrongBefore,
      otherAccuracy: view.otherAccuracy,
      finalLoss: run.summary?.finalLoss ?? null,
      wallSeconds: run.summary?.wallSeconds ?? null,
    },
    wrongPerClass: after ? after.wrongPerClass : null,
  };
}

/** Why a run is not among a group's completed runs (one line). */
export function exclusionReason(run: StoredRun, pruned: boolean): string {
  const why = run.error ? `: ${run.error.split('\n')[0]}` : '';
  if (pruned) return `pruned${why}`;
  switch (run.status) {
    case 'queued':
      return 'queued, not trained yet';
    case 'running':
      return 'still running';
    case 'interrupted':
      return `interrupted (its process ended before it finished)${why}`;
    default:
      return `${run.status}${why}`;
  }
}

/** A group's view plus the values its statistics are over (completed runs, per figure and per class). */
export interface BuiltGroup {
  view: GroupView;
  values: Record<GroupFigure, number[]>;
  /** wrong[c] = the completed runs' wrong counts on class c. */
  wrong: number[][];
  /** The data set id every run of the group shares, or null when they differ. */
  datasetId: number | null;
}

export function buildGroup(
  runs: readonly StoredRun[],
  head: { key: string; label: string; params: Record<string, ParamValue> },
  figuresOf: (run: StoredRun) => RunFigures,
  refOf: (id: number) => DatasetRef | null,
): BuiltGroup {
  const completed = runs.filter((r) => r.status === 'completed');
  const ids = new Set(runs.map((r) => r.config.data));
  const datasetId = ids.size === 1 ? (runs[0] as StoredRun).config.data : null;
  const dataset = datasetId === null ? null : refOf(datasetId);
  const values = Object.fromEntries(GROUP_FIGURE_KEYS.map((k) => [k, [] as number[]])) as Record<GroupFigure, number[]>;
  const perRun = completed.map(figuresOf);
  for (const f of perRun) {
    for (const k of GROUP_FIGURE_KEYS) {
      const v = f.figures[k];
      if (v !== null && Number.isFinite(v)) values[k].push(v);
    }
  }
  // Per class only over one data set: class c of another data set is another class.
  const classCount = datasetId === null ? 0 : (dataset?.classes.length ?? Math.max(0, ...perRun.map((f) => f.wrongPerClass?.length ?? 0)));
  const wrong = Array.from({ length: classCount }, (_, c) =>
    perRun.flatMap((f) => (f.wrongPerClass && f.wrongPerClass[c] !== undefined ? [f.wrongPerClass[c] as number] : [])),
  );
  const view: GroupView = {
    key: head.key,
    label: head.label,
    params: head.params,
    runIds: runs.map((r) => r.id),
    completedIds: completed.map((r) => r.id),
    n: completed.length,
    figures: Object.fromEntries(GROUP_FIGURE_KEYS.map((k) => [k, statOf(values[k])])) as GroupView['figures'],
    wrongPerClass: wrong.map((w) => statOf(w)),
    dataset,
    seeds: completed.map((r) => r.config.seed),
  };
  return { view, values, wrong, datasetId };
}
