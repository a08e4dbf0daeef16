/**
 * Merging adapters into a base and combining several adapters trained on the same
 * base, as PEFT's `add_weighted_adapter` (names from PEFT; ΔW_i = s_i·B_i·A_i with
 * s_i the adapter's scaling and w_i its weight in the combination):
 *
 * - `linear`: ΔW = Σ w_i·ΔW_i, exact. As an adapter it takes the concatenated form
 *   below (rank Σ r_i): PEFT's own `linear` mixes A's and B's separately, which adds
 *   cross terms B_i·A_j and is not the weighted sum, so LoRA Lab does not copy it.
 * - `cat`: A = [A_1; A_2; …] [R, in], B = [w_1 s_1 B_1 | w_2 s_2 B_2 | …] [out, R],
 *   scaling 1, R = Σ r_i. B·A = Σ w_i·ΔW_i exactly.
 * - `svd`: the cat factors truncated to rank k (default: the largest r_i, as PEFT) by
 *   an exact truncated SVD from the factors (linalg.ts), never an [out, in] SVD.
 * - `ties` / `dare` (task-vectors.ts): per-entry operations on the full ΔW_i, so the
 *   merged ΔW is formed per layer; as an adapter it is truncated to rank k by
 *   randomized subspace iteration seeded from `seed`.
 * Combined adapters have scaling 1 (alpha = r, standard), as PEFT's merged adapters.
 * Adapters need not target the same layers: a layer gets contributions from those
 * that target it, and ranks are padded with zeros to one r for every layer.
 */
import { layerNames } from '../contract/config.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { Rng } from '../util/rng.ts';
import { MAX_MERGE_WEIGHT, MAX_SCALING, countNonFinite, nonFiniteTensors } from './finite.ts';
import { type Matrix, matrix, randomizedSvd, truncatedSvdOfProduct } from './linalg.ts';
import type { HostTensor, NamedTensors } from '../contract/named.ts';
import { dareMerge, tiesMerge } from './task-vectors.ts';

export class MergeError extends Error {
  override name = 'MergeError';
}

export { MERGE_METHODS, type MergeMethod };
import { MERGE_METHODS, type MergeMethod } from '../contract/api.ts';

export interface WeightedAdapter {
  info: AdapterInfo;
  /** `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r]. */
  tensors: NamedTensors;
  weight: number;
  /** For error messages. */
  name?: string;
}

export interface MergeOptions {
  method: MergeMethod;
  /** Output rank for svd, ties and dare adapters (default: the largest input rank). */
  rank?: number;
  /** ties: fraction of each ΔW_i kept, in (0, 1]. */
  density?: number;
  /** dare: probability p of dropping each entry, in [0, 1). */
  dropRate?: number;
  /** dare masks and the randomized SVD (default 0). */
  seed?: number;
}

/** Layer name (`linear1` …) → ΔW [out, in]. */
export type LayerDeltas = Record<string, HostTensor>;

export interface CombinedAdapter {
  info: AdapterInfo;
  tensors: NamedTensors;
}

