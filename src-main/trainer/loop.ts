/**
 * The training loop, shared by base training (every weight trains) and LoRA
 * fine-tuning (only A and B train). Each step is one synchronous tf.tidy; the loss is
 * the only value read back. Between steps the loop yields to the event loop so a
 * cancel message can arrive.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BatchIterator } from '../data/datasets.ts';
import type { SampleSplit } from '../data/dataset.ts';
import type { RunConfig } from '../contract/config.ts';
import type { Mlp } from './mlp.ts';
import type { Evaluation, LoopProgress, MetricPoint } from '../contract/protocol.ts';

export type { LoopProgress };
import { evaluate } from './evaluate.ts';
import { projectLoraFaGradients } from './lora.ts';
import { createOptimizer } from './optim.ts';
import { tf } from './tf.ts';

export class DivergedError extends Error {
  override name = 'DivergedError';
  constructor(readonly step: number, readonly loss: number) {
    super(`diverged at step ${step}: the loss became ${loss}`);
  }
}

export interface LoopHooks {
  onProgress?(p: LoopProgress): void;
  onMetrics?(points: MetricPoint[]): void;
  /** Checked between steps; true stops the loop at the current step. */
  shouldStop?(): boolean;
  /** How often progress and metric batches are flushed, in ms (default 250). */
  flushMs?: number;
}

export interface LoopResult {
  steps: number;
  epochs: number;
  finalLoss: number;
  /** Loss of every step, in order (for tests and summaries). */
  losses: Float32Array;
  trainSeconds: number;
  samplesPerSec: number;
  stopped: boolean;
}

export function totalSteps(cfg: RunConfig, examples: number): number {
  const perEpoch = Math.ceil(examples / cfg.batchSize);
  return Math.min(cfg.maxSteps ?? Infinity, perEpoch * cfg.epochs);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * V8 collects lazily: the small objects every step leaves behind (TF.js's tensor
 * records, metric points; a few KB a step) piled up to ~50 MB of resident memory over
 * the demo's 6,000 steps before a full collection. A full collection every 30 s of
 * training (~12 ms) keeps the trainer flat.
 */
const GC_EVERY_MS = 30_000;
let collector: (() => void) | null | undefined;

/** V8's gc(): the one --expose-gc gives, else made for a fresh context as jest-leak-detector does. */
export function fullCollector(): (() => void) | null {
  if (collector !== undefined) return collector;
  const exposed = (globalThis as { gc?: unknown }).gc;
  collector = null;
  if (typeof exposed === 'function') collector = exposed as () => void;
  else {
    try {
      setFlagsFromString('--expose-gc'); // affects contexts made from now on only
      const gc = runInNewContext('gc') as unknown;
      if (typeof gc === 'function') collector = gc as () => void;
    } catch {
      /* no collector: memory still bounded, only later */
    }
  }
  return collector;
}

/**
 * One optimizer step over a batch, as training runs it (the benchmark times exactly
 * this): forward, loss, gradients of the trainable variables, update. Returns the loss.
 */
export interface Stepper {
  step(x: Float32Array, y: Int32Array, size: number): Promise<number>;
  dispose(): void;
}

export function createStepper(model: Mlp, cfg: Pick<RunConfig, 'kind' | 'lr' | 'optimizer' | 'lora'>): Stepper {
  const vars = model.trainableVariables;
  if (vars.length === 0) throw new Error('nothing to train: every variable is frozen');
  // LoRA+: B (and DoRA's magnitude, a 1-D parameter, as PEFT groups it) learns at ratio × lr; everything else at lr.
  const ratio = cfg.kind === 'lora' ? (cfg.lora?.loraPlusRatio ?? 1) : 1;
  const faster = (v: tf.Variable) => v.name.endsWith('.lora_B') || v.name.endsWith('.lora_magnitude_vector');
  const lrs = new Map(vars.map((v) => [v, faster(v) ? cfg.lr * ratio : cfg.lr]));
  const optimizer = createOptimizer({ kind: cfg.optimizer, lrs });
  const [inputs, classes] = [model.sizes[0] as number, model.sizes.at(-1) as number];
  return {
    async step(x, y, size) {
      const xs = tf.tensor2d(x, [size, inputs]); // [batch, in]
      const ys = tf.tensor1d(y, 'int32'); // [batch]
      const cost = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.forward(xs, true); // [batch, classes]
          return tf.losses.softmaxCrossEntropy(tf.oneHot(ys, classes), logits) as tf.Scalar;
        }, vars);
        projectLoraFaGradients(model, grads); // LoRA-FA only; a no-op otherwise
        optimizer.apply(grads);
        return value;
      });
      xs.dispose();
      ys.dispose();
      const loss = ((await cost.data()) as Float32Array)[0] as number;
      cost.dispose();
      return loss;
    },
    dispose: () => optimizer.dispose(),
  };
}

