import { describe, expect, it } from 'vitest';
import type { StoredAdapter } from '../../src-main/store/adapters.ts';
import { DependencyError, NotFoundError } from '../../src-main/store/errors.ts';
import type { StoredModel } from '../../src-main/store/models.ts';
import { classicPreset } from '../../src-main/contract/config.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { useTempDirs } from './helpers.ts';

const temp = useTempDirs();

const info: AdapterInfo = { r: 4, alpha: 8, scaling: 4, scalingRule: 'rslora', targets: ['linear1', 'linear3'], init: 'gaussian', variant: 'lora', freezeA: false };

describe('models', () => {
  it('round-trips every field', () => {
    const store = temp.store();
    const run = store.runs.create({ name: 'base run', kind: 'base', config: classicPreset('base') });
    const base = store.models.create({ name: 'mnist base', kind: 'base', sizes: [784, 1000, 2000, 10], sourceRunId: run.id });
    const origin = { merged: [{ adapterId: 3, weight: 0.5 }], method: 'linear', note: 'ünïcödé ✓' };
    const merged = store.models.create({ name: 'merged', kind: 'merged', sizes: [784, 10], parentModelId: base.id, sourceRunId: run.id, origin });
    expect(merged).toEqual<StoredModel>({
      id: merged.id,
      name: 'merged',
      kind: 'merged',
      sizes: [784, 10],
      parentModelId: base.id,
      sourceRunId: run.id,
      datasetId: null,
      origin,
      createdAt: expect.any(Number) as number,
    });
    expect(Math.abs(merged.createdAt - Date.now())).toBeLessThan(5000);
    expect(store.models.get(base.id)).toEqual({ ...base, parentModelId: null, origin: null });
    expect(store.models.list().map((m) => m.id)).toEqual([merged.id, base.id]);
    expect(store.models.list({ kind: 'base' }).map((m) => m.id)).toEqual([base.id]);
    expect(store.models.find(12345)).toBeUndefined();
    expect(() => store.models.get(12345)).toThrow(new NotFoundError('model', 12345));
  });

  it('refuses an unknown kind (CHECK constraint)', () => {
    const store = temp.store();
    expect(() => store.models.create({ name: 'x', kind: 'weird' as 'base', sizes: [1] })).toThrow(/CHECK constraint/);
  });

  it('refuses to delete a model that runs, adapters or models depend on, and lists them', () => {
    const store = temp.store();
    const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 10] });
    const run = store.runs.create({ name: 'finetune', kind: 'lora', config: classicPreset('lora'), baseModelId: base.id });
    const adapter = store.adapters.create({ name: 'imported adapter', baseModelId: base.id, info });
    const child = store.models.create({ name: 'merged child', kind: 'merged', sizes: [784, 10], parentModelId: base.id });
    store.tensors.put({ modelId: base.id }, { w: { shape: [1], data: new Float32Array([1]) } });

    expect(store.models.dependents(base.id)).toEqual({
      runs: [{ id: run.id, name: 'finetune' }],
      adapters: [{ id: adapter.id, name: 'imported adapter' }],
      models: [{ id: child.id, name: 'merged child' }],
    });
    let error: unknown;
    try {
      store.models.delete(base.id);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).dependents.runs).toEqual([{ id: run.id, name: 'finetune' }]);
    expect((error as Error).message).toBe(
      `model ${base.id} "base" is used by run ${run.id} "finetune", adapter ${adapter.id} "imported adapter", model ${child.id} "merged child"; delete those first`,
    );
    expect(store.models.find(base.id)).toBeDefined();
    expect(store.tensors.names({ modelId: base.id })).toEqual(['w']);

    store.runs.finish(run.id, 'cancelled');
    store.runs.delete(run.id);
    store.adapters.delete(adapter.id);
    store.models.delete(child.id);
    store.models.delete(base.id);
    expect(store.models.list()).toEqual([]);
    expect(store.db.prepare('SELECT count(*) AS n FROM tensors').get()).toEqual({ n: 0 });
    expect(() => store.models.delete(base.id)).toThrow(NotFoundError);
  });

  it('unlinks the producing run when its model is deleted', () => {
    const store = temp.store();
    const run = store.runs.create({ name: 'base run', kind: 'base', config: classicPreset('base') });
    const model = store.models.create({ name: 'm', kind: 'base', sizes: [784, 10], sourceRunId: run.id });
    store.runs.markRunning(run.id, 'wasm', 'cpu');
    store.runs.finish(run.id, 'completed', { modelId: model.id });
    store.models.delete(model.id);
    expect(store.runs.get(run.id).modelId).toBeNull();
  });
});

describe('adapters', () => {
  it('round-trips every field, including the adapter info', () => {
    const store = temp.store();
    const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 1000, 2000, 10] });
    const run = store.runs.create({ name: 'lora', kind: 'lora', config: classicPreset('lora'), baseModelId: base.id });
    const origin = { peft: { path: '/tmp/adapter_model.safetensors' } };
    const a = store.adapters.create({ name: 'digit 7', runId: run.id, baseModelId: base.id, info, origin });
    expect(a).toEqual<StoredAdapter>({ id: a.id, name: 'digit 7', runId: run.id, baseModelId: base.id, info, origin, createdAt: a.createdAt });
    expect(store.adapters.get(a.id)).toEqual(a);
    const imported = store.adapters.create({ name: 'imported', baseModelId: base.id, info: { ...info, scalingRule: 'standard', scaling: 2, init: 'kaiming', variant: 'lora', freezeA: false, alpha: 0.5 } });
    expect(imported.runId).toBeNull();
    expect(imported.origin).toBeNull();
    expect(imported.info.alpha).toBe(0.5);
    expect(store.adapters.list().map((x) => x.id)).toEqual([imported.id, a.id]);
    expect(store.adapters.list({ runId: run.id }).map((x) => x.id)).toEqual([a.id]);
    const other = store.models.create({ name: 'other', kind: 'base', sizes: [784, 10] });
    expect(store.adapters.list({ baseModelId: other.id })).toEqual([]);
    expect(store.adapters.list({ baseModelId: base.id })).toHaveLength(2);
  });

  it('deletes its tensors with it and unlinks the run that produced it', () => {
    const store = temp.store();
    const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 10] });
    const run = store.runs.create({ name: 'lora', kind: 'lora', config: classicPreset('lora'), baseModelId: base.id });
    const a = store.adapters.create({ name: 'a', runId: run.id, baseModelId: base.id, info });
    store.tensors.put({ adapterId: a.id }, { 'linear1.lora_A': { shape: [4, 784], data: new Float32Array(4 * 784) } });
    store.runs.markRunning(run.id, 'wasm', 'cpu');
    store.runs.finish(run.id, 'completed', { adapterId: a.id });
    store.adapters.delete(a.id);
    expect(store.runs.get(run.id).adapterId).toBeNull();
    expect(store.db.prepare('SELECT count(*) AS n FROM tensors').get()).toEqual({ n: 0 });
    expect(() => store.adapters.delete(a.id)).toThrow(new NotFoundError('adapter', a.id));
  });

  it('refuses an adapter for a model that does not exist', () => {
    const store = temp.store();
    expect(() => store.adapters.create({ name: 'x', baseModelId: 77, info })).toThrow(/FOREIGN KEY/);
  });
});
