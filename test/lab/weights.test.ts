/**
 * Merge, export and import through the Lab service, on real runs: previews evaluate
 * without writing, saved merges evaluate as previewed, exports are atomic and refuse to
 * overwrite, and an exported model imported back evaluates identically.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 64, 10];
const tmp = tempDir();
let lab: Lab;
let baseModel = 0;
const adapters: number[] = [];

function lora(digit: number): RunConfig {
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, testLimit: 500, evalEvery: 0, maxSteps: 20, classes: [digit], seed: digit };
  c.lora = { ...c.lora!, r: 2, alpha: 4, targets: ['linear1', 'linear2'], init: 'gaussian' };
  return c;
}

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
  const base = await lab.waitForRun((await lab.createRun({ config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 1280, testLimit: 500, evalEvery: 0, maxSteps: 40 } })).id);
  baseModel = base.modelId!;
  for (const d of [7, 3]) adapters.push((await lab.waitForRun((await lab.createRun({ config: lora(d), baseModelId: baseModel })).id)).adapterId!);
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

describe('merging adapters', () => {
  it('previews two methods without writing anything, next to the base and each adapter alone', async () => {
    const before = { models: lab.store.models.list().length, adapters: lab.store.adapters.list().length };
    const req = { baseModelId: baseModel, adapters: [{ adapterId: adapters[0]!, weight: 1 }, { adapterId: adapters[1]!, weight: 1 }], testLimit: 500 };
    const linear = await lab.previewMerge({ ...req, method: 'linear' });
    const svd = await lab.previewMerge({ ...req, method: 'svd', rank: 4 }); // full rank: = linear
    expect(linear.adapters).toHaveLength(2);
    expect(svd.combined.wrongPerClass).toEqual(linear.combined.wrongPerClass);
    expect(linear.base.accuracy).toBeCloseTo((await lab.evaluateModel(baseModel, 500)).accuracy, 10);
    // Each adapter fixes its own digit relative to the base.
    expect(linear.adapters[0]!.wrongPerClass[7]).toBeLessThan(linear.base.wrongPerClass[7]!);
    expect(linear.adapters[1]!.wrongPerClass[3]).toBeLessThan(linear.base.wrongPerClass[3]!);
    expect({ models: lab.store.models.list().length, adapters: lab.store.adapters.list().length }).toEqual(before);
  });

  it('saves a merged model that evaluates exactly as previewed, with its lineage', async () => {
    const req = { baseModelId: baseModel, adapters: [{ adapterId: adapters[0]!, weight: 1 }, { adapterId: adapters[1]!, weight: 0.5 }], method: 'ties' as const, density: 0.5, rank: 2, seed: 1, testLimit: 500 };
    const preview = await lab.previewMerge(req);
    const saved = await lab.saveMerge({ ...req, name: 'ties 7+3', output: 'model' });
    expect('sizes' in saved && saved.kind).toBe('merged');
    const stored = lab.store.models.get(saved.id);
    expect(stored.parentModelId).toBe(baseModel);
    expect(stored.origin).toMatchObject({ merge: { method: 'ties', base: baseModel, density: 0.5 } });
    expect((await lab.evaluateModel(saved.id, 500)).wrongPerClass).toEqual(preview.combined.wrongPerClass);
    const asAdapter = await lab.saveMerge({ ...req, method: 'cat', name: 'cat 7+3', output: 'adapter' });
    expect('info' in asAdapter && asAdapter.info.r).toBe(4);
  });

  it('refuses adapters that do not fit', async () => {
    const other = await lab.waitForRun((await lab.createRun({ config: { ...defaultConfig('base'), sizes, trainLimit: 64, batchSize: 32, testLimit: 100, evalEvery: 0, maxSteps: 2, seed: 9 } })).id);
    await expect(lab.previewMerge({ baseModelId: other.modelId!, adapters: [{ adapterId: adapters[0]!, weight: 1 }], method: 'linear' })).rejects.toThrow(
      new RegExp(`was trained on model ${baseModel}, not on model ${other.modelId}`),
    );
    await expect(lab.previewMerge({ baseModelId: baseModel, adapters: [], method: 'linear' })).rejects.toMatchObject({ status: 400 });
  });
});

describe('export and import', () => {
  it('exports the merged model as safetensors and imports it back as a model that evaluates identically', async () => {
    const out = await lab.exportWeights({ target: { kind: 'adapter', id: adapters[0]! }, merged: true, format: 'safetensors', fileName: 'merged.safetensors' });
    expect(out.files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(lab.exportDir).filter((f) => f.includes('partial'))).toEqual([]);
    const imported = await lab.importWeights({ fileName: 'merged.safetensors', kind: 'model', name: 'round trip' });
    expect('sizes' in imported && imported.kind).toBe('imported');
    const preview = await lab.previewMerge({ baseModelId: baseModel, adapters: [{ adapterId: adapters[0]!, weight: 1 }], method: 'linear', testLimit: 500 });
    expect((await lab.evaluateModel(imported.id, 500)).wrongPerClass).toEqual(preview.combined.wrongPerClass);
  });

  it('exports an adapter as a PEFT folder and imports it bit-identically', async () => {
    await lab.exportWeights({ target: { kind: 'run', id: lab.store.adapters.get(adapters[1]!).runId! }, format: 'peft', fileName: 'digit3-peft' });
    expect(existsSync(join(lab.exportDir, 'digit3-peft', 'adapter_config.json'))).toBe(true);
    const back = await lab.importWeights({ fileName: 'digit3-peft', kind: 'adapter', baseModelId: baseModel });
    const a = lab.store.tensors.get({ adapterId: adapters[1]! });
    const b = lab.store.tensors.get({ adapterId: back.id });
    for (const k of Object.keys(a)) expect(Buffer.from(b[k]!.data.buffer).equals(Buffer.from(a[k]!.data.buffer))).toBe(true);
    expect(lab.store.adapters.get(back.id).info).toMatchObject({ r: 2, alpha: 4, scaling: 2 });
  });

  it('refuses to overwrite, and refuses names that leave the export folder', async () => {
    await expect(lab.exportWeights({ target: { kind: 'model', id: baseModel }, format: 'safetensors', fileName: 'merged.safetensors' })).rejects.toMatchObject({ status: 409 });
    await lab.exportWeights({ target: { kind: 'model', id: baseModel }, format: 'safetensors', fileName: 'merged.safetensors', overwrite: true });
    for (const bad of ['../escape.safetensors', 'a/b.safetensors', '.hidden', '/etc/passwd', '..', 'x\u0000y']) {
      await expect(lab.exportWeights({ target: { kind: 'model', id: baseModel }, format: 'safetensors', fileName: bad })).rejects.toMatchObject({ status: 400 });
      await expect(lab.importWeights({ fileName: bad, kind: 'model' })).rejects.toMatchObject({ status: 400 });
    }
    expect(existsSync(join(tmp.dir, 'escape.safetensors'))).toBe(false);
  });

  it('a hostile file is refused with a clear error and nothing is stored', async () => {
    const models = lab.store.models.list().length;
    const evil = Buffer.alloc(64);
    evil.writeBigUInt64LE(10n ** 15n, 0); // a header "longer" than the file
    writeFileSync(join(lab.exportDir, 'evil.safetensors'), evil);
    await expect(lab.importWeights({ fileName: 'evil.safetensors', kind: 'model' })).rejects.toMatchObject({ status: 400 });
    expect(lab.store.models.list().length).toBe(models);
  });

  it('exports a run’s metrics and a comparison as CSV and JSON', async () => {
    const runId = lab.store.adapters.get(adapters[0]!).runId!;
    await lab.exportWeights({ target: { kind: 'run', id: runId }, format: 'csv', fileName: 'run.csv' });
    await lab.exportWeights({ target: { kind: 'comparison', ids: [1, runId] }, format: 'csv', fileName: 'cmp.csv' });
    await lab.exportWeights({ target: { kind: 'run', id: runId }, format: 'json', fileName: 'run.json' });
    const { entries } = await lab.listFolder();
    expect(entries.map((e) => e.name)).toEqual(expect.arrayContaining(['run.csv', 'cmp.csv', 'run.json', 'digit3-peft', 'merged.safetensors']));
  });
});
