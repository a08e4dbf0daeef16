/**
 * Full fine-tuning (issue 16) through the Lab on real tiny runs: a `full` run trains
 * every weight of its base on the slice with the same data, steps and optimizer as a
 * LoRA run; it has the base's `before` evaluation, stores a `finetuned` model whose
 * parent is the base, learns the slice (its focus errors fall), and its update
 * W − W0 is analysed densely — figures recomputed here by Jacobi SVDs of W − W0.
 * Wrong inputs are refused with the reason, before anything is stored.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { jacobiSvd, matrix } from '../../src-main/weights/linalg.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
const opts = { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } };
let lab: Lab;
let baseModel = 0;
let fullRun = 0;

const slice = (kind: 'full' | 'lora'): RunConfig => {
  const c = { ...defaultConfig(kind), sizes, batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 5, evalSubset: 100, maxSteps: 20, classes: [7], lr: 0.003 };
  if (c.lora) c.lora = { ...c.lora, r: 2, alpha: 2, targets: ['linear1', 'linear2'] };
  return c;
};

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), opts);
  const base = await lab.waitForRun((await lab.createRun({ name: 'ff base', config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 640, testLimit: 200, evalEvery: 0, maxSteps: 30 } })).id);
  baseModel = base.modelId!;
  const run = await lab.waitForRun((await lab.createRun({ config: slice('full'), baseModelId: baseModel })).id);
  expect(run.status, run.error ?? '').toBe('completed');
  fullRun = run.id;
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

describe('a full fine-tune', () => {
  it('trains every weight and stores a fine-tuned model whose parent is its base', async () => {
    const run = await lab.getRun(fullRun);
    expect(run.kind).toBe('full');
    expect(run.name).toBe('full fine-tune on digit 7 seed 0');
    expect([run.baseModelId, run.adapterId]).toEqual([baseModel, null]);
    expect(run.summary).toMatchObject({ trainableParams: 784 * 16 + 16 + 16 * 10 + 10, percentTrainable: 100, steps: 20 });
    const model = (await lab.listModels()).find((m) => m.id === run.modelId)!;
    expect(model).toMatchObject({ kind: 'finetuned', parentModelId: baseModel, sourceRunId: fullRun, sizes });
    // The base is kept alive by it, and lists it.
    expect((await lab.listModels()).find((m) => m.id === baseModel)?.usedBy.models.map((m) => m.id)).toContain(model.id);
    // Every layer changed; the base did not.
    const tuned = lab.store.tensors.get({ modelId: model.id });
    const base = lab.store.tensors.get({ modelId: baseModel });
    for (const name of Object.keys(base)) expect(tuned[name]!.data.some((x, i) => x !== base[name]!.data[i]), name).toBe(true);
  });

  it('starts from the base (before = the base’s evaluation) and learns the slice', async () => {
    const run = await lab.getRun(fullRun);
    const before = run.evaluations.before!;
    const fromBase = await lab.evaluateModel(baseModel, 200);
    expect(before.wrongPerClass).toEqual(fromBase.wrongPerClass);
    expect(run.focusWrong!).toBeLessThan(run.focusWrongBefore!);
    expect(run.otherAccuracy).not.toBeNull(); // what it forgot is measured too
    expect(Object.keys(run.metrics)).toEqual(expect.arrayContaining(['train/loss', 'test/accuracy']));
  });

  it('is analysed as the dense update W − W0 against its base, as Jacobi recomputes it', async () => {
    const a = await lab.analyzeAdapter({ target: { kind: 'run', id: fullRun }, intruders: { k: 5, epsilon: 0.5 } });
    expect(a.update).toMatchObject({ source: 'full', adapterId: null, runId: fullRun, variant: null });
    expect(a.base.id).toBe(baseModel);
    expect(a.layers.map((l) => [l.layer, l.method])).toEqual([
      ['linear1', 'dense'],
      ['linear2', 'dense'],
    ]);
    const model = (await lab.getRun(fullRun)).modelId!;
    const tuned = lab.store.tensors.get({ modelId: model });
    const base = lab.store.tensors.get({ modelId: baseModel });
    for (const l of a.layers) {
      const w = tuned[`${l.layer}.weight`]!;
      const w0 = base[`${l.layer}.weight`]!;
      const delta = matrix(w.shape[0]!, w.shape[1]!, Float64Array.from(w.data, (x, i) => x - w0.data[i]!));
      const ref = jacobiSvd(delta).S;
      for (let i = 0; i < ref.length; i++) {
        if (ref[i]! < 1e-4 * ref[0]!) break;
        expect(Math.abs(l.singularValues[i]! - ref[i]!) / ref[i]!).toBeLessThan(1e-6);
      }
      expect(l.amplification.rank).toBe(8);
      expect(l.intruders?.k).toBe(5);
    }
    // The same through the model itself.
    const same = await lab.analyzeAdapter({ target: { kind: 'model', id: model }, intruders: false });
    expect(same.layers.map((l) => l.singularValues)).toEqual(a.layers.map((l) => l.singularValues));
  });

  it('sets LoRA against it: φ between a LoRA adapter and the full update on the same base', async () => {
    const lora = await lab.waitForRun((await lab.createRun({ config: slice('lora'), baseModelId: baseModel })).id);
    const a = await lab.analyzeAdapter({ target: { kind: 'run', id: lora.id }, vs: { kind: 'run', id: fullRun }, intruders: false });
    const phi = a.similarity!.layers.find((p) => p.layer === 'linear1' && p.side === 'input')!.phi;
    expect(phi.length).toBe(2);
    // A dense update of linear1 [16, 784] has up to 16 directions (fewer where a hidden unit is dead: its row gets no gradient).
    expect(phi[0]!.length).toBeGreaterThan(2);
    expect(phi[0]!.length).toBeLessThanOrEqual(16);
    for (const row of phi) for (const x of row) expect(x).toBeGreaterThanOrEqual(0), expect(x).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('sweeps: a sweep cloned from a full run ranges over its learning rate, every run a full fine-tune of the same base', async () => {
    const sweep = await lab.createSweep({ start: { kind: 'run', runId: fullRun }, overrides: { maxSteps: 5, evalEvery: 0 }, axes: [{ path: 'lr', values: [0.001, 0.01] }], seeds: 1 });
    const done = await lab.waitForSweep(sweep.id);
    expect(done.status).toBe('completed');
    const runs = (await lab.listRuns()).filter((r) => r.sweep?.sweepId === sweep.id);
    expect(runs).toHaveLength(2);
    for (const r of runs) expect([r.kind, r.status, r.baseModelId]).toEqual(['full', 'completed', baseModel]);
    expect(runs.map((r) => r.config.lr).sort()).toEqual([0.001, 0.01]);
  });

  it('refuses what makes no sense, before anything is stored', async () => {
    const runs = (await lab.listRuns()).length;
    await expect(lab.createRun({ config: slice('full') })).rejects.toThrow(/full fine-tune run needs a base model/);
    await expect(lab.createRun({ config: { ...slice('full'), lora: slice('lora').lora }, baseModelId: baseModel })).rejects.toThrow(/has no LoRA settings/);
    await expect(lab.analyzeAdapter({ target: { kind: 'model', id: baseModel } })).rejects.toThrow(/without a parent/);
    expect((await lab.listRuns()).length).toBe(runs);
  });
});
