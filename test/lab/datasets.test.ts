/**
 * Data sets through the Lab, with real trainer processes: a table imported from a CSV
 * (named classes, label column last) trains a base whose widths follow the data, a LoRA
 * fine-tune on one class makes that class's errors fall, the merged model evaluates as
 * the unmerged adapter did, exports name the classes, the trainer refuses data whose
 * bytes no longer match their hash, and a fine-tune on another data set of the same
 * shape says it is a domain shift.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src-main/contract/api.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { DatasetView } from '../../src-main/contract/dataset.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { readSafetensors, writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { blobCsv } from '../helpers/datasets.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
let lab: Lab;
let blobs: DatasetView;
let base: RunView;

const small = (over: Partial<RunConfig>): RunConfig => ({ ...defaultConfig('base'), batchSize: 10, evalEvery: 0, ...over });

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
  blobCsv(join(tmp.dir, 'blobs.csv'), 900, 1);
  blobs = await lab.importDataset({ path: join(tmp.dir, 'blobs.csv'), name: 'blobs', testFraction: 0.3, seed: 4 });
  base = await lab.waitForRun((await lab.createRun({ config: small({ data: blobs.id, sizes: [6, 16, 3], maxSteps: 15, lr: 0.01 }) })).id);
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

describe('a data set of your own', () => {
  it('is imported with its class names, counts per class and shape', () => {
    expect(blobs).toMatchObject({ name: 'blobs', kind: 'table', shape: [6], inputSize: 6, dtype: 'float32', classes: ['blue', 'green', 'red'] });
    expect(blobs.train.count + blobs.test.count).toBe(900);
    expect(blobs.test.perClass).toEqual([90, 90, 90]);
  });

  it('trains a base whose widths follow the data set, named after it', () => {
    expect(base.status).toBe('completed');
    expect(base.name).toBe('base 6→16→3 on blobs seed 0');
    expect(base.dataset).toMatchObject({ id: blobs.id, name: 'blobs', classes: ['blue', 'green', 'red'] });
    expect(base.accuracy).toBeGreaterThan(0.5); // chance is 1/3
  });

  it('takes a plain name inside the export folder, and refuses a link there', async () => {
    mkdirSync(lab.exportDir, { recursive: true });
    blobCsv(join(lab.exportDir, 'in-folder.csv'), 90, 9);
    const d = await lab.importDataset({ path: 'in-folder.csv' });
    expect(d).toMatchObject({ name: 'in-folder', classes: ['blue', 'green', 'red'] });
    symlinkSync(join(tmp.dir, 'blobs.csv'), join(lab.exportDir, 'linked.csv'));
    await expect(lab.importDataset({ path: 'linked.csv', name: 'linked' })).rejects.toThrow(/linked\.csv is a link/);
    await expect(lab.importDataset({ path: '../blobs.csv' })).rejects.toMatchObject({ status: 400 });
    // …nor a link anywhere below a folder there.
    mkdirSync(join(lab.exportDir, 'tables'));
    symlinkSync(join(tmp.dir, 'blobs.csv'), join(lab.exportDir, 'tables', 'train.csv'));
    await expect(lab.importDataset({ path: 'tables' })).rejects.toThrow(/tables: train\.csv is a link/);
    // Samples: repeated indices are answered once; the largest seed is a seed like any other.
    expect((await lab.datasetSamples(d.id, 'test', [0, 0, 0, 1])).map((x) => x.index)).toEqual([0, 1]);
    const top = await lab.importDataset({ path: 'in-folder.csv', name: 'seed max', seed: 0xffffffff });
    expect(top.origin).toMatchObject({ rowsShuffled: { seed: 0xffffffff } });
    await lab.deleteDataset(top.id);
    await lab.deleteDataset(d.id);
  });

  it('an imported model is for the data set its widths fit, and one that fits none is refused', async () => {
    const out = await lab.exportWeights({ target: { kind: 'model', id: base.modelId! }, format: 'safetensors', fileName: join(tmp.dir, 'base.safetensors') });
    const back = await lab.importWeights({ fileName: out.files[0]!.path, kind: 'model', name: 'blobs base again' });
    expect('dataset' in back && back.dataset?.name).toBe('blobs');
    const odd = writeSafetensors({ 'linear1.weight': { shape: [3, 5], data: new Float32Array(15) }, 'linear1.bias': { shape: [3], data: new Float32Array(3) } }, { format: 'pt' });
    writeFileSync(join(tmp.dir, 'odd.safetensors'), odd);
    await expect(lab.importWeights({ fileName: join(tmp.dir, 'odd.safetensors'), kind: 'model' })).rejects.toThrow(/maps 5 inputs to 3 classes; no data set in the lab has that shape/);
    await lab.deleteModel(back.id);
  });

  it('refuses widths that do not fit the data set, naming it', async () => {
    await expect(lab.createRun({ config: small({ data: blobs.id, sizes: [784, 16, 10] }) })).rejects.toThrow(/input width must be 6 \(the values of one sample of blobs\)/);
    await expect(lab.createRun({ config: small({ data: blobs.id, sizes: [6, 16, 3], classes: [3] }) })).rejects.toThrow(/unknown class 3 \(classes are 0–2 in blobs\)/);
  });

  it('fine-tunes LoRA on one class: its errors fall, merged and unmerged agree, exports name the classes', async () => {
    const cfg: RunConfig = { ...defaultConfig('lora'), data: blobs.id, sizes: [6, 16, 3], classes: [0], maxSteps: 40, lr: 0.02, evalEvery: 0, batchSize: 10 };
    cfg.lora = { ...cfg.lora!, r: 2, alpha: 2, targets: ['linear1', 'linear2'] };
    const run = await lab.waitForRun((await lab.createRun({ config: cfg, baseModelId: base.modelId! })).id);
    expect(run.status).toBe('completed');
    expect(run.focusClasses).toEqual(['blue']);
    expect(run.name).toBe('LoRA r2 α2 on blue seed 0');
    expect(run.focusWrong!).toBeLessThan(run.focusWrongBefore!);
    expect(run.baseDataset).toBeNull();

    const detail = await lab.getRun(run.id);
    const merged = await lab.saveMerge({ baseModelId: base.modelId!, adapters: [{ adapterId: run.adapterId!, weight: 1 }], method: 'linear', name: 'blobs merged', output: 'model' });
    const e = await lab.evaluateModel(merged.id);
    expect(e.classes).toEqual(['blue', 'green', 'red']);
    expect(e.wrongPerClass).toEqual(detail.evaluations.after!.wrongPerClass);

    const out = await lab.exportWeights({ target: { kind: 'comparison', ids: [base.id, run.id] }, format: 'csv', fileName: 'cmp.csv' });
    expect(out.files).toHaveLength(1);
    const csv = readFileSync(out.files[0]!.path, 'utf8');
    expect(csv).toMatch(/^data_set,blobs,blobs/m);
    expect(csv).toMatch(/^eval:wrong:blue,/m);

    // The merged weights say what their outputs mean: the data set and its class names.
    const st = await lab.exportWeights({ target: { kind: 'model', id: merged.id }, format: 'safetensors', fileName: 'merged.safetensors' });
    const { metadata } = readSafetensors(readFileSync(st.files[0]!.path));
    expect(metadata).toMatchObject({ 'lora_lab.data_set': 'blobs', 'lora_lab.classes': '["blue","green","red"]', 'lora_lab.input_shape': '[6]' });
    const json = JSON.parse(readFileSync((await lab.exportWeights({ target: { kind: 'run', id: run.id }, format: 'json', fileName: 'run.json' })).files[0]!.path, 'utf8'));
    expect(json.runs[0].dataset).toMatchObject({ name: 'blobs', classes: ['blue', 'green', 'red'], shape: [6] });
  });

  it('is refused by the trainer when its stored bytes no longer match their hash', async () => {
    const db = new Database(lab.store.file);
    try {
      db.prepare("UPDATE dataset_chunks SET data = zeroblob(length(data)) WHERE dataset_id = ? AND split = 'train' AND part = 'x'").run(blobs.id);
    } finally {
      db.close();
    }
    // A fresh trainer reads the set from the file (a warm one trains on the copy it verified when it loaded it).
    const fresh = Lab.open(lab.store.file, { recover: false });
    let run: RunView;
    try {
      run = await fresh.waitForRun((await fresh.createRun({ config: small({ data: blobs.id, sizes: [6, 4, 3], maxSteps: 2 }) })).id);
    } finally {
      await fresh.close();
    }
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/data set \d+ "blobs": its samples no longer match their hash/);
  });

  it('says "domain shift" when a fine-tune uses another data set of the same shape, and keeps a used data set', async () => {
    blobCsv(join(tmp.dir, 'shifted.csv'), 600, 2, 0.5);
    const shifted = await lab.importDataset({ path: join(tmp.dir, 'shifted.csv'), name: 'shifted blobs', seed: 1 });
    const other = await lab.importDataset({ path: join(tmp.dir, 'shifted.csv'), name: 'copy', seed: 1 }).catch((e: Error) => e);
    expect(String(other)).toMatch(/already in the lab as data set \d+ "shifted blobs"/);
    const cfg: RunConfig = { ...defaultConfig('lora'), data: shifted.id, sizes: [6, 16, 3], classes: null, maxSteps: 5, evalEvery: 0 };
    cfg.lora = { ...cfg.lora!, targets: ['linear1'] };
    const run = await lab.waitForRun((await lab.createRun({ config: cfg, baseModelId: base.modelId! })).id);
    expect(run.status).toBe('completed');
    expect(run.baseDataset).toEqual({ id: blobs.id, name: 'blobs' });
    // Its merge is evaluated on, and saved for, the data set it was fine-tuned on.
    const preview = await lab.previewMerge({ baseModelId: base.modelId!, adapters: [{ adapterId: run.adapterId!, weight: 1 }], method: 'linear' });
    expect(preview.combined.total).toBe(shifted.test.count);
    expect(preview.base.total).toBe(shifted.test.count);
    const merged = await lab.saveMerge({ baseModelId: base.modelId!, adapters: [{ adapterId: run.adapterId!, weight: 1 }], method: 'linear', name: 'shifted merge', output: 'model' });
    expect((await lab.listModels()).find((m) => m.id === merged.id)?.dataset?.name).toBe('shifted blobs');
    await lab.deleteModel(merged.id);
    await expect(lab.deleteDataset(shifted.id)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/used by run/) });
    await lab.deleteRun(run.id);
    await lab.deleteDataset(shifted.id);
    expect((await lab.listDatasets()).datasets.map((d) => d.name)).toEqual(['mnist', 'blobs']);
  });
});
