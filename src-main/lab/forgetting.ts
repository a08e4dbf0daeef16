/**
 * LabApi.forgetting: learning against forgetting for fine-tunes of one slice
 * (contract/forgetting.ts). Each run's end point comes from its full before/after
 * evaluations; its trajectory adds the quick evaluations the trainer logged as
 * `val/focus_accuracy` and `val/other_accuracy` (runs from before those metrics have
 * end points only), each with the n of the first evalSubset test samples they used.
 * Pure reads of the store.
 */
import { type DatasetRef, type EvaluationView, LabError } from '../contract/api.ts';
import { RUN_KIND_LABELS, isFineTune } from '../contract/config.ts';
import type { ForgettingRequest, ForgettingRun, ForgettingView, Measured, TrajectoryPoint } from '../contract/forgetting.ts';
import { VARIANT_NAMES } from '../contract/variant-label.ts';
import type { StoredRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { focusOf } from './views.ts';

export interface ForgettingDeps {
  datasetRef: (id: number) => DatasetRef | null;
  /** The labels of a data set's test split, in order. */
  testLabels: (datasetId: number) => Uint8Array;
}

/** Focus and other accuracy of one evaluation. */
function split(e: Pick<EvaluationView, 'wrongPerClass' | 'countPerClass'>, focus: ReadonlySet<number>): { focus: Measured; other: Measured } {
  let [fr, fn, or, on] = [0, 0, 0, 0];
  e.countPerClass.forEach((n, c) => {
    const right = n - (e.wrongPerClass[c] ?? 0);
    if (focus.has(c)) [fr, fn] = [fr + right, fn + n];
    else [or, on] = [or + right, on + n];
  });
  return { focus: { accuracy: fn ? fr / fn : 0, n: fn }, other: { accuracy: on ? or / on : 0, n: on } };
}

export function forgettingView(store: Store, req: ForgettingRequest, deps: ForgettingDeps): ForgettingView {
  if ((req.runIds === undefined) === (req.sweepId === undefined)) throw new LabError('name the runs (runIds) or a sweep (sweepId), one of the two');
  let ids: number[];
  if (req.sweepId !== undefined) {
    if (!store.sweeps.find(req.sweepId)) throw new LabError(`sweep ${req.sweepId} does not exist`, 404);
    ids = store.sweeps.runs(req.sweepId).flatMap((sr) => (sr.runId === null ? [] : [sr.runId]));
  } else ids = [...new Set(req.runIds)];
  const skipped: ForgettingView['skipped'] = [];
  let slice: { data: number; classes: number[] } | null = null;
  const chosen: { run: StoredRun; before: EvaluationView; after: EvaluationView; focus: Set<number> }[] = [];
  for (const id of ids) {
    const run = store.runs.find(id);
    if (!run) throw new LabError(`run ${id} does not exist`, 404);
    const skip = (reason: string) => skipped.push({ runId: run.id, name: run.name, reason });
    if (!isFineTune(run.kind)) {
      skip('a base run: it learns everything from scratch, so nothing is forgotten against a base');
      continue;
    }
    if (run.status !== 'completed') {
      skip(`${run.status}, not completed`);
      continue;
    }
    const ev = store.evaluations.get(run.id);
    const classCount = ev.after?.countPerClass.length ?? 0;
    const focus = focusOf(run.config.classes, classCount);
    if (!ev.before || !ev.after) {
      skip('no evaluation before fine-tuning was stored');
      continue;
    }
    if (!focus) {
      skip('trained on every class: there are no other classes to forget');
      continue;
    }
    const classes = [...focus].sort((a, b) => a - b);
    slice ??= { data: run.config.data, classes };
    if (slice.data !== run.config.data || slice.classes.join() !== classes.join()) {
      skip(`another slice (data set ${run.config.data}, classes ${classes.join(',')}) than the first run's (data set ${slice.data}, classes ${slice.classes.join(',')})`);
      continue;
    }
    chosen.push({ run, before: ev.before, after: ev.after, focus: new Set(classes) });
  }
  const dataset = slice ? deps.datasetRef(slice.data) : null;
  const labels = slice ? deps.testLabels(slice.data) : null;
  const runs = chosen.map(({ run, before, after, focus }) => toRun(store, run, split(before, focus), split(after, focus), focus, labels));
  markFront(runs);
  const front = runs.filter((r) => r.pareto).sort((a, b) => a.forgotten - b.forgotten || b.learned - a.learned).map((r) => r.runId);
  return { dataset, focusClasses: slice ? slice.classes.map((c) => dataset?.classes[c] ?? String(c)) : [], runs, front, skipped };
}

function toRun(store: Store, run: StoredRun, before: { focus: Measured; other: Measured }, after: { focus: Measured; other: Measured }, focus: Set<number>, labels: Uint8Array | null): ForgettingRun {
  const point = (step: number, s: { focus: Measured; other: Measured }, source: TrajectoryPoint['source']): TrajectoryPoint => ({
    step,
    learned: s.focus.accuracy - before.focus.accuracy,
    forgotten: before.other.accuracy - s.other.accuracy,
    ...s,
    source,
  });
  // The quick evaluations ran on the first min(evalSubset, testLimit) test samples: their n.
  const subset = Math.min(run.config.evalSubset, run.config.testLimit ?? Infinity, labels?.length ?? 0);
  let focusN = 0;
  for (let i = 0; i < subset; i++) if (focus.has(labels![i] as number)) focusN++;
  const quickN = { focus: focusN, other: subset - focusN };
  const f = store.metrics.series(run.id, 'val/focus_accuracy');
  const o = store.metrics.series(run.id, 'val/other_accuracy');
  const otherAt = new Map(o.steps.map((s, i) => [s, o.values[i] as number]));
  const quick = f.steps.flatMap((step, i) => {
    const other = otherAt.get(step);
    return other === undefined ? [] : [point(step, { focus: { accuracy: f.values[i] as number, n: quickN.focus }, other: { accuracy: other, n: quickN.other } }, 'quick')];
  });
  const steps = run.summary?.steps ?? quick.at(-1)?.step ?? 0;
  const lora = run.config.lora;
  return {
    runId: run.id,
    name: run.name,
    kind: run.kind,
    method: run.kind === 'lora' && lora ? `${VARIANT_NAMES[lora.variant ?? 'lora']} r${lora.r}` : RUN_KIND_LABELS[run.kind],
    rank: run.kind === 'lora' && lora ? lora.r : null,
    lr: run.config.lr,
    seed: run.config.seed,
    steps,
    learned: after.focus.accuracy - before.focus.accuracy,
    forgotten: before.other.accuracy - after.other.accuracy,
    before,
    after,
    trajectory: [point(0, before, 'before'), ...quick.filter((p) => p.step < steps), point(steps, after, 'after')],
    pareto: false,
  };
}

/** Pareto: no other run learned at least as much and forgot at most as much, one of them strictly. */
function markFront(runs: ForgettingRun[]): void {
  for (const r of runs) {
    r.pareto = !runs.some((q) => q !== r && q.learned >= r.learned && q.forgotten <= r.forgotten && (q.learned > r.learned || q.forgotten < r.forgotten));
  }
}
