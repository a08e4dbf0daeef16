/**
 * One training job from start to finish, process-agnostic: load data, build the
 * model (fresh from the seed, or the given base frozen under fresh adapters), evaluate,
 * train, evaluate, and hand back the weights. Everything is reported through `emit`,
 * so the same code runs inside a trainer process or in-process in tests.
 */
import { subsetIndices } from '../data/datasets.ts';
import { IdxError } from '../data/idx.ts';
import { DataSourceError, loadSource } from '../data/source.ts';
import { Rng } from '../util/rng.ts';
import { ConfigError, isFineTune, paramCounts, validateConfig } from '../contract/config.ts';
import { evaluate } from './evaluate.ts';
import { DivergedError, trainLoop } from './loop.ts';
import { adapterInfo, attachLora, loadLora, loraToNamed } from './lora.ts';
import { Mlp } from './mlp.ts';
import type { EvalJob, TrainJob, TrainerErrorCode, TrainerMessage } from '../contract/protocol.ts';
import type { NamedTensors } from '../contract/named.ts';
import { tf } from './tf.ts';

export type Emit = (msg: TrainerMessage) => void;

export interface JobControl {
  cancelled: boolean;
}

/**
 * The last base model this process was sent, by key: a warm trainer running a sweep on
 * one base receives its weights once (11 MB for the classic MLP), not once per run.
 */
let cachedBase: { key: string; tensors: NamedTensors } | null = null;

/** The job's base weights: those it carries (remembered under its key) or the cached copy its key names. */
function baseOf(job: TrainJob): NamedTensors | undefined {
  if (job.baseWeights) {
    // Remembered first, before anything can fail: the host counts it as sent.
    cachedBase = job.baseKey ? { key: job.baseKey, tensors: job.baseWeights } : null;
    return job.baseWeights;
  }
  if (job.baseKey === undefined) return undefined;
  if (cachedBase?.key === job.baseKey) return cachedBase.tensors;
  throw new ConfigError([{ field: 'baseModel', message: `this trainer does not hold base ${job.baseKey} and the job did not send its weights` }]);
}

/** The key of the base this process holds (tests). */
export function cachedBaseKey(): string | null {
  return cachedBase?.key ?? null;
}

