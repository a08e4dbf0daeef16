/**
 * Merging adapters into a base and combining several adapters trained on the same
 * base, by the methods of PEFT's `add_weighted_adapter`, under its names. ΔW_i =
 * s_i·B_i·A_i (delta.ts's deltaWeight) with s_i the adapter's scaling and w_i its
 * weight in the combination; a negative w_i subtracts what the adapter learned (task
 * negation). Where PEFT and LoRA Lab differ, it says so:
 *
 * - `linear`: ΔW = Σ w_i·ΔW_i, exact, any ranks. As an adapter it takes the `cat` form
 *   (rank Σ r_i). PEFT's own `linear` mixes the A's and the B's separately (one rank
 *   only), which adds cross terms B_i·A_j and is not the weighted sum: not copied.
 * - `cat`: A = [A_1; A_2; …] [R, in], B = [w_1 s_1 B_1 | w_2 s_2 B_2 | …] [out, R],
 *   R = Σ r_i. B·A = Σ w_i·ΔW_i exactly (PEFT puts w_i·s_i on the A's: the same product).
 * - `svd`: the cat factors truncated to rank k (`rank`, default the largest r_i, as
 *   PEFT) by an exact truncated SVD from the factors (linalg.ts), never an [out, in] SVD.
 * - `ties`, `dare_linear`, `dare_ties`, `magnitude_prune` (merge-factors.ts): the
 *   method applied to the A's and to the B's separately, as PEFT; one rank r for all
 *   adapters, or refused (naming the _svd form). Negative weights work (PEFT's
 *   √(w·s) fails on them): see merge-factors.ts.
 * - `ties_svd`, `dare_linear_svd`, `dare_ties_svd`, `magnitude_prune_svd`: the method
 *   (task-vectors.ts) on the full ΔW_i of each layer with weights w_i, then as an
 *   adapter truncated to rank k by randomized subspace iteration seeded from `seed`;
 *   merged into the base, the combined ΔW is used untruncated. (PEFT weighs the ΔW_i,
 *   which already hold s_i, by w_i·s_i: the scaling twice. LoRA Lab applies it once,
 *   so one adapter at weight 1 and density 1 comes back as itself.)
 * - DoRA adapters merge into their base only alone, at weight 1 (merge-dora.ts).
 *
 * `density` ∈ [0, 1] is the fraction of values kept (0 prunes everything); dare_* masks
 * are seeded (`seed`), not PEFT's torch.bernoulli draws. `majoritySign` is `total` or
 * `frequency`. PEFT turns any method with a single adapter into `linear`; LoRA Lab
 * applies the method asked for (so one adapter can be pruned, say).
 * Combined adapters have scaling 1 (alpha = r, standard), as PEFT's merged adapters.
 * Adapters need not target the same layers: a layer gets contributions from those
 * that target it, and ranks are padded with zeros to one r for every layer.
 */
import { layerNames } from '../contract/config.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { deltaWeight } from '../adapters/delta.ts';
import { hostOps } from '../adapters/ops.ts';
import { Rng } from '../util/rng.ts';
import { nonFiniteTensors } from './finite.ts';
import { type Matrix, matrix, randomizedSvd, truncatedSvdOfProduct } from './linalg.ts';
import type { NamedTensors } from '../contract/named.ts';
import { MERGE_METHODS, type MajoritySignMethod, type MergeMethod } from '../contract/api.ts';
import { type Combination, combineTasks } from './task-vectors.ts';
import { MergeError } from './merge-error.ts';
import { checkAdapterFits, checkInputs, labelOf } from './merge-checks.ts';
import { doraDeltas, isDora } from './merge-dora.ts';
import { factorWiseFactors } from './merge-factors.ts';
import { isFactorWise, isSvdForm } from './merge-request.ts';

export { MERGE_METHODS, MergeError, checkAdapterFits, type MergeMethod };

export interface WeightedAdapter {
  info: AdapterInfo;
  /** `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r] (DoRA: and `<layer>.lora_magnitude_vector` [out]). */
  tensors: NamedTensors;
  weight: number;
  /** For error messages. */
  name?: string;
}

export interface MergeOptions {
  method: MergeMethod;
  /** Output rank of svd and the *_svd adapters (default: the largest input rank). */
  rank?: number;
  /** Fraction of values kept, in [0, 1]: every method but linear, cat and svd. */
  density?: number;
  /** ties, dare_ties and their _svd forms (default `total`). */
  majoritySign?: MajoritySignMethod;
  /** dare masks and the randomized SVD (default 0). */
  seed?: number;
}

/** One layer's ΔW [out, in] in float64, row-major. */
export interface Delta {
  shape: number[];
  data: Float64Array;
}

/** Layer name (`linear1` …) → ΔW [out, in]. */
export type LayerDeltas = Record<string, Delta>;

export interface CombinedAdapter {
  info: AdapterInfo;
  tensors: NamedTensors;
}

const get = (t: NamedTensors, name: string) => t[name] as { shape: number[]; data: Float32Array };

/** Layers any adapter targets, in base order. */
const unionTargets = (sizes: readonly number[], adapters: readonly WeightedAdapter[]) =>
  layerNames(sizes).filter((l) => adapters.some((a) => a.info.targets.includes(l)));

