import { describe, expect, it } from 'vitest';
import { DependencyError, NotFoundError, StoreError, TransitionError } from '../../src-main/store/errors.ts';
import { RUN_STATUSES, canTransition } from '../../src-main/store/run-status.ts';
import type { RunStatus, StoredRun } from '../../src-main/store/runs.ts';
import type { Store } from '../../src-main/store/store.ts';
import { classicPreset, defaultConfig } from '../../src-main/contract/config.ts';
import type { RunSummary } from '../../src-main/contract/protocol.ts';
import { sampleEvaluation, useTempDirs } from './helpers.ts';

const temp = useTempDirs();

const summary: RunSummary = {
  steps: 100, epochs: 1, examples: 1000, stepsPerEpoch: 100, finalLoss: 0.0123, wallSeconds: 3.5, samplesPerSec: 1450.5, trainableParams: 6794,
  totalParams: 2_813_804, baseParams: 2_807_010, percentTrainable: 0.242, backend: 'wasm',
};

/** A LoRA run on a fresh base model, in the given state. */
function loraRun(store: Store, name = 'lora') {
  const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 1000, 2000, 10] });
  return store.runs.create({ name, kind: 'lora', config: classicPreset('lora'), baseModelId: base.id });
}

describe('runs', () => {
  it('round-trips every field through create → running → progress → completed', () => {
    const store = temp.store();
    const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 1000, 2000, 10] });
    const config = classicPreset('lora', 7);
    const created = store.runs.create({ name: 'digit 7, r=1', kind: 'lora', config, baseModelId: base.id });
    expect(created).toEqual<StoredRun>({
      id: created.id, name: 'digit 7, r=1', kind: 'lora', status: 'queued', config, baseModelId: base.id,
      modelId: null, adapterId: null, backend: null, device: null, owner: null, createdAt: created.createdAt,
      startedAt: null, finishedAt: null, error: null, exitReason: null, tags: [], notes: '', summary: null, progress: null,
      sweep: null, attempt: 1,
    });
    const running = store.runs.markRunning(created.id, 'wasm', 'cpu (2 threads)');
    expect(running).toMatchObject({ status: 'running', backend: 'wasm', device: 'cpu (2 threads)' });
    expect(running.startedAt).toBeGreaterThanOrEqual(created.createdAt);
    const progress = { type: 'progress', step: 50, totalSteps: 100, loss: 0.25, phase: 'training' };
    store.runs.setProgress(created.id, progress);
    store.runs.setTags(created.id, ['  digit7 ', 'classic', 'digit7', '']);
    store.runs.setNotes(created.id, 'wrong 7s: 90 → 12\nline two');
    store.runs.rename(created.id, 'renamed');
    const adapter = store.adapters.create({ name: 'a', runId: created.id, baseModelId: base.id, info: { r: 1, alpha: 1, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'gaussian', variant: 'lora', freezeA: false } });
    const done = store.runs.finish(created.id, 'completed', { summary, adapterId: adapter.id });
    expect(done).toEqual<StoredRun>({
      ...running, name: 'renamed', status: 'completed', adapterId: adapter.id, finishedAt: done.finishedAt,
      tags: ['digit7', 'classic'], notes: 'wrong 7s: 90 → 12\nline two', summary, progress,
    });
    expect(done.finishedAt).toBeGreaterThanOrEqual(running.startedAt ?? Infinity);
    expect(store.runs.get(created.id)).toEqual(done);
  });

  it('links outputs before finishing, and finish keeps them', () => {
    const store = temp.store();
    const run = store.runs.create({ name: 'base', kind: 'base', config: defaultConfig('base') });
    store.runs.markRunning(run.id, 'wasm', 'cpu');
    const model = store.models.create({ name: 'm', kind: 'base', sizes: [784, 10], sourceRunId: run.id });
    store.runs.link(run.id, { modelId: model.id });
    const failed = store.runs.finish(run.id, 'failed', { error: 'diverged: loss is NaN at step 12' });
    expect(failed).toMatchObject({ status: 'failed', modelId: model.id, error: 'diverged: loss is NaN at step 12', summary: null });
  });

  it('allows only the lifecycle transitions', () => {
    const store = temp.store();
    const allowed: [RunStatus, RunStatus][] = [
      ['queued', 'running'], ['queued', 'cancelled'], ['queued', 'failed'], ['queued', 'interrupted'],
      ['running', 'completed'], ['running', 'failed'], ['running', 'cancelled'], ['running', 'interrupted'],
      ['interrupted', 'queued'],
    ];
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        expect(canTransition(from, to), `${from} → ${to}`).toBe(allowed.some(([f, t]) => f === from && t === to));
      }
    }
    const run = store.runs.create({ name: 'r', kind: 'base', config: defaultConfig('base') });
    expect(() => store.runs.finish(run.id, 'completed')).toThrow(TransitionError);
    expect(() => store.runs.finish(run.id, 'completed')).toThrow(`run ${run.id} is queued; it cannot become completed`);
    store.runs.markRunning(run.id, 'cpu', 'cpu');
    expect(() => store.runs.markRunning(run.id, 'cpu', 'cpu')).toThrow(TransitionError);
    store.runs.finish(run.id, 'cancelled');
    expect(() => store.runs.finish(run.id, 'completed')).toThrow(/cancelled; it cannot become completed \(from cancelled: nothing \(it is final\)\)/);
    expect(() => store.runs.finish(run.id, 'queued' as 'completed')).toThrow(StoreError);
    expect(store.runs.get(run.id).status).toBe('cancelled');
    expect(() => store.runs.markRunning(999, 'cpu', 'cpu')).toThrow(new NotFoundError('run', 999));
    expect(() => store.runs.setNotes(999, 'x')).toThrow(NotFoundError);
    expect(() => store.runs.create({ name: 'x', kind: 'lora', config: defaultConfig('base') })).toThrow(/does not match its config/);
  });

  it('marks running and queued runs interrupted on start-up, and re-queues them as fresh attempts', () => {
    const store = temp.store();
    const cfg = defaultConfig('base');
    const queued = store.runs.create({ name: 'q', kind: 'base', config: cfg });
    const running = store.runs.create({ name: 'r', kind: 'base', config: cfg });
    const done = store.runs.create({ name: 'd', kind: 'base', config: cfg });
    store.runs.markRunning(running.id, 'wasm', 'cpu');
    store.runs.markRunning(done.id, 'wasm', 'cpu');
    store.runs.finish(done.id, 'completed', { summary });
    store.metrics.append(running.id, [{ key: 'train/loss', step: 1, value: 2.3, time: 1 }]);
    store.evaluations.put(running.id, 'before', 0, sampleEvaluation());

    expect(store.runs.markInterrupted()).toEqual([queued.id, running.id]);
    expect(store.runs.get(queued.id)).toMatchObject({ status: 'interrupted', error: 'interrupted: LoRA Lab stopped while this run was queued' });
    expect(store.runs.get(running.id)).toMatchObject({ status: 'interrupted', error: 'interrupted: LoRA Lab stopped while this run was running' });
    expect(store.runs.get(running.id).finishedAt).not.toBeNull();
    expect(store.runs.get(done.id)).toMatchObject({ status: 'completed', error: null });
    expect(store.runs.markInterrupted()).toEqual([]);

    const again = store.runs.requeue(running.id);
    expect(again).toMatchObject({ status: 'queued', startedAt: null, finishedAt: null, error: null, backend: null, progress: null });
    expect(store.metrics.count(running.id)).toBe(0);
    expect(store.evaluations.get(running.id)).toEqual({});
    expect(() => store.runs.requeue(done.id)).toThrow(TransitionError);
  });

  it('records the owning process, and interrupts only the runs asked for', () => {
    const store = temp.store();
    const cfg = defaultConfig('base');
    const mine = store.runs.create({ name: 'mine', kind: 'base', config: cfg });
    const theirs = store.runs.create({ name: 'theirs', kind: 'base', config: cfg });
    const finished = store.runs.create({ name: 'finished', kind: 'base', config: cfg, status: 'completed' });
    expect(store.runs.owner(mine.id)).toBeNull();
    store.runs.setOwner(mine.id, 'laptop/123');
    store.runs.setOwner(theirs.id, 'laptop/456');
    expect(store.runs.owner(mine.id)).toBe('laptop/123');
    expect(store.runs.get(theirs.id).owner).toBe('laptop/456');
    expect(() => store.runs.owner(999)).toThrow(NotFoundError);
    // Ids that are not running or queued are ignored, not errors.
    expect(store.runs.markInterrupted([theirs.id, finished.id, 999])).toEqual([theirs.id]);
    expect(store.runs.get(mine.id).status).toBe('queued');
    expect(store.runs.get(finished.id)).toMatchObject({ status: 'completed', error: null });
    expect(store.runs.requeue(theirs.id).owner).toBeNull();
  });

  it('deletes a run with its metrics, evaluations, adapter and adapter tensors', () => {
    const store = temp.store();
    const run = loraRun(store);
    const baseId = run.baseModelId as number;
    store.runs.markRunning(run.id, 'wasm', 'cpu');
    store.metrics.append(run.id, [{ key: 'train/loss', step: 1, value: 1, time: 1 }]);
    store.evaluations.put(run.id, 'after', 100, sampleEvaluation());
    const adapter = store.adapters.create({ name: 'a', runId: run.id, baseModelId: baseId, info: { r: 1, alpha: 1, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'lora', freezeA: false } });
    store.tensors.put({ adapterId: adapter.id }, { 'linear1.lora_B': { shape: [1000, 1], data: new Float32Array(1000) } });
    store.runs.finish(run.id, 'completed', { adapterId: adapter.id });
    const merged = store.models.create({ name: 'merged', kind: 'merged', sizes: [784, 10], parentModelId: baseId, sourceRunId: run.id });

    expect(() => loraRun(store).id).not.toThrow(); // an unrelated run stays
    const running = store.runs.create({ name: 'busy', kind: 'base', config: defaultConfig('base') });
    store.runs.markRunning(running.id, 'wasm', 'cpu');
    expect(() => store.runs.delete(running.id)).toThrow(/is running; cancel it before deleting it/);

    store.runs.delete(run.id);
    const count = (table: string) => (store.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${table === 'tensors' ? 'adapter_id' : 'run_id'} IS NOT NULL`).get() as { n: number }).n;
    expect(store.runs.find(run.id)).toBeUndefined();
    expect(count('metrics')).toBe(0);
    expect(count('evaluations')).toBe(0);
    expect(count('adapters')).toBe(0);
    expect(count('tensors')).toBe(0);
    // The base model it started from and a model merged from it stay (lineage is in origin).
    expect(store.models.find(baseId)).toBeDefined();
    expect(store.models.get(merged.id).sourceRunId).toBeNull();
    expect(() => store.runs.delete(run.id)).toThrow(NotFoundError);
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
  });

  it('deletes the model a base run produced, unless something depends on it', () => {
    const store = temp.store();
    const baseRun = store.runs.create({ name: 'train', kind: 'base', config: defaultConfig('base') });
    store.runs.markRunning(baseRun.id, 'wasm', 'cpu');
    const model = store.models.create({ name: 'trained', kind: 'base', sizes: [784, 10], sourceRunId: baseRun.id });
    store.tensors.put({ modelId: model.id }, { w: { shape: [2], data: new Float32Array(2) } });
    store.runs.finish(baseRun.id, 'completed', { modelId: model.id });
    const child = store.runs.create({ name: 'finetune', kind: 'lora', config: classicPreset('lora'), baseModelId: model.id });

    expect(() => store.runs.delete(baseRun.id)).toThrow(DependencyError);
    expect(() => store.runs.delete(baseRun.id)).toThrow(`model ${model.id} "trained" is used by run ${child.id} "finetune"; delete those first`);
    expect(store.runs.find(baseRun.id)).toBeDefined();
    expect(store.tensors.names({ modelId: model.id })).toEqual(['w']);

    store.runs.finish(child.id, 'cancelled');
    store.runs.delete(child.id);
    store.runs.delete(baseRun.id);
    expect(store.models.find(model.id)).toBeUndefined();
    expect(store.db.prepare('SELECT count(*) AS n FROM tensors').get()).toEqual({ n: 0 });
  });
});

describe('run listing filters', () => {
  function seed(store: Store) {
    const mk = (name: string, kind: 'base' | 'lora', patch: (c: ReturnType<typeof defaultConfig>) => void) => {
      const config = defaultConfig(kind);
      patch(config);
      return store.runs.create({ name, kind, config }).id;
    };
    const a = mk('baseline', 'base', () => {});
    const b = mk('fast lr', 'base', (c) => { c.lr = 0.01; c.optimizer = 'sgd'; });
    const c = mk('lora r1 digit 7', 'lora', () => {});
    const d = mk('lora r4 100%_sure', 'lora', (c) => { if (c.lora) c.lora.r = 4; c.classes = [3, 7]; });
    store.runs.setTags(a, ['paper', 'reference']);
    store.runs.setTags(c, ['paper']);
    store.runs.setNotes(b, 'Diverged early; try a SMALLER lr');
    store.runs.markRunning(c, 'wasm', 'cpu');
    store.runs.finish(c, 'completed');
    store.runs.finish(d, 'cancelled');
    return { a, b, c, d };
  }
  const ids = (runs: StoredRun[]) => runs.map((r) => r.id);

  it('filters by status, kind, tag, text and config parameters, newest first', () => {
    const store = temp.store();
    const { a, b, c, d } = seed(store);
    expect(ids(store.runs.list())).toEqual([d, c, b, a]);
    expect(ids(store.runs.list({ status: 'queued' }))).toEqual([b, a]);
    expect(ids(store.runs.list({ status: ['completed', 'cancelled'] }))).toEqual([d, c]);
    expect(ids(store.runs.list({ status: [] }))).toEqual([]);
    expect(ids(store.runs.list({ kind: 'lora' }))).toEqual([d, c]);
    expect(ids(store.runs.list({ tag: 'paper' }))).toEqual([c, a]);
    expect(ids(store.runs.list({ tag: 'pape' }))).toEqual([]);
    expect(ids(store.runs.list({ text: 'LORA' }))).toEqual([d, c]); // name, case-insensitive
    expect(ids(store.runs.list({ text: 'smaller' }))).toEqual([b]); // notes
    expect(ids(store.runs.list({ text: 'refer' }))).toEqual([a]); // tags
    expect(ids(store.runs.list({ text: '0%_' }))).toEqual([d]); // % and _ are literal
    expect(ids(store.runs.list({ text: '%' }))).toEqual([d]);
    expect(ids(store.runs.list({ params: { lr: 0.01 } }))).toEqual([b]);
    expect(ids(store.runs.list({ params: { lr: 0.001, optimizer: 'adam' } }))).toEqual([d, c, a]);
    expect(ids(store.runs.list({ params: { 'lora.r': 1 } }))).toEqual([c]);
    expect(ids(store.runs.list({ params: { 'lora.r': 4, 'classes.1': 7 } }))).toEqual([d]);
    expect(ids(store.runs.list({ params: { 'lora.r': 1, kind: 'base' } }))).toEqual([]);
    expect(ids(store.runs.list({ kind: 'lora', status: 'completed', tag: 'paper', text: 'digit', params: { seed: 0 } }))).toEqual([c]);
    expect(ids(store.runs.list({ limit: 2 }))).toEqual([d, c]);
  });

  it('matches booleans stored in the config', () => {
    const store = temp.store();
    // Configs are stored whole, so fields this version does not know are filterable too.
    const withFlag = (flag: boolean) => Object.assign(defaultConfig('base'), { extra: { flag } });
    const id = store.runs.create({ name: 'x', kind: 'base', config: withFlag(true) }).id;
    store.runs.create({ name: 'y', kind: 'base', config: withFlag(false) });
    expect(ids(store.runs.list({ params: { 'extra.flag': true } }))).toEqual([id]);
  });

  it('refuses parameter paths that are not dotted names', () => {
    const store = temp.store();
    expect(() => store.runs.list({ params: { "lr') OR 1=1 --": 1 } })).toThrow(/must be dotted names/);
    expect(() => store.runs.list({ params: { '0.x': 1 } })).toThrow(/must be dotted names/);
    expect(() => store.runs.list({ status: 'done' as RunStatus })).toThrow(/unknown run status "done"/);
  });
});
