/**
 * Merging checked through the trainer's own model on real MNIST test images (wasm):
 * a merged base must predict what the base with the adapter attached predicts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLora, mergeLora } from '../../src-main/trainer/lora.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { combineDeltas, combineToAdapter, deltaFromAdapter, mergeIntoBase, type WeightedAdapter } from '../../src-main/weights/merge.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { useTestBackend } from '../helpers/backend.ts';
import { maxAbsDiff, mnistTestBatch, randomAdapter, randomBase } from './helpers.ts';

const sizes = [784, 1000, 2000, 10];
const ALL = 10_000;
const base = randomBase(sizes, 21);
const a = randomAdapter(sizes, { r: 2, alpha: 4, bStd: 0.5 }, 1);
const b = randomAdapter(sizes, { r: 1, alpha: 1, rule: 'rslora', targets: ['linear2', 'linear3'], bStd: 0.5 }, 2);
const both: WeightedAdapter[] = [
  { ...a, weight: 0.8 },
  { ...b, weight: 0.6 },
];

let images: Float32Array;

/** Logits of `weights` (+ optional adapter, unmerged) on the first n test images, batched. */
async function logits(weights: NamedTensors, n: number, adapter?: { info: AdapterInfo; tensors: NamedTensors }): Promise<Float32Array> {
  const mlp = Mlp.fromNamed(sizes, weights, false);
  if (adapter) loadLora(mlp, adapter.info, adapter.tensors);
  const out = new Float32Array(n * 10);
  for (let from = 0; from < n; from += 1000) {
    const m = Math.min(1000, n - from);
    const y = tf.tidy(() => mlp.forward(tf.tensor2d(images.subarray(from * 784, (from + m) * 784), [m, 784])));
    out.set((await y.data()) as Float32Array, from * 10);
    y.dispose();
  }
  mlp.dispose();
  return out;
}

describe('merged models predict as base + adapter (MNIST test set, wasm)', () => {
  let baseLogits: Float32Array;

  beforeAll(async () => {
    await useTestBackend();
    images = mnistTestBatch(ALL).x;
    baseLogits = await logits(base, ALL);
  });

  it('one adapter: mergeIntoBase equals the trainer’s mergeLora (≤ 1e-6) and predicts identically (≤ 1e-4)', async () => {
    const mlp = Mlp.fromNamed(sizes, base, false);
    loadLora(mlp, a.info, a.tensors);
    mergeLora(mlp);
    const trainerMerged = await mlp.toNamed();
    mlp.dispose();
    const merged = mergeIntoBase(base, combineDeltas(sizes, [{ ...a, weight: 1 }], { method: 'linear' }));
    for (const k of Object.keys(base)) expect(maxAbsDiff(merged[k]!.data, trainerMerged[k]!.data), k).toBeLessThanOrEqual(1e-6);

    const withAdapter = await logits(base, ALL, a);
    expect(maxAbsDiff(withAdapter, baseLogits)).toBeGreaterThan(0.05); // the adapter matters
    expect(maxAbsDiff(await logits(merged, ALL), withAdapter)).toBeLessThanOrEqual(1e-4);
  });

  it('two adapters: the linear merge predicts as the base with the cat adapter attached (≤ 1e-4)', async () => {
    const merged = mergeIntoBase(base, combineDeltas(sizes, both, { method: 'linear' }));
    const cat = combineToAdapter(sizes, both, { method: 'cat' });
    expect(cat.info.r).toBe(3);
    expect(maxAbsDiff(await logits(merged, ALL), await logits(base, ALL, cat))).toBeLessThanOrEqual(1e-4);
  });

  it('svd at full rank predicts as linear (≤ 1e-4)', async () => {
    const n = 2000;
    const linear = mergeIntoBase(base, combineDeltas(sizes, both, { method: 'linear' }));
    const svd = combineToAdapter(sizes, both, { method: 'svd', rank: 3 });
    const viaSvd = mergeIntoBase(base, deltaFromAdapter(svd.info, svd.tensors));
    const want = await logits(linear, n);
    expect(maxAbsDiff(await logits(viaSvd, n), want)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(await logits(base, n, svd), want)).toBeLessThanOrEqual(1e-4);
  });

  it('ties_svd and dare_linear_svd adapters (LoRA Lab\'s former ties and dare): merged model = base + adapter (≤ 1e-4)', async () => {
    const n = 2000;
    for (const opts of [{ method: 'ties_svd', density: 0.2, rank: 4 }, { method: 'dare_linear_svd', density: 0.5, seed: 3, rank: 4 }] as const) {
      const c = combineToAdapter(sizes, both, opts);
      const merged = mergeIntoBase(base, deltaFromAdapter(c.info, c.tensors));
      expect(maxAbsDiff(await logits(merged, n), await logits(base, n, c)), opts.method).toBeLessThanOrEqual(1e-4);
    }
    expect(tf.memory().numTensors).toBeLessThan(50);
  });
});