/** ΔW = s·B·A of one layer of one adapter, in float64 ([out, in] row-major). */
function taskVector(info: AdapterInfo, tensors: NamedTensors, layer: string): Float64Array {
  const A = get(tensors, `${layer}.lora_A`); // [r, in]
  const B = get(tensors, `${layer}.lora_B`); // [out, r]
  const [r, inF] = A.shape as [number, number];
  const outF = B.shape[0] as number;
  return deltaWeight(hostOps, { A: matrix(r, inF, A.data), B: matrix(outF, r, B.data) }, info.scaling).data;
}

/** ΔW = scaling·B·A [out, in] for every target of one adapter (for DoRA: the ΔW inside its norm). */
export function deltaFromAdapter(info: AdapterInfo, tensors: NamedTensors): LayerDeltas {
  const out: LayerDeltas = {};
  for (const layer of info.targets) {
    const a = tensors[`${layer}.lora_A`];
    const b = tensors[`${layer}.lora_B`];
    if (!a || !b) throw new MergeError(`${layer}.${!a ? 'lora_A' : 'lora_B'} is missing`);
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[1]) {
      throw new MergeError(`${layer}: lora_A [${a.shape}] and lora_B [${b.shape}] do not chain`);
    }
    out[layer] = { shape: [b.shape[0] as number, a.shape[1] as number], data: taskVector(info, tensors, layer) };
  }
  return out;
}

/**
 * Per layer ΔW [out, in] of the combination, what merging into the base adds: for svd,
 * the rank-k adapter's; for the *_svd methods, untruncated; for a DoRA adapter (alone),
 * W' − W0, which needs the `base` weights.
 */
export function combineDeltas(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions, base: NamedTensors | null = null): LayerDeltas {
  checkInputs(sizes, adapters, opts, 'model', base);
  const dora = adapters.findIndex((a) => isDora(a.info));
  if (dora >= 0) return doraDeltas(adapters[dora]!, base as NamedTensors, labelOf(adapters[dora]!, dora));
  if (opts.method === 'svd') {
    const c = combineToAdapter(sizes, adapters, opts);
    return deltaFromAdapter(c.info, c.tensors);
  }
  const out: LayerDeltas = {};
  if (isFactorWise(opts.method)) {
    for (const [layer, f] of factorWiseFactors(sizes, adapters, opts, maskStreams(sizes, adapters, opts))) {
      out[layer] = { shape: [f.B.rows, f.A.cols], data: deltaWeight(hostOps, f, 1).data };
    }
    return out;
  }
  for (const [layer, delta] of fullDeltas(sizes, adapters, opts)) out[layer] = delta;
  return out;
}

/**
 * One independent stream per (adapter, layer), so a mask never depends on which other
 * layers or adapters take part: the first child of Rng(seed), forked per adapter, then
 * per layer of the base.
 */
function maskStreams(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): Rng[][] {
  const layers = layerNames(sizes);
  const maskRoot = new Rng(opts.seed ?? 0).fork();
  return adapters.map(() => {
    const perAdapter = maskRoot.fork();
    return layers.map(() => perAdapter.fork());
  });
}

/** How the full ΔW_i combine: the method without `_svd`; linear and cat are the weighted sum. */
const combinationOf = (m: MergeMethod): Combination => (isSvdForm(m) ? (m.slice(0, -'_svd'.length) as Combination) : 'task_arithmetic');

/** Merged ΔW per layer in float64 for linear / cat and the *_svd methods. */
function fullDeltas(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): Map<string, Delta> {
  const layers = layerNames(sizes);
  const streams = maskStreams(sizes, adapters, opts);
  const how = combinationOf(opts.method);
  const out = new Map<string, Delta>();
  for (const layer of unionTargets(sizes, adapters)) {
    const j = layers.indexOf(layer);
    const shape = [sizes[j + 1] as number, sizes[j] as number];
    const idx = adapters.map((_, i) => i).filter((i) => adapters[i]!.info.targets.includes(layer));
    const tasks = idx.map((i) => taskVector(adapters[i]!.info, adapters[i]!.tensors, layer));
    const weights = idx.map((i) => adapters[i]!.weight);
    const data = combineTasks(how, tasks, weights, {
      ...(opts.density !== undefined ? { density: opts.density } : {}),
      ...(opts.majoritySign ? { majoritySign: opts.majoritySign } : {}),
      rngs: idx.map((i) => streams[i]![j]!),
    });
    out.set(layer, { shape, data });
  }
  return out;
}

/** The combination as one adapter (see the file comment for each method's form). DoRA adapters are refused. */
export function combineToAdapter(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions): CombinedAdapter {
  checkInputs(sizes, adapters, opts, 'adapter', null);
  const layers = unionTargets(sizes, adapters);
  let factors = new Map<string, { B: Matrix; A: Matrix }>();
  const k = opts.rank ?? Math.max(...adapters.map((a) => a.info.r)); // PEFT's default new rank
  if (opts.method === 'linear' || opts.method === 'cat' || opts.method === 'svd') {
    for (const layer of layers) {
      const cat = catFactors(sizes, adapters, layer);
      factors.set(layer, opts.method === 'svd' ? truncatedSvdOfProduct(cat.B, cat.A, k) : cat);
    }
  } else if (isFactorWise(opts.method)) {
    factors = factorWiseFactors(sizes, adapters, opts, maskStreams(sizes, adapters, opts));
  } else {
    const svdRoot = new Rng(opts.seed ?? 0);
    svdRoot.fork(); // the first child seeds the dare masks (maskStreams)
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

const toHost = (shape: number[], data: ArrayLike<number>) => ({ shape, data: Float32Array.from(data) });

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
export function mergeIntoBase(baseTensors: NamedTensors, deltas: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): NamedTensors {
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
