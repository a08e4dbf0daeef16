/**
 * Stored rows as the LabApi shows them: a run with its figures derived from its
 * evaluations (focus classes, the other classes' accuracy) and its data set by name, a
 * model with what uses it, an adapter. Pure reads of the store.
 */
import type { AdapterView, DatasetRef, EvaluationView, ModelView, RunProgress, RunView } from '../contract/api.ts';
import type { StoredAdapter } from '../store/adapters.ts';
import type { StoredRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';

export function datasetRef(store: Store, id: number): DatasetRef | null {
  const d = store.datasets.find(id);
  return d ? { id: d.id, name: d.name, kind: d.kind, shape: d.shape, classes: d.classes } : null;
}

/** The classes a run focuses on: its training subset, when that is not every class. */
export function focusOf(classes: readonly number[] | null, classCount: number): readonly number[] | null {
  return classes && classes.length < classCount ? classes : null;
}

export function runView(store: Store, run: StoredRun, progress: RunProgress | null, refOf: (datasetId: number) => DatasetRef | null): RunView {
  const ev = store.evaluations.get(run.id);
  const dataset = refOf(run.config.data);
  const classCount = dataset?.classes.length ?? ev.after?.countPerClass.length ?? 0;
  const focus = focusOf(run.config.classes, classCount);
  const wrongOn = (e: EvaluationView | undefined) => (e && focus ? focus.reduce((s, c) => s + (e.wrongPerClass[c] ?? 0), 0) : null);
  // The classes outside the focus: accuracy there (fraction) and how many samples that is.
  const otherOn = (e: EvaluationView | undefined) => {
    if (!e || !focus) return null;
    let wrong = 0;
    let n = 0;
    e.countPerClass.forEach((count, c) => {
      if (focus.includes(c)) return;
      wrong += e.wrongPerClass[c] ?? 0;
      n += count;
    });
    return n > 0 ? { accuracy: 1 - wrong / n, n } : null;
  };
  const otherAfter = otherOn(ev.after);
  const baseData = run.baseModelId !== null ? (store.models.find(run.baseModelId)?.datasetId ?? null) : null;
  const baseRef = baseData !== null && baseData !== run.config.data ? refOf(baseData) : null;
  const { owner: _owner, progress: _stored, ...record } = run;
  return {
    ...record,
    progress,
    accuracy: ev.after?.accuracy ?? null,
    focusWrong: wrongOn(ev.after),
    focusWrongBefore: wrongOn(ev.before),
    otherAccuracy: otherAfter?.accuracy ?? null,
    otherAccuracyBefore: otherOn(ev.before)?.accuracy ?? null,
    otherCount: otherAfter?.n ?? null,
    dataset,
    focusClasses: focus && dataset ? focus.map((c) => dataset.classes[c] ?? String(c)) : null,
    baseDataset: baseRef ? { id: baseRef.id, name: baseRef.name } : null,
  };
}

export function modelView(store: Store, id: number, refOf: (datasetId: number) => DatasetRef | null): ModelView {
  const m = store.models.get(id);
  const d = store.models.dependents(id);
  const adapters = d.adapters.map((a) => ({ ...a, runId: store.adapters.find(a.id)?.runId ?? null }));
  return {
    ...m,
    dataset: m.datasetId === null ? null : refOf(m.datasetId),
    dependents: { runs: d.runs.length, adapters: d.adapters.length, models: d.models.length },
    usedBy: { runs: d.runs, adapters, models: d.models },
  };
}

export function adapterView({ id, name, runId, baseModelId, info, origin, createdAt }: StoredAdapter): AdapterView {
  return { id, name, runId, baseModelId, info, origin, createdAt };
}