export async function trainLoop(
  model: Mlp,
  cfg: RunConfig,
  data: { train: SampleSplit; indices: Uint32Array; test: SampleSplit; shuffleSeed: number },
  hooks: LoopHooks = {},
): Promise<LoopResult> {
  const stepper = createStepper(model, cfg);
  const batches = new BatchIterator(data.train, data.indices, cfg.batchSize, data.shuffleSeed);
  const steps = totalSteps(cfg, data.indices.length);
  const losses = new Float32Array(steps);
  const flushMs = hooks.flushMs ?? 250;
  let pending: MetricPoint[] = [];
  let lastFlush = 0;
  let lastCollect = performance.now();
  const collect = fullCollector();
  let trainMs = 0;
  let samples = 0;
  let step = 0;
  let stopped = false;

  const flush = (loss: number) => {
    const sps = trainMs > 0 ? samples / (trainMs / 1000) : 0;
    hooks.onProgress?.({
      step,
      totalSteps: steps,
      epoch: batches.epoch,
      loss,
      samplesPerSec: sps,
      etaSeconds: step > 0 ? ((steps - step) * trainMs) / step / 1000 : 0,
    });
    if (pending.length) hooks.onMetrics?.(pending);
    pending = [];
    lastFlush = performance.now();
  };

  try {
    while (step < steps) {
      if (hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      const batch = batches.next();
      const loss = await stepper.step(batch.x, batch.y, batch.size);
      trainMs += performance.now() - t0;
      samples += batch.size;
      step++;
      losses[step - 1] = loss;
      if (!Number.isFinite(loss)) throw new DivergedError(step, loss);
      pending.push({ key: 'train/loss', step, value: loss, time: Date.now() });

      if (cfg.evalEvery > 0 && step % cfg.evalEvery === 0 && step < steps) {
        const ev = await evaluate(model, data.test, Math.min(cfg.evalSubset, cfg.testLimit ?? Infinity));
        const time = Date.now();
        pending.push({ key: 'val/accuracy', step, value: ev.accuracy, time }, { key: 'val/loss', step, value: ev.loss, time });
        // What the run learns on its slice and forgets on the rest, point by point (the forgetting view's trajectories).
        for (const [key, value] of sliceAccuracies(ev, cfg.classes)) pending.push({ key, step, value, time });
      }
      if (performance.now() - lastFlush >= flushMs || step === steps) flush(loss);
      if (collect && performance.now() - lastCollect >= GC_EVERY_MS) {
        collect();
        lastCollect = performance.now();
      }
      await yieldToEventLoop();
    }
  } finally {
    stepper.dispose();
  }
  if (pending.length || stopped) flush(step > 0 ? (losses[step - 1] as number) : NaN);
  return {
    steps: step,
    epochs: batches.epoch + 1,
    finalLoss: step > 0 ? (losses[step - 1] as number) : NaN,
    losses: losses.subarray(0, step),
    trainSeconds: trainMs / 1000,
    samplesPerSec: trainMs > 0 ? samples / (trainMs / 1000) : 0,
    stopped,
  };
}

/**
 * Accuracy on the run's focus classes and on the others, for a run trained on a slice
 * (classes set, fewer than all): `val/focus_accuracy` and `val/other_accuracy`.
 */
export function sliceAccuracies(ev: Pick<Evaluation, 'wrongPerClass' | 'countPerClass'>, classes: readonly number[] | null): [string, number][] {
  if (!classes || classes.length >= ev.countPerClass.length) return [];
  const focus = new Set(classes);
  let [focusRight, focusN, otherRight, otherN] = [0, 0, 0, 0];
  ev.countPerClass.forEach((n, c) => {
    const right = n - (ev.wrongPerClass[c] ?? 0);
    if (focus.has(c)) [focusRight, focusN] = [focusRight + right, focusN + n];
    else [otherRight, otherN] = [otherRight + right, otherN + n];
  });
  const out: [string, number][] = [];
  if (focusN > 0) out.push(['val/focus_accuracy', focusRight / focusN]);
  if (otherN > 0) out.push(['val/other_accuracy', otherRight / otherN]);
  return out;
}
