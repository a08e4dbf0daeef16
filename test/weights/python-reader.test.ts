/**
 * An independent reader: scripts/reference/check_exports.py (Python + numpy only)
 * reads what the TypeScript writers export and must agree with LoRA Lab's own
 * predictions and merges: a merged model, a LoRA adapter (rsLoRA), a trained DoRA
 * adapter (the reader merges m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ itself from the PEFT
 * files) and a trained PiSSA adapter converted to the original base. The PEFT folders
 * also read back through parsePeft bit for bit. Skipped only where no python3 with
 * numpy exists (CI installs python3-numpy).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoraConfig, type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { normaliseInto } from '../../src-main/data/dataset.ts';
import { IMAGE_SIZE, mnistDir, mnistSamples } from '../../src-main/data/mnist.ts';
import { adapterInfo, attachLora, loadLora, loraToNamed } from '../../src-main/trainer/lora.ts';
import { createStepper } from '../../src-main/trainer/loop.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { combineDeltas, deltaFromAdapter, mergeIntoBase } from '../../src-main/weights/merge.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, parsePeft, peftFiles } from '../../src-main/weights/peft.ts';
import { readSafetensorsFile, writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { useTestBackend } from '../helpers/backend.ts';
import { tempDir } from '../helpers/tmp.ts';
import { argmaxRows, maxAbs, maxAbsDiff, mnistTestBatch, randomAdapter, randomBase } from './helpers.ts';

const SCRIPT = 'scripts/reference/check_exports.py';
const N = 1000;
const sizes = [784, 1000, 2000, 10];

/** The first python3 that imports numpy: LORA_LAB_PYTHON if set, PATH's, then Debian's. */
function findPython(): string | null {
  const forced = process.env['LORA_LAB_PYTHON'];
  for (const exe of forced ? [forced] : ['python3', '/usr/bin/python3']) {
    const r = spawnSync(exe, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

const python = findPython();
if (!python) console.warn('python-reader tests SKIPPED: no python3 with numpy found (apt-get install python3-numpy)');

interface ScriptOutput {
  ok: boolean;
  error?: string;
  model: { sizes: number[]; metadata: Record<string, string>; names: string[] };
  peft?: { config: Record<string, unknown>; scaling: number; targets: string[]; dora: boolean };
  logits: number[][];
  predictions: number[];
  accuracy: number;
}

function runScript(args: string[]): { status: number | null; out: ScriptOutput; stderr: string } {
  const r = spawnSync(python as string, [SCRIPT, '--mnist', mnistDir(), '--limit', String(N), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, out: JSON.parse(r.stdout || '{}') as ScriptOutput, stderr: r.stderr };
}

async function labLogits(weights: NamedTensors, x: Float32Array, adapter?: { info: AdapterInfo; tensors: NamedTensors }): Promise<Float32Array> {
  const mlp = Mlp.fromNamed(sizes, weights, false);
  if (adapter) loadLora(mlp, adapter.info, adapter.tensors);
  const y = tf.tidy(() => mlp.forward(tf.tensor2d(x, [N, 784])));
  const out = (await y.data()) as Float32Array;
  y.dispose();
  mlp.dispose();
  return out;
}

/** Logits [N, 10] of a model as it stands (a trained adapter still attached). */
async function modelLogits(mlp: Mlp, x: Float32Array): Promise<Float32Array> {
  const y = tf.tidy(() => mlp.forward(tf.tensor2d(x, [N, 784])));
  const out = (await y.data()) as Float32Array;
  y.dispose();
  return out;
}

/**
 * An adapter trained a few steps on MNIST training images (all layers, r = 2), in the
 * form LoRA Lab stores and exports (loraToNamed / adapterInfo: PiSSA converted to the
 * original base), with the logits of the trained model on `x`.
 */
async function trainedAdapter(base: NamedTensors, over: Partial<LoraConfig>, x: Float32Array): Promise<{ info: AdapterInfo; tensors: NamedTensors; logits: Float32Array }> {
  const lora: LoraConfig = { r: 2, alpha: 4, targets: ['linear1', 'linear2', 'linear3'], init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false, ...over };
  const mlp = Mlp.fromNamed(sizes, base, false);
  attachLora(mlp, lora, new Rng(41));
  const cfg: RunConfig = { ...defaultConfig('lora'), sizes, lr: 1e-2, lora };
  const stepper = createStepper(mlp, cfg);
  const train = mnistSamples('train');
  const [steps, batch] = [8, 10];
  const bx = new Float32Array(batch * IMAGE_SIZE);
  for (let s = 0; s < steps; s++) {
    const idx = Array.from({ length: batch }, (_, i) => s * batch + i);
    normaliseInto(train, idx, 0, batch, bx);
    await stepper.step(bx, Int32Array.from(idx, (i) => train.labels[i] as number), batch);
  }
  stepper.dispose();
  const out = { info: adapterInfo(lora), tensors: await loraToNamed(mlp), logits: await modelLogits(mlp, x) };
  mlp.dispose();
  return out;
}

function writePeftFolder(folder: string, adapter: { info: AdapterInfo; tensors: NamedTensors }): void {
  const peft = peftFiles(adapter.tensors, adapter.info, 'lora-lab/base-1');
  mkdirSync(folder);
  writeFileSync(join(folder, PEFT_CONFIG_FILE), JSON.stringify(peft.config, null, 2));
  writeFileSync(join(folder, PEFT_WEIGHTS_FILE), peft.safetensors);
}

/** The float32 bit patterns, so -0 and NaN payloads count too. */
const bits = (t: { data: Float32Array }) => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);

describe.skipIf(!python)('Python + numpy reader agrees with LoRA Lab', () => {
  const { dir, cleanup } = tempDir('lora-lab-pyref-');
  const base = randomBase(sizes, 31);
  const adapter = randomAdapter(sizes, { r: 4, alpha: 8, rule: 'rslora', targets: ['linear1', 'linear3'], bStd: 0.5 }, 32);
  const merged = mergeIntoBase(base, deltaFromAdapter(adapter.info, adapter.tensors));
  const lineage = JSON.stringify({ base: 1, adapters: [{ id: 7, weight: 1 }], method: 'linear' });
  const files = {
    base: join(dir, 'base.safetensors'),
    merged: join(dir, 'merged.safetensors'),
    peft: join(dir, 'adapter'),
    broken: join(dir, 'broken.safetensors'),
    dora: join(dir, 'dora-adapter'),
    doraMerged: join(dir, 'dora-merged-numpy.safetensors'),
    pissa: join(dir, 'pissa-adapter'),
  };
  let x: Float32Array;
  let dora: Awaited<ReturnType<typeof trainedAdapter>>;
  let pissa: Awaited<ReturnType<typeof trainedAdapter>>;

  beforeAll(async () => {
    await useTestBackend();
    x = mnistTestBatch(N).x;
    writeFileSync(files.base, writeSafetensors(base, { format: 'pt', lineage: '{}' }));
    writeFileSync(files.merged, writeSafetensors(merged, { format: 'pt', lineage }));
    const peft = peftFiles(adapter.tensors, adapter.info, 'lora-lab/base-1');
    mkdirSync(files.peft);
    writeFileSync(join(files.peft, PEFT_CONFIG_FILE), JSON.stringify(peft.config, null, 2));
    writeFileSync(join(files.peft, PEFT_WEIGHTS_FILE), peft.safetensors);
    writeFileSync(files.broken, writeSafetensors(base, { format: 'pt' }).subarray(0, 5000));
    dora = await trainedAdapter(base, { variant: 'dora' }, x);
    writePeftFolder(files.dora, dora);
    pissa = await trainedAdapter(base, { init: 'pissa' }, x);
    writePeftFolder(files.pissa, pissa);
  });
  afterAll(cleanup);

  it('the merged model: names, shapes, metadata, and predictions on 1,000 test images', async () => {
    const { status, out, stderr } = runScript(['--model', files.merged]);
    expect(stderr).toBe('');
    expect(status, out.error).toBe(0);
    expect(out.model.sizes).toEqual(sizes);
    expect(out.model.names).toEqual(Object.keys(merged).sort());
    expect(out.model.metadata).toEqual({ format: 'pt', lineage });
    const lab = await labLogits(merged, x);
    expect(out.predictions).toEqual(argmaxRows(lab, N, 10));
    expect(maxAbsDiff(out.logits.flat(), lab)).toBeLessThanOrEqual(1e-4);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
  });

  it('the base plus the PEFT adapter (rsLoRA scaling) predicts as LoRA Lab with the adapter attached', async () => {
    const { status, out } = runScript(['--model', files.base, '--peft', files.peft]);
    expect(status, out.error).toBe(0);
    expect(out.peft?.targets).toEqual(['linear1', 'linear3']);
    expect(out.peft?.scaling).toBeCloseTo(8 / 2, 12);
    expect(out.peft?.config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, use_rslora: true, base_model_name_or_path: 'lora-lab/base-1' });
    const lab = await labLogits(base, x, adapter);
    const labPredictions = argmaxRows(lab, N, 10);
    expect(out.predictions).toEqual(labPredictions);
    expect(maxAbsDiff(out.logits.flat(), lab)).toBeLessThanOrEqual(1e-4);
    // The adapter really changes the model, so agreement above is not vacuous.
    const plain = argmaxRows(await labLogits(base, x), N, 10);
    expect(plain.filter((p, i) => p !== labPredictions[i]).length).toBeGreaterThan(10);
  });

  it("a trained DoRA adapter: numpy's m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ from the PEFT files equals LoRA Lab's merged weights, and predicts as LoRA Lab with the adapter attached", async () => {
    const { status, out, stderr } = runScript(['--model', files.base, '--peft', files.dora, '--merged-out', files.doraMerged]);
    expect(stderr).toBe('');
    expect(status, out.error).toBe(0);
    expect(out.peft?.dora).toBe(true);
    expect(out.peft?.config).toMatchObject({ use_dora: true, r: 2, lora_alpha: 4, use_rslora: false, target_modules: ['linear1', 'linear2', 'linear3'] });
    expect(out.peft?.scaling).toBe(2);
    // LoRA Lab's merge of the adapter alone into its base (weights/merge.ts, DoRA path).
    const lab = mergeIntoBase(base, combineDeltas(sizes, [{ info: dora.info, tensors: dora.tensors, weight: 1 }], { method: 'linear' }, base));
    const numpy = readSafetensorsFile(files.doraMerged).tensors;
    expect(Object.keys(numpy).sort()).toEqual(Object.keys(lab).sort());
    for (const name of Object.keys(lab)) {
      const [a, b] = [numpy[name]!, lab[name]!];
      expect(a.shape, name).toEqual(b.shape);
      if (name.endsWith('.bias')) expect(bits(a), name).toEqual(bits(b));
      // Both in float64 from the same float32 inputs, rounded once: at most an ulp apart
      // (measured: bit-identical, all 2.8M values).
      else expect(maxAbsDiff(a.data, b.data) / maxAbs(b.data), name).toBeLessThanOrEqual(2e-7);
      // DoRA changed the weights: the agreement is not that of two copies of the base.
      if (name.endsWith('.weight')) expect(maxAbsDiff(b.data, base[name]!.data) / maxAbs(b.data), name).toBeGreaterThan(1e-3);
    }
    const attached = await labLogits(base, x, dora);
    expect(maxAbsDiff(attached, dora.logits)).toBeLessThanOrEqual(1e-4); // the stored adapter is the trained one
    expect(out.predictions).toEqual(argmaxRows(attached, N, 10));
    expect(maxAbsDiff(out.logits.flat(), attached)).toBeLessThanOrEqual(1e-4); // measured 7.8e-6 (logits up to 7.4)
    expect(maxAbsDiff(await labLogits(lab, x), attached)).toBeLessThanOrEqual(1e-4); // merged vs attached: 1.0e-5
  });

  it('a trained PiSSA adapter converted to the original base (rank 2r): the reader with base + PEFT folder predicts as the trained model', () => {
    const { status, out } = runScript(['--model', files.base, '--peft', files.pissa]);
    expect(status, out.error).toBe(0);
    expect(out.peft?.config).toMatchObject({ r: 4, lora_alpha: 8, use_rslora: false, use_dora: false, init_lora_weights: true });
    expect(out.peft?.scaling).toBe(2);
    expect(maxAbsDiff(out.logits.flat(), pissa.logits)).toBeLessThanOrEqual(1e-4); // measured 3.5e-6 (logits up to 4.6)
    expect(out.predictions).toEqual(argmaxRows(pissa.logits, N, 10));
  });

  it('the DoRA and the converted PiSSA PEFT folders read back from disk (parsePeft) bit for bit', () => {
    for (const [folder, adapter] of [[files.dora, dora], [files.pissa, pissa]] as const) {
      const back = parsePeft(readFileSync(join(folder, PEFT_CONFIG_FILE), 'utf8'), readFileSync(join(folder, PEFT_WEIGHTS_FILE)));
      expect(back.info).toEqual(adapter.info);
      expect(back.baseModel).toBe('lora-lab/base-1');
      expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(adapter.tensors).sort());
      for (const [name, t] of Object.entries(adapter.tensors)) {
        expect(back.tensors[name]!.shape, name).toEqual(t.shape);
        expect(bits(back.tensors[name]!), name).toEqual(bits(t));
      }
    }
  });

  it('refuses a truncated file with a reason', () => {
    const { status, out } = runScript(['--model', files.broken]);
    expect(status).toBe(1);
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/run past the \d+-byte data area/);
  });
});
