/**
 * Index views over a data set split: class subsets, seeded shuffles and batches.
 * A subset is a list of sample indices; batches are materialised on demand.
 */
import { Rng } from '../util/rng.ts';
import { type DataSplit, type SampleSplit, normaliseInto } from './dataset.ts';

export interface SubsetOptions {
  /** Keep only these classes; null keeps all. */
  classes: readonly number[] | null;
  /** Keep at most this many images (a seeded sample when `seed` is set, else the first). */
  limit: number | null;
  seed?: number;
}

export function subsetIndices(split: DataSplit, opts: SubsetOptions): Uint32Array {
  const keep = opts.classes ? new Set(opts.classes) : null;
  let idx: number[] = [];
  for (let i = 0; i < split.count; i++) {
    if (!keep || keep.has(split.labels[i] as number)) idx.push(i);
  }
  if (opts.limit !== null && idx.length > opts.limit) {
    if (opts.seed !== undefined) new Rng(opts.seed).shuffle(idx);
    idx = idx.slice(0, opts.limit).sort((a, b) => a - b);
  }
  return Uint32Array.from(idx);
}

export interface Batch {
  x: Float32Array; // [size, inputSize]
  y: Int32Array; // [size]
  size: number;
}

/**
 * Seeded epoch iterator: shuffles the indices at each epoch start and yields batches.
 * The last, smaller batch is kept (as PyTorch's DataLoader does by default).
 */
export class BatchIterator {
  readonly #split: SampleSplit;
  readonly #order: Uint32Array;
  readonly #batchSize: number;
  readonly #rng: Rng;
  #pos = 0;
  #epoch = 0;
  readonly #x: Float32Array;
  readonly #y: Int32Array;

  constructor(split: SampleSplit, indices: Uint32Array, batchSize: number, seed: number) {
    if (indices.length === 0) throw new Error('the training subset is empty');
    this.#split = split;
    this.#order = indices.slice();
    this.#batchSize = batchSize;
    this.#rng = new Rng(seed);
    this.#rng.shuffle(this.#order);
    this.#x = new Float32Array(batchSize * split.inputSize);
    this.#y = new Int32Array(batchSize);
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.#order.length / this.#batchSize);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Next batch. The returned arrays are reused by the following call. */
  next(): Batch {
    if (this.#pos >= this.#order.length) {
      this.#pos = 0;
      this.#epoch++;
      this.#rng.shuffle(this.#order);
    }
    const from = this.#pos;
    const to = Math.min(from + this.#batchSize, this.#order.length);
    const size = to - from;
    normaliseInto(this.#split, this.#order, from, to, this.#x);
    for (let b = 0; b < size; b++) this.#y[b] = this.#split.labels[this.#order[from + b] as number] as number;
    this.#pos = to;
    return { x: this.#x.subarray(0, size * this.#split.inputSize), y: this.#y.subarray(0, size), size };
  }
}
