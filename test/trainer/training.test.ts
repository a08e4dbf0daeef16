/**
 * Real training on small MNIST slices, in-process: loss falls, fine-tuning on one digit
 * lowers that digit's errors, the frozen base stays bit-identical, no tensors leak.
 */
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { subsetIndices } from '../../src-main/data/datasets.ts';
import { mnistSamples } from '../../src-main/data/mnist.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { runJob } from '../../src-main/trainer/job.ts';
import { DivergedError, fullCollector, trainLoop } from '../../src-main/trainer/loop.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import type { Evaluation, TrainerMessage } from '../../src-main/contract/protocol.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { useTestBackend } from '../helpers/backend.ts';

const small = [784, 128, 64, 10];

function baseCfg(over: Partial<RunConfig> = {}): RunConfig {
  return { ...defaultConfig('base'), sizes: small, batchSize: 32, trainLimit: 640, epochs: 2, testLimit: 1000, evalEvery: 0, maxSteps: 40, ...over };
}

async function run(config: RunConfig, baseWeights?: NamedTensors): Promise<TrainerMessage[]> {
  const msgs: TrainerMessage[] = [];
  await runJob({ runId: 't', config, data: MNIST, ...(baseWeights ? { baseWeights } : {}) }, 'test', (m) => msgs.push(m));
  return msgs;
}

const evalOf = (msgs: TrainerMessage[], phase: 'before' | 'after'): Evaluation =>
  (msgs.find((m) => m.type === 'evaluation' && m.phase === phase) as Extract<TrainerMessage, { type: 'evaluation' }>).result;
const weightsOf = (msgs: TrainerMessage[]) => (msgs.find((m) => m.type === 'weights') as Extract<TrainerMessage, { type: 'weights' }>).tensors;
const lossesOf = (msgs: TrainerMessage[]) =>
  msgs.flatMap((m) => (m.type === 'metrics' ? m.points.filter((p) => p.key === 'train/loss').map((p) => p.value) : []));
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

