/**
 * What the Compare page derives per run beyond the stored metrics: each run's length in
 * steps (for x as % of each run) and its focus classes' wrong count before → after, with
 * accuracy on the other classes beside it. Pure functions.
 */
import type { EvaluationView, RunView, Series } from '../../src-main/contract/api.ts';
import { isFineTune } from '../../src-main/contract/config.ts';
import { className } from './classes.ts';
import { estimateSteps } from './estimates.ts';

/**
 * A run's length in steps: what it trained (completed), what it plans while it trains,
 * how far it got when it stopped early (its last progress or last recorded step), else
 * what its config asks for.
 */
export function runLength(run: Pick<RunView, 'status' | 'summary' | 'progress' | 'config'>, trainLoss: Series | null | undefined): number {
  if (run.summary) return run.summary.steps;
  const active = run.status === 'running' || run.status === 'queued';
  if (active && run.progress?.phase === 'training' && run.progress.totalSteps > 0) return run.progress.totalSteps;
  const last = trainLoss?.steps[trainLoss.steps.length - 1];
  if (!active && (last !== undefined || run.progress)) return Math.max(last ?? 0, run.progress?.step ?? 0);
  return estimateSteps(run.config);
}

export interface FocusSummary {
  /** The classes the run trained on (a subset of its data set's), by index, sorted. */
  classes: number[];
  /** The same by name ("7", "Trouser"). */
  names: string[];
  /** Wrong answers on those classes' test samples, before training (fine-tunes) and after. */
  wrongBefore: number | null;
  wrongAfter: number;
  /** Test samples of those classes (the after evaluation's n). */
  images: number;
  /** Accuracy (fraction) on every other class's test samples, before and after, out of `otherImages`. */
  otherBefore: number | null;
  otherAfter: number | null;
  otherImages: number;
}

type Evals = { before?: Pick<EvaluationView, 'wrongPerClass' | 'countPerClass'>; after?: Pick<EvaluationView, 'wrongPerClass' | 'countPerClass'> };

/** A run's focus classes before → after; null for a run trained on every class, or not evaluated yet. */
export function focusSummary(run: Pick<RunView, 'kind' | 'config'> & { dataset?: RunView['dataset'] }, evals: Evals | undefined): FocusSummary | null {
  const subset = run.config.classes;
  const after = evals?.after;
  const classCount = run.dataset?.classes.length ?? after?.countPerClass.length ?? 0;
  if (!subset || subset.length >= classCount || !after) return null;
  // Only a fine-tune's "before" is the same network before training.
  const before = isFineTune(run.kind) ? evals?.before : undefined;
  const sum = (xs: readonly number[], pick: (c: number) => boolean) => xs.reduce((s, n, c) => s + (pick(c) ? n : 0), 0);
  const inFocus = (c: number) => subset.includes(c);
  const outside = (c: number) => !subset.includes(c);
  const otherAcc = (e: Evals['after']) => {
    if (!e) return null;
    const n = sum(e.countPerClass, outside);
    return n > 0 ? 1 - sum(e.wrongPerClass, outside) / n : null;
  };
  const classes = [...subset].sort((a, b) => a - b);
  return {
    classes,
    names: classes.map((c) => className(run.dataset, c)),
    wrongBefore: before ? sum(before.wrongPerClass, inFocus) : null,
    wrongAfter: sum(after.wrongPerClass, inFocus),
    images: sum(after.countPerClass, inFocus),
    otherBefore: otherAcc(before),
    otherAfter: otherAcc(after),
    otherImages: sum(after.countPerClass, outside),
  };
}