export async function runJob(job: TrainJob, backend: string, emit: Emit, control: JobControl = { cancelled: false }): Promise<void> {
  const { runId } = job;
  const baseWeights = baseOf(job);
  const cfg = validateConfig(job.config);
  const started = performance.now();
  const status = (phase: 'loading' | 'evaluating' | 'training', step = 0, total = 0) =>
    emit({ type: 'progress', runId, step, totalSteps: total, epoch: 0, loss: NaN, samplesPerSec: 0, etaSeconds: 0, phase });

  status('loading');
  const { train, test, classes } = loadSource(job.data);
  if (train.inputSize !== cfg.sizes[0] || classes !== cfg.sizes.at(-1)) {
    throw new ConfigError([{ field: 'sizes', message: `the model maps ${cfg.sizes[0]} inputs to ${cfg.sizes.at(-1)} classes; its data set has ${train.inputSize} values per sample and ${classes} classes` }]);
  }
  const rng = new Rng(cfg.seed);
  const initRng = rng.fork();
  const loraRng = rng.fork();
  const shuffleSeed = rng.nextUint32();
  const indices = subsetIndices(train, { classes: cfg.classes, limit: cfg.trainLimit, seed: shuffleSeed });
  if (indices.length === 0) throw new ConfigError([{ field: 'classes', message: 'no training samples match' }]);

  let model: Mlp;
  if (cfg.kind === 'lora') {
    if (!baseWeights) throw new ConfigError([{ field: 'baseModel', message: 'a LoRA run needs base weights' }]);
    model = Mlp.fromNamed(cfg.sizes, baseWeights, false);
    try {
      attachLora(model, cfg.lora!, loraRng);
    } catch (err) {
      // A warm trainer goes on to the next job: nothing of this one may stay behind.
      model.dispose();
      throw err;
    }
  } else if (cfg.kind === 'full') {
    // Every weight of the stored model trains: the same start, data and steps as a LoRA run.
    if (!baseWeights) throw new ConfigError([{ field: 'baseModel', message: 'a full fine-tune needs base weights' }]);
    model = Mlp.fromNamed(cfg.sizes, baseWeights, true);
  } else {
    model = Mlp.init(cfg.sizes, initRng);
  }

  try {
    if (isFineTune(cfg.kind) && !job.skipBefore) {
      status('evaluating');
      const before = await evaluate(model, test, cfg.testLimit);
      emit({ type: 'evaluation', runId, phase: 'before', step: 0, result: before });
    }
    const result = await trainLoop(
      model,
      cfg,
      { train, indices, test, shuffleSeed },
      {
        onProgress: (p) => emit({ type: 'progress', runId, ...p, phase: 'training' }),
        onMetrics: (points) => emit({ type: 'metrics', runId, points }),
        shouldStop: () => control.cancelled,
      },
    );
    if (result.stopped) {
      emit({ type: 'cancelled', runId, step: result.steps });
      return;
    }
    status('evaluating', result.steps, result.steps);
    const after = await evaluate(model, test, cfg.testLimit);
    emit({ type: 'evaluation', runId, phase: 'after', step: result.steps, result: after });
    const time = Date.now();
    emit({
      type: 'metrics',
      runId,
      points: [
        { key: 'test/accuracy', step: result.steps, value: after.accuracy, time },
        { key: 'test/loss', step: result.steps, value: after.loss, time },
      ],
    });

    if (cfg.kind === 'lora') {
      emit({ type: 'weights', runId, kind: 'adapter', tensors: await loraToNamed(model), adapter: adapterInfo(cfg.lora!) });
    } else {
      emit({ type: 'weights', runId, kind: 'model', tensors: await model.toNamed() });
    }
    const counts = paramCounts(cfg);
    emit({
      type: 'done',
      runId,
      summary: {
        steps: result.steps,
        epochs: result.epochs,
        examples: indices.length,
        stepsPerEpoch: Math.ceil(indices.length / cfg.batchSize),
        finalLoss: result.finalLoss,
        wallSeconds: (performance.now() - started) / 1000,
        samplesPerSec: result.samplesPerSec,
        trainableParams: counts.trainable,
        totalParams: counts.total,
        baseParams: counts.base,
        percentTrainable: counts.percent,
        backend,
      },
    });
  } finally {
    model.dispose();
  }
}

/** Evaluate each model of an EvalJob in turn (adapter applied unmerged, as trained). */
export async function runEvalJob(job: EvalJob, emit: Emit): Promise<void> {
  const { test } = loadSource(job.data);
  for (const [index, m] of job.models.entries()) {
    const model = Mlp.fromNamed(job.sizes, m.tensors, false);
    try {
      if (m.adapter) loadLora(model, { targets: m.adapter.targets, scaling: m.adapter.scaling, variant: m.adapter.variant }, m.adapter.tensors);
      emit({ type: 'evaluated', runId: job.runId, index, result: await evaluate(model, test, job.testLimit) });
    } finally {
      model.dispose();
    }
  }
  emit({ type: 'evaluations-done', runId: job.runId });
}

export function errorCode(err: unknown): TrainerErrorCode {
  if (err instanceof ConfigError) return 'config';
  if (err instanceof DivergedError) return 'diverged';
  if (err instanceof IdxError || err instanceof DataSourceError) return 'data';
  return 'internal';
}

/** For tests: how many tensors the engine holds. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}

/** What a trainer holds between jobs: TF.js's tensors and bytes, the resident set and V8's heap (bytes). */
export function trainerMemoryNow(): { numTensors: number; numBytes: number; rss: number; heapUsed: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes, rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed };
}