describe('training on real MNIST', () => {
  let base: TrainerMessage[] = [];
  beforeAll(async () => {
    await useTestBackend();
    base = await run(baseCfg());
  });

  it('base training: the loss falls and the model beats chance by far', () => {
    const losses = lossesOf(base);
    expect(losses.length).toBe(40);
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) * 0.6);
    expect(evalOf(base, 'after').accuracy).toBeGreaterThan(0.7);
    const done = base.find((m) => m.type === 'done') as Extract<TrainerMessage, { type: 'done' }>;
    expect(done.summary.steps).toBe(40);
    expect(done.summary.trainableParams).toBe(784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
  });

  it('is reproducible from the seed', async () => {
    const again = await run(baseCfg({ maxSteps: 5 }));
    const again2 = await run(baseCfg({ maxSteps: 5 }));
    expect(lossesOf(again)).toEqual(lossesOf(again2));
    const other = await run(baseCfg({ maxSteps: 5, seed: 1 }));
    expect(lossesOf(other)).not.toEqual(lossesOf(again));
  });

  it('LoRA on digit 7 lowers its wrong count, trains only A and B, and leaves the base bit-identical', async () => {
    const w0 = weightsOf(base);
    const snapshot = Object.fromEntries(Object.entries(w0).map(([k, v]) => [k, v.data.slice()]));
    const cfg = { ...defaultConfig('lora'), sizes: small, batchSize: 16, testLimit: 1000, evalEvery: 0, maxSteps: 30, classes: [7] };
    cfg.lora = { ...cfg.lora!, r: 1, alpha: 1, init: 'gaussian' as const, variant: 'lora', freezeA: false, targets: ['linear1', 'linear2', 'linear3'] };
    const ft = await run(cfg, w0);
    const before = evalOf(ft, 'before');
    const after = evalOf(ft, 'after');
    expect(before.wrongPerClass[7]).toBe(evalOf(base, 'after').wrongPerClass[7]); // B = 0: same model
    expect(after.wrongPerClass[7]).toBeLessThan(before.wrongPerClass[7]! * 0.7);
    const adapter = ft.find((m) => m.type === 'weights') as Extract<TrainerMessage, { type: 'weights' }>;
    expect(adapter.kind).toBe('adapter');
    expect(Object.keys(adapter.tensors).sort()).toEqual(
      ['linear1.lora_A', 'linear1.lora_B', 'linear2.lora_A', 'linear2.lora_B', 'linear3.lora_A', 'linear3.lora_B'],
    );
    expect(adapter.tensors['linear2.lora_B']!.data.some((v) => v !== 0)).toBe(true);
    // The host's copy was never touched, and the trainer never sent base weights back.
    for (const [k, v] of Object.entries(w0)) expect(Buffer.from(v.data.buffer).equals(Buffer.from(snapshot[k]!.buffer))).toBe(true);
    const done = ft.find((m) => m.type === 'done') as Extract<TrainerMessage, { type: 'done' }>;
    expect(done.summary.trainableParams).toBe(784 + 128 + 128 + 64 + 64 + 10);
  });

  it('keeps the base weights bit-identical inside the trainer while fine-tuning', async () => {
    const model = Mlp.fromNamed(small, weightsOf(base), false);
    const { attachLora } = await import('../../src-main/trainer/lora.ts');
    attachLora(model, { r: 2, alpha: 4, targets: ['linear1', 'linear3'], init: 'kaiming', variant: 'lora', freezeA: false, scaling: 'standard', loraPlusRatio: 16 }, new Rng(3));
    const before = await model.toNamed();
    const train = mnistSamples('train');
    const cfg = { ...defaultConfig('lora'), sizes: small, batchSize: 16, maxSteps: 10, evalEvery: 0 };
    await trainLoop(model, cfg, { train, indices: subsetIndices(train, { classes: [7], limit: 200, seed: 1 }), test: mnistSamples('test'), shuffleSeed: 1 });
    const after = await model.toNamed();
    for (const k of Object.keys(before)) expect(Buffer.from(after[k]!.data.buffer).equals(Buffer.from(before[k]!.data.buffer))).toBe(true);
    expect(model.layers[1]!.A).toBeNull();
    model.dispose();
  });

  it('does not leak tensors across steps (base and LoRA)', async () => {
    const train = mnistSamples('train');
    const test = mnistSamples('test');
    for (const kind of ['base', 'lora'] as const) {
      const model = kind === 'base' ? Mlp.init(small, new Rng(1)) : Mlp.fromNamed(small, weightsOf(base), false);
      if (kind === 'lora') {
        const { attachLora } = await import('../../src-main/trainer/lora.ts');
        attachLora(model, { r: 1, alpha: 1, targets: ['linear1', 'linear2', 'linear3'], init: 'gaussian', variant: 'lora', freezeA: false, scaling: 'standard', loraPlusRatio: 1 }, new Rng(3));
      }
      const counts: number[] = [];
      const cfg = { ...defaultConfig(kind), sizes: small, batchSize: 8, maxSteps: 30, evalEvery: 10, evalSubset: 50 };
      await trainLoop(model, cfg, { train, indices: subsetIndices(train, { classes: null, limit: 300, seed: 1 }), test, shuffleSeed: 2 }, {
        flushMs: 0,
        onProgress: () => counts.push(tf.memory().numTensors),
      });
      expect(counts.length).toBe(30);
      expect(counts[29]).toBe(counts[4]);
      model.dispose();
    }
  });

  it('stops with "diverged at step N" when the loss is not finite', async () => {
    const w = weightsOf(base);
    const poisoned: NamedTensors = { ...w, 'linear3.bias': { shape: [10], data: new Float32Array(10).fill(Infinity) } };
    const model = Mlp.fromNamed(small, poisoned, true);
    const train = mnistSamples('train');
    const cfg = baseCfg({ maxSteps: 5 });
    const err = await trainLoop(model, cfg, { train, indices: subsetIndices(train, { classes: null, limit: 100 }), test: mnistSamples('test'), shuffleSeed: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(DivergedError);
    expect(err.message).toMatch(/^diverged at step 1: the loss became NaN/);
    model.dispose();
  });

  it('can force a full garbage collection (the loop does every 30 s to keep memory flat)', () => {
    const gc = fullCollector();
    expect(typeof gc).toBe('function');
    expect(() => gc!()).not.toThrow();
  });
});