/** Throw a MergeError unless the adapter's layers and shapes fit a base of `sizes`. */
export function checkAdapterFits(sizes: readonly number[], info: AdapterInfo, tensors: NamedTensors, label = 'the adapter'): void {
  const layers = layerNames(sizes);
  const bad = (msg: string): never => {
    throw new MergeError(`${label}: ${msg}`);
  };
  if (!Number.isInteger(info.r) || info.r < 1) bad(`rank r must be a positive integer, got ${info.r}`);
  if (!Number.isFinite(info.scaling)) bad(`scaling must be a finite number, got ${info.scaling}`);
  // Stored by an older LoRA Lab (lora_alpha 1e308 was accepted): any merge would overflow.
  if (Math.abs(info.scaling) > MAX_SCALING) bad(`scaling ${info.scaling.toPrecision(3)} is larger than ${MAX_SCALING.toLocaleString('en-US')}: merging it would overflow`);
  if (!Array.isArray(info.targets) || info.targets.length === 0) bad('targets no layer');
  if (new Set(info.targets).size !== info.targets.length) bad('lists a target layer twice');
  const expected = new Set<string>();
  for (const t of info.targets) {
    const i = layers.indexOf(t);
    if (i < 0) bad(`targets ${t}, which this base (${layers.join(', ')}) does not have: it belongs to another base`);
    const inF = sizes[i] as number;
    const outF = sizes[i + 1] as number;
    const a = tensors[`${t}.lora_A`];
    const b = tensors[`${t}.lora_B`];
    if (!a || !b) return bad(`${t}.${!a ? 'lora_A' : 'lora_B'} is missing`);
    if (a.shape.join() !== `${info.r},${inF}`) bad(`${t}.lora_A has shape [${a.shape}], this base needs [${info.r}, ${inF}]: other shapes, another base`);
    if (b.shape.join() !== `${outF},${info.r}`) bad(`${t}.lora_B has shape [${b.shape}], this base needs [${outF}, ${info.r}]: other shapes, another base`);
    for (const x of [a, b]) {
      if (x.data.length !== x.shape[0]! * x.shape[1]!) bad(`${t} holds ${x.data.length} values for shape [${x.shape}]`);
      const nonFinite = countNonFinite(x.data);
      if (nonFinite > 0) bad(`${t}.${x === a ? 'lora_A' : 'lora_B'} holds ${nonFinite.toLocaleString('en-US')} NaN or infinite values`);
    }
    expected.add(`${t}.lora_A`).add(`${t}.lora_B`);
  }
  for (const name of Object.keys(tensors)) if (!expected.has(name)) bad(`tensor ${name} belongs to no target layer`);
}

function checkInputs(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): void {
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new MergeError(`bad base layer sizes [${sizes}]`);
  }
  if (!MERGE_METHODS.includes(opts.method)) throw new MergeError(`unknown method ${JSON.stringify(opts.method)} (choose ${MERGE_METHODS.join(', ')})`);
  if (!Array.isArray(adapters) || adapters.length === 0) throw new MergeError('choose at least one adapter to combine');
  adapters.forEach((a, i) => {
    const label = a.name ? `adapter ${JSON.stringify(a.name)}` : `adapter ${i + 1}`;
    if (typeof a.weight !== 'number' || !(Math.abs(a.weight) <= MAX_MERGE_WEIGHT)) {
      throw new MergeError(`${label}: weight must be a number from -${MAX_MERGE_WEIGHT} to ${MAX_MERGE_WEIGHT}, got ${a.weight}`);
    }
    checkAdapterFits(sizes, a.info, a.tensors, label);
  });
  if (opts.rank !== undefined && (!Number.isInteger(opts.rank) || opts.rank < 1 || opts.rank > 65536)) {
    throw new MergeError(`rank must be a positive integer, got ${opts.rank}`);
  }
  if (opts.method === 'ties' && !(typeof opts.density === 'number' && opts.density > 0 && opts.density <= 1)) {
    throw new MergeError(`ties needs a density in (0, 1], got ${opts.density}`);
  }
  if (opts.method === 'dare' && !(typeof opts.dropRate === 'number' && opts.dropRate >= 0 && opts.dropRate < 1)) {
    throw new MergeError(`dare needs a drop rate p in [0, 1), got ${opts.dropRate}`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new MergeError(`seed must be an integer in [0, 2^32-1], got ${seed}`);
}

const get = (t: NamedTensors, name: string) => t[name] as HostTensor;

/** Layers any adapter targets, in base order. */
const unionTargets = (sizes: readonly number[], adapters: readonly WeightedAdapter[]) =>
  layerNames(sizes).filter((l) => adapters.some((a) => a.info.targets.includes(l)));

/** ΔW_i = s·B·A for one layer, in float64 ([out, in] row-major). */
function taskVector(adapter: Pick<WeightedAdapter, 'info' | 'tensors'>, layer: string): Float64Array {
  const A = get(adapter.tensors, `${layer}.lora_A`); // [r, in]
  const B = get(adapter.tensors, `${layer}.lora_B`); // [out, r]
  const [r, inF] = A.shape as [number, number];
  const outF = B.shape[0] as number;
  const s = adapter.info.scaling;
  const out = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let k = 0; k < r; k++) {
      const bok = s * (B.data[o * r + k] as number);
      if (bok === 0) continue;
      const row = o * inF;
      const ak = k * inF;
      for (let i = 0; i < inF; i++) out[row + i] = (out[row + i] as number) + bok * (A.data[ak + i] as number);
    }
  }
  return out;
}

