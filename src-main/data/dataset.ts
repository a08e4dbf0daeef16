/**
 * A data set in memory: samples as raw bytes (images) or float32 (tables), labels as
 * class indices, and how to normalise a sample into the model's float32 input. Raw
 * samples stay raw: normalisation happens per batch into a reused buffer (normaliseInto),
 * so a set costs one copy of its stored form and never a second float32 copy.
 */
import { createHash } from 'node:crypto';
import { Rng } from '../util/rng.ts';
import { type DatasetKind, MAX_CLASSES, type SampleDtype, inputSize } from '../contract/dataset.ts';

export { MAX_CLASSES, inputSize, type DatasetKind, type SampleDtype };

/** Mean and standard deviation per channel (images, of x/255) or per feature (tables). */
export interface Normalisation {
  mean: number[];
  std: number[];
}

export interface DataSplit {
  /** [count, inputSize] row-major; images HWC interleaved (height, width, channels). */
  x: Uint8Array | Float32Array;
  /** [count] class indices 0 … classes − 1. */
  labels: Uint8Array;
  count: number;
}

/** What importers produce and the store keeps: the samples with their meaning. */
export interface LoadedDataset {
  kind: DatasetKind;
  /** image: [height, width, channels] (channels 1 or 3); table: [features]. */
  shape: number[];
  dtype: SampleDtype;
  /** Class names; a label is an index into this list. */
  classes: string[];
  train: DataSplit;
  test: DataSplit;
}

/** A split ready for training: its samples plus the per-input affine map into model inputs. */
export interface SampleSplit extends DataSplit {
  inputSize: number;
  /** model input[p] = x[p] · scale[p] − shift[p]; float64 so MNIST's figures stay bit for bit. */
  scale: Float64Array;
  shift: Float64Array;
}

/** Normalisation from the training split: per channel for images (of x/255), per feature for tables. */
export function computeNormalisation(kind: DatasetKind, shape: readonly number[], train: DataSplit): Normalisation {
  const size = inputSize(shape);
  const groups = kind === 'image' ? (shape[2] as number) : size;
  const divide = kind === 'image' ? 255 : 1;
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  const { x, count } = train;
  for (let i = 0; i < count; i++) {
    const row = i * size;
    for (let p = 0; p < size; p++) {
      const g = p % groups;
      const v = (x[row + p] as number) / divide;
      sum[g] = (sum[g] as number) + v;
      sumSq[g] = (sumSq[g] as number) + v * v;
    }
  }
  const perGroup = count * (size / groups);
  const mean = Array.from(sum, (s) => (perGroup ? s / perGroup : 0));
  const std = Array.from(sumSq, (s, g) => {
    const variance = perGroup ? s / perGroup - (mean[g] as number) ** 2 : 0;
    // A constant input (a border pixel that is always 0) is left unscaled rather than divided by 0.
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { mean: mean.map(round6), std: std.map(round6) };
}

const round6 = (v: number) => Number(v.toPrecision(6));

/** Attach the affine map a normalisation implies to a stored split. */
export function sampleSplit(kind: DatasetKind, shape: readonly number[], norm: Normalisation, split: DataSplit): SampleSplit {
  const size = inputSize(shape);
  const groups = norm.mean.length;
  const divide = kind === 'image' ? 255 : 1;
  const scale = new Float64Array(size);
  const shift = new Float64Array(size);
  for (let p = 0; p < size; p++) {
    const g = p % groups;
    const std = norm.std[g] as number;
    scale[p] = 1 / (divide * std);
    shift[p] = (norm.mean[g] as number) / std;
  }
  return { ...split, inputSize: size, scale, shift };
}

/** Normalise samples `idx[from..to)` of `split` into `out` ([batch, inputSize] float32). */
export function normaliseInto(split: SampleSplit, idx: ArrayLike<number>, from: number, to: number, out: Float32Array): void {
  const { x, inputSize: size, scale, shift } = split;
  for (let b = 0; b < to - from; b++) {
    const src = (idx[from + b] as number) * size;
    const dst = b * size;
    for (let p = 0; p < size; p++) out[dst + p] = (x[src + p] as number) * (scale[p] as number) - (shift[p] as number);
  }
}

/**
 * Reorders a split's rows in place to a seeded shuffle, one row of scratch space
 * (following the permutation's cycles), so no second copy of the samples is made.
 * Stored data sets are shuffled so that the first N test samples, which a test limit and
 * the periodic evaluation subset read, hold every class and not only the first ones.
 */
export function shuffleRows(split: DataSplit, width: number, seed: number): void {
  const n = split.count;
  const order = new Rng(seed).shuffle(Uint32Array.from({ length: n }, (_, i) => i)); // row i takes old row order[i]
  const done = new Uint8Array(n);
  const row = split.x instanceof Float32Array ? new Float32Array(width) : new Uint8Array(width);
  for (let start = 0; start < n; start++) {
    if (done[start] || order[start] === start) continue;
    // Walk the cycle: keep row `start`, pull each next row into the one before it.
    row.set(split.x.subarray(start * width, (start + 1) * width));
    const label = split.labels[start] as number;
    let i = start;
    for (;;) {
      done[i] = 1;
      const from = order[i] as number;
      if (from === start) break;
      split.x.copyWithin(i * width, from * width, (from + 1) * width);
      split.labels[i] = split.labels[from] as number;
      i = from;
    }
    split.x.set(row, i * width);
    split.labels[i] = label;
  }
}

/** Samples per class in a split. */
export function countPerClass(split: DataSplit, classes: number): number[] {
  const out = new Array<number>(classes).fill(0);
  for (let i = 0; i < split.count; i++) out[split.labels[i] as number]! += 1;
  return out;
}

/**
 * The content hash a run refers to: sha-256 over a canonical header (kind, shape, dtype,
 * classes, counts) and then the bytes of train x, train labels, test x, test labels.
 * Two imports of the same data hash alike whatever their names or source files.
 */
export function datasetHash(d: LoadedDataset): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ kind: d.kind, shape: d.shape, dtype: d.dtype, classes: d.classes, train: d.train.count, test: d.test.count }));
  for (const s of [d.train, d.test]) {
    h.update(new Uint8Array(s.x.buffer, s.x.byteOffset, s.x.byteLength));
    h.update(s.labels);
  }
  return h.digest('hex');
}
