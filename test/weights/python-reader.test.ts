/**
 * An independent reader: scripts/reference/check_exports.py (Python + numpy only)
 * reads what the TypeScript writers export and must agree with LoRA Lab's own
 * predictions. Skipped only where no python3 with numpy exists (CI installs
 * python3-numpy).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mnistDir } from '../../src-main/data/mnist.ts';
import { loadLora } from '../../src-main/trainer/lora.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { deltaFromAdapter, mergeIntoBase } from '../../src-main/weights/merge.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../../src-main/weights/peft.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { useTestBackend } from '../helpers/backend.ts';
import { tempDir } from '../helpers/tmp.ts';
import { argmaxRows, maxAbsDiff, mnistTestBatch, randomAdapter, randomBase } from './helpers.ts';

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
  peft?: { config: Record<string, unknown>; scaling: number; targets: string[] };
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
  };
  let x: Float32Array;

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

  it('refuses a truncated file with a reason', () => {
    const { status, out } = runScript(['--model', files.broken]);
    expect(status).toBe(1);
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/run past the \d+-byte data area/);
  });
});