const toHost = (shape: number[], data: ArrayLike<number>): HostTensor => ({ shape, data: Float32Array.from(data) });

/** ΔW = scaling·B·A [out, in] for every target of one adapter. */
export function deltaFromAdapter(info: AdapterInfo, tensors: NamedTensors): LayerDeltas {
  const out: LayerDeltas = {};
  for (const layer of info.targets) {
    const a = tensors[`${layer}.lora_A`];
    const b = tensors[`${layer}.lora_B`];
    if (!a || !b) throw new MergeError(`${layer}.${!a ? 'lora_A' : 'lora_B'} is missing`);
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[1]) {
      throw new MergeError(`${layer}: lora_A [${a.shape}] and lora_B [${b.shape}] do not chain`);
    }
    out[layer] = toHost([b.shape[0] as number, a.shape[1] as number], taskVector({ info, tensors }, layer));
  }
  return out;
}

/** Per layer ΔW [out, in] of the combination (for svd: of the rank-k adapter; for ties and dare: untruncated). */
export function combineDeltas(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): LayerDeltas {
  checkInputs(sizes, adapters, opts);
  if (opts.method === 'svd') {
    const c = combineToAdapter(sizes, adapters, opts);
    return deltaFromAdapter(c.info, c.tensors);
  }
  const out: LayerDeltas = {};
  for (const [layer, delta] of fullDeltas(sizes, adapters, opts)) out[layer] = toHost(delta.shape, delta.data);
  return out;
}

/** Merged ΔW per layer in float64 for linear / cat / ties / dare. */
function fullDeltas(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): Map<string, { shape: number[]; data: Float64Array }> {
  const layers = layerNames(sizes);
  // One independent stream per (adapter, layer), so a mask never depends on which
  // other layers or adapters take part.
  const maskRoot = new Rng(opts.seed ?? 0).fork();
  const streams = adapters.map(() => {
    const perAdapter = maskRoot.fork();
    return layers.map(() => perAdapter.fork());
  });
  const out = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const layer of unionTargets(sizes, adapters)) {
    const j = layers.indexOf(layer);
    const shape = [sizes[j + 1] as number, sizes[j] as number];
    const idx = adapters.map((_, i) => i).filter((i) => adapters[i]!.info.targets.includes(layer));
    const tasks = idx.map((i) => taskVector(adapters[i]!, layer));
    const weights = idx.map((i) => adapters[i]!.weight);
    let data: Float64Array;
    if (opts.method === 'ties') data = tiesMerge(tasks, weights, opts.density as number);
    else if (opts.method === 'dare') data = dareMerge(tasks, weights, opts.dropRate as number, idx.map((i) => streams[i]![j]!));
    else data = dareMerge(tasks, weights, 0, idx.map((i) => streams[i]![j]!)); // p = 0: exactly Σ w_i·ΔW_i
    out.set(layer, { shape, data });
  }
  return out;
}

/** The combination as one adapter (see the file comment for each method's form). */
export function combineToAdapter(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): CombinedAdapter {
  checkInputs(sizes, adapters, opts);
  const layers = unionTargets(sizes, adapters);
  const factors = new Map<string, { B: Matrix; A: Matrix }>();
  const k = opts.rank ?? Math.max(...adapters.map((a) => a.info.r)); // PEFT's default new rank
  if (opts.method === 'linear' || opts.method === 'cat' || opts.method === 'svd') {
    for (const layer of layers) {
      const cat = catFactors(sizes, adapters, layer);
      factors.set(layer, opts.method === 'svd' ? truncatedSvdOfProduct(cat.B, cat.A, k) : cat);
    }
  } else {
    const svdRoot = new Rng(opts.seed ?? 0);
    svdRoot.fork(); // the first child seeds the dare masks (fullDeltas)
    const svdStreams = new Map(layerNames(sizes).map((l) => [l, svdRoot.fork()]));
    for (const [layer, d] of fullDeltas(sizes, adapters, opts)) {
      const w = { rows: d.shape[0] as number, cols: d.shape[1] as number, data: d.data };
      factors.set(layer, randomizedSvd(w, k, svdStreams.get(layer) as Rng));
    }
  }
  const r = Math.max(...[...factors.values()].map((f) => f.A.rows));
  const tensors: NamedTensors = {};
  for (const [layer, f] of factors) {
    tensors[`${layer}.lora_A`] = toHost([r, f.A.cols], padRows(f.A, r).data); // [r, in]
    tensors[`${layer}.lora_B`] = toHost([f.B.rows, r], padCols(f.B, r).data); // [out, r]
  }
  const info: AdapterInfo = { r, alpha: r, scaling: 1, scalingRule: 'standard', targets: layers, init: adapters[0]!.info.init, variant: 'lora', freezeA: false };
  return { info, tensors };
}

