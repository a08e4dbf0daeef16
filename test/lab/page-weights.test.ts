/**
 * LabApi.getWeights (what the playground runs in the page): a model's stored weights,
 * an adapter's factors with its base's widths, the data set's input mapping as the
 * trainer applies it, and refusals, through the HTTP schemas too.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../src-main/contract/api.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { validateArgs } from '../../src-main/contract/schemas.ts';
import { MNIST_NORMALISATION } from '../../src-main/data/mnist.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
let lab: Lab;
let model = 0;
let adapter = 0;

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
  const base = await lab.waitForRun((await lab.createRun({ config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 320, testLimit: 100, evalEvery: 0, maxSteps: 10 } })).id);
  model = base.modelId!;
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, trainLimit: 160, testLimit: 100, evalEvery: 0, maxSteps: 5 };
  c.lora = { ...c.lora!, r: 2, alpha: 2, targets: ['linear1'] };
  adapter = (await lab.waitForRun((await lab.createRun({ config: c, baseModelId: model })).id)).adapterId!;
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

describe('getWeights', () => {
  it('gives a model’s stored weights and the input mapping of its data set', async () => {
    const w = await lab.getWeights({ kind: 'model', id: model });
    expect(w).toMatchObject({ kind: 'model', id: model, sizes, adapter: null });
    expect(w.tensors).toEqual(lab.store.tensors.get({ modelId: model }));
    expect(w.input).toEqual({ datasetId: 1, kind: 'image', shape: [28, 28, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], ...MNIST_NORMALISATION });
  });

  it('gives an adapter’s factors with its base’s widths and settings', async () => {
    const w = await lab.getWeights({ kind: 'adapter', id: adapter });
    expect(w).toMatchObject({ kind: 'adapter', sizes, adapter: { baseModelId: model, info: { r: 2, targets: ['linear1'] } } });
    expect(Object.keys(w.tensors).sort()).toEqual(['linear1.lora_A', 'linear1.lora_B']);
    expect(w.tensors['linear1.lora_A']!.shape).toEqual([2, 784]);
  });

  it('refuses what does not exist, and arguments the schemas do not allow', async () => {
    await expect(lab.getWeights({ kind: 'model', id: 999 })).rejects.toMatchObject({ status: 404 });
    await expect(lab.getWeights({ kind: 'adapter', id: 999 })).rejects.toMatchObject({ status: 404 });
    expect(() => validateArgs('getWeights', [{ kind: 'run', id: 1 }])).toThrow(LabError);
    expect(() => validateArgs('getWeights', [{ kind: 'model', id: 0 }])).toThrow(LabError);
  });
});
