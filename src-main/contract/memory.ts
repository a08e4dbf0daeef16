/**
 * How much memory a trainer process needs for a run, estimated from the config alone,
 * so that a run that cannot fit is refused when it is created instead of growing a
 * trainer past the machine's memory (or hanging it). Pure: the renderer may import it.
 *
 * Calibrated against the peak RSS (VmHWM) of real wasm trainers, run from source:
 *   784→16→10, batch 16                  348 MB measured,  356 MB estimated
 *   784→1000→2000→10, batch 10 (Adam)    468 MB measured,  481 MB estimated
 *   784→4096→4096→10, batch 64 (Adam)   1013 MB measured, 1099 MB estimated
 *   784→4096→4096→10, batch 64 (SGD)     881 MB measured,  946 MB estimated
 *   784→4096→4096→10, LoRA r4, batch 64 1241 MB measured, 1291 MB estimated
 *   784→8192→8192→10, batch 32 (Adam)   2582 MB measured, 2930 MB estimated
 *   784→2048→10, batch 8192 (Adam)      1058 MB measured, 1056 MB estimated
 */
import { paramCounts, type RunConfig } from './config.ts';

const F32 = 4;
/** Node, TF.js, the wasm module and their heaps, before any tensor. */
const RUNTIME_BYTES = 300 * 2 ** 20;
/** Both MNIST splits held as bytes: 70,000 images of 784 pixels and their labels (other data sets pass their own). */
const MNIST_DATA_BYTES = 70_000 * 785;
/** Test images go through the model this many at a time (evaluate.ts EVAL_BATCH). */
const EVAL_BATCH = 1000;

export interface MemoryEstimate {
  /** Bytes in all. */
  total: number;
  /** The same, by what holds it (bytes). */
  parts: {
    weights: number;
    gradients: number;
    optimizer: number;
    /** Weights in transit and transposed: sent to the host at the end, received from it for LoRA, folded for evaluation. */
    copies: number;
    activations: number;
    data: number;
    runtime: number;
  };
}

/** `dataBytes`: the run's data set as the trainer holds it (stored samples and labels, both splits; twice while its hash is checked). */
export function trainerMemory(cfg: Pick<RunConfig, 'kind' | 'sizes' | 'batchSize' | 'optimizer' | 'lora'>, dataBytes = MNIST_DATA_BYTES): MemoryEstimate {
  const counts = paramCounts(cfg);
  const weights = (counts.base + counts.adapter) * F32;
  const gradients = counts.trainable * F32;
  // Adam keeps two moments per trainable weight; SGD keeps none.
  const optimizer = cfg.optimizer === 'adam' ? 2 * counts.trainable * F32 : 0;
  // A base run copies its weights out for the host (≈4.5×, measured); a LoRA run also
  // receives the frozen base from the host, transposes it and merges it to evaluate (≈10×);
  // a full fine-tune receives and transposes its base too (counted as LoRA's).
  const copies = counts.base * F32 * (cfg.kind === 'base' ? 4.5 : 10);
  const sizes = cfg.sizes;
  const input = sizes[0] ?? 0;
  const later = sizes.slice(1).reduce((s, w) => s + w, 0);
  // Training keeps every layer's output and its gradient (and the ReLU's) for the batch;
  // the input batch exists as a buffer, a tensor and its transpose.
  const train = cfg.batchSize * (3 * input + 9 * later) * F32;
  const evaluation = EVAL_BATCH * (input + 3 * later) * F32;
  const activations = Math.max(train, evaluation);
  const parts = { weights, gradients, optimizer, copies, activations, data: dataBytes, runtime: RUNTIME_BYTES };
  const total = Object.values(parts).reduce((s, b) => s + b, 0);
  return { total, parts };
}

/**
 * The share of the machine's memory one run may plan to use. Not all of it: the host
 * process receives the weights when the run ends (another copy), the OS and other
 * programs need room, and runs may train side by side. Beyond this a trainer would
 * push the machine into swap or the out-of-memory killer rather than finish.
 */
export const RUN_MEMORY_FRACTION = 0.5;

const PART_NAMES: Record<keyof MemoryEstimate['parts'], string> = {
  weights: 'weights',
  gradients: 'gradients',
  optimizer: 'Adam state',
  copies: 'working copies of the weights',
  activations: 'activations for a batch',
  data: 'the data set',
  runtime: 'the runtime',
};

/** A person's reading of a byte count: "38 GB", "512 MB", "3.2 GB". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const shown = v >= 10 || u === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
  return `${shown} ${units[u]}`;
}

/** Why a run with this estimate cannot train on a machine with `machineBytes` of memory, or null when it fits. */
export function memoryProblem(est: MemoryEstimate, machineBytes: number, fraction = RUN_MEMORY_FRACTION): string | null {
  const limit = machineBytes * fraction;
  if (est.total <= limit) return null;
  const big = (Object.entries(est.parts) as [keyof MemoryEstimate['parts'], number][])
    .filter(([, b]) => b >= est.total * 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([k, b]) => `${PART_NAMES[k]} ${formatBytes(b)}`);
  return (
    `this run needs about ${formatBytes(est.total)} of memory (${big.join(', ')}) but this machine has ${formatBytes(machineBytes)}, ` +
    `of which a run may use ${formatBytes(limit)}: use fewer or narrower layers, or a smaller batch`
  );
}