/** A_cat [R, in] = A_i stacked; B_cat [out, R] = w_i·s_i·B_i side by side (adapters targeting `layer`). */
function catFactors(sizes: readonly number[], adapters: readonly WeightedAdapter[], layer: string): { B: Matrix; A: Matrix } {
  const j = layerNames(sizes).indexOf(layer);
  const inF = sizes[j] as number;
  const outF = sizes[j + 1] as number;
  const using = adapters.filter((a) => a.info.targets.includes(layer));
  const R = using.reduce((s, a) => s + a.info.r, 0);
  const A = matrix(R, inF);
  const B = matrix(outF, R);
  let at = 0;
  for (const a of using) {
    const { r, scaling } = a.info;
    A.data.set(get(a.tensors, `${layer}.lora_A`).data, at * inF);
    const b = get(a.tensors, `${layer}.lora_B`).data; // [out, r]
    for (let o = 0; o < outF; o++) for (let k = 0; k < r; k++) B.data[o * R + at + k] = a.weight * scaling * (b[o * r + k] as number);
    at += r;
  }
  return { B, A };
}

function padRows(m: Matrix, rows: number): Matrix {
  if (m.rows === rows) return m;
  const out = matrix(rows, m.cols);
  out.data.set(m.data);
  return out;
}

function padCols(m: Matrix, cols: number): Matrix {
  if (m.cols === cols) return m;
  const out = matrix(m.rows, cols);
  for (let i = 0; i < m.rows; i++) out.data.set(m.data.subarray(i * m.cols, (i + 1) * m.cols), i * cols);
  return out;
}

/** W = W0 + ΔW for every layer in `deltas`; biases and untouched layers are copied unchanged. */
export function mergeIntoBase(baseTensors: NamedTensors, deltas: LayerDeltas): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(baseTensors)) out[name] = { shape: [...t.shape], data: t.data.slice() };
  for (const [layer, d] of Object.entries(deltas)) {
    const w = out[`${layer}.weight`];
    if (!w) throw new MergeError(`the base has no ${layer}.weight to merge into`);
    if (w.shape.join() !== d.shape.join()) throw new MergeError(`ΔW for ${layer} is [${d.shape}], the base weight is [${w.shape}]`);
    // One rounding: the sum is formed in float64 and stored as float32.
    for (let i = 0; i < w.data.length; i++) w.data[i] = (w.data[i] as number) + (d.data[i] as number);
  }
  return out;
}

/**
 * Throw a MergeError when a merge produced NaN or infinite weights: finite inputs can
 * still overflow float32 (an adapter weight × its scaling × large factors). Called on
 * every result before it is stored or previewed; the message names the tensor and the
 * factors that made it, so the user knows what to make smaller.
 */
export function checkMergeResult(result: NamedTensors, adapters: readonly WeightedAdapter[]): void {
  const bad = nonFiniteTensors(result);
  const first = bad[0];
  if (!first) return;
  const factors = adapters.map((a, i) => `${a.name ?? `adapter ${i + 1}`}: weight ${a.weight} × scaling ${a.info.scaling}`).join('; ');
  throw new MergeError(
    `the merge overflows float32: ${first.count.toLocaleString('en-US')} values of ${first.name}${bad.length > 1 ? ` (and of ${bad.length - 1} more tensor${bad.length > 2 ? 's' : ''})` : ''} ` +
      `would be infinite or NaN; an adapter weight × scaling is too large for these weights (${factors})`,
  );
}
