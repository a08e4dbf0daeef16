/**
 * The playground's forward pass (issue 16), in plain JavaScript: a base MLP with one
 * adapter, evaluated three ways for one input — the base, the adapter at a scale t, and
 * the merged model (the adapter folded into float32 weights). Plain JS rather than TF.js:
 * the classic 784→1000→2000→10 MLP is ~2.8 M multiply-adds a forward, a few ms here, so
 * three a stroke stay far under the 50 ms a drawing needs without a round trip to the
 * trainer or a TF.js bundle in the page. No Svelte: tests import it in Node.
 *
 * The network is the trainer's (src-main/trainer/mlp.ts): h = relu(h·Wᵀ + b) between
 * layers, the last layer linear, softmax for probabilities. The adapter's math is
 * src-main/adapters/delta.ts's (docs/math.md):
 *   LoRA  W' = W0 + s·B·A
 *   DoRA  W' = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖   (norm per output row)
 * and the adapter at scale t is W(t) = W0 + t·(W' − W0): 0 is the base, 1 the adapter as
 * trained, for both variants.
 */
import type { InputMapping, WeightsView } from '../../src-main/contract/playground.ts';
import type { HostTensor } from '../../src-main/contract/named.ts';

/** One linear layer, its weights held [in, out] so that the inner loop runs along a contiguous row. */
interface Layer {
  name: string;
  inF: number;
  outF: number;
  W0: Float32Array; // [in, out]
  b: Float32Array; // [out]
  /** The adapter on this layer, or null when it is not a target. */
  lora: LoraLayer | null;
}

interface LoraLayer {
  r: number;
  A: Float32Array; // [in, r]   lora_A transposed
  sB: Float64Array; // [r, out] s·lora_B transposed: the scaling folded in once
  /** DoRA's per-output factor m / ‖W0 + s·B·A‖ (null for LoRA). */
  factor: Float64Array | null; // [out]
  /** W' rounded to float32: what merging stores, run as a plain layer. */
  merged: Float32Array; // [in, out]
}

/** The three views of one input, each a probability per class. */
export interface Probabilities {
  base: Float64Array; // [classes]
  adapter: Float64Array; // [classes], at the t asked for
  merged: Float64Array; // [classes]
}

/** Which network to run: the base, the adapter at scale t, or the merged weights. */
export type Which = { model: 'base' } | { model: 'adapter'; t: number } | { model: 'merged' };

const tensor = (view: WeightsView, name: string, shape: number[]): HostTensor => {
  const x = view.tensors[name];
  if (!x) throw new Error(`${view.kind} ${view.id} has no tensor ${name}`);
  if (x.shape.join() !== shape.join()) throw new Error(`${name} has shape [${x.shape}], expected [${shape}]`);
  return x;
};

/** [rows, cols] row-major → [cols, rows], into a new array. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols); // [cols, rows]
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}

/**
 * W0 + s·B·A in float64 per element, held [in, out]: `A` [r, in] and `B` [out, r] in
 * PyTorch orientation, as stored.
 */
function adaptedT(W0: Float32Array, A: Float32Array, B: Float32Array, s: number, inF: number, outF: number, r: number): Float64Array {
  const out = new Float64Array(inF * outF); // [in, out]
  for (let i = 0; i < inF; i++) {
    for (let o = 0; o < outF; o++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += (B[o * r + k] as number) * (A[k * inF + i] as number);
      out[i * outF + o] = (W0[i * outF + o] as number) + s * d;
    }
  }
  return out;
}

/**
 * y = x·W + y (W [in, out]). Zero inputs are skipped: most of a drawn digit's pixels
 * are background and ReLU zeroes many hidden units, which makes this several times
 * faster than the dense count of multiply-adds.
 */
function accumulate(x: ArrayLike<number>, W: Float32Array | Float64Array, inF: number, outF: number, y: Float64Array): void {
  for (let i = 0; i < inF; i++) {
    const xi = x[i] as number;
    if (xi === 0) continue;
    const row = i * outF;
    for (let o = 0; o < outF; o++) y[o] = (y[o] as number) + xi * (W[row + o] as number);
  }
}

/** Probabilities from logits, shifted by the largest so exp cannot overflow. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i] as number);
  const out = new Float64Array(n); // [classes]
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp((logits[i] as number) - max);
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** The index of the largest value (the first of equal ones, as tf.argMax). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

/** The largest |a[i] − b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/**
 * A sample as the network's input, exactly as the trainer normalises it
 * (src-main/data/dataset.ts sampleSplit/normaliseInto): x·scale − shift per value, with
 * scale = 1/(255·std) for images (1/std for tables) and shift = mean/std of the value's
 * channel (or feature) g = p mod mean.length, computed in float64 and stored float32.
 */
export function toInput(sample: ArrayLike<number>, mapping: Pick<InputMapping, 'kind' | 'mean' | 'std'>): Float32Array {
  const groups = mapping.mean.length;
  if (groups === 0 || mapping.std.length !== groups) throw new Error('the data set has no normalisation to map its samples with');
  const divide = mapping.kind === 'image' ? 255 : 1;
  const out = new Float32Array(sample.length); // [inputSize]
  for (let p = 0; p < sample.length; p++) {
    const g = p % groups;
    const std = mapping.std[g] as number;
    out[p] = (sample[p] as number) * (1 / (divide * std)) - (mapping.mean[g] as number) / std;
  }
  return out;
}

export class Net {
  readonly sizes: readonly number[];
  readonly variant: 'lora' | 'dora';
  /** The adapter's s (α/r, or α/√r for rsLoRA), as trained. */
  readonly scaling: number;
  readonly #layers: Layer[];

  private constructor(sizes: readonly number[], layers: Layer[], variant: 'lora' | 'dora', scaling: number) {
    this.sizes = sizes;
    this.#layers = layers;
    this.variant = variant;
    this.scaling = scaling;
  }

  /**
   * Builds once what every forward needs: W0 transposed, the factors transposed with s
   * folded into B, DoRA's per-output factor, and each target's merged W' in float32 (as
   * a merge stores it). Throws when the tensors do not fit the widths.
   */
  static fromWeights(base: WeightsView, adapter: WeightsView): Net {
    if (base.kind !== 'model') throw new Error('the base must be a model');
    if (adapter.kind !== 'adapter' || !adapter.adapter) throw new Error('the adapter view holds no adapter');
    if (adapter.adapter.baseModelId !== base.id) throw new Error(`adapter ${adapter.id} applies to model ${adapter.adapter.baseModelId}, not ${base.id}`);
    if (base.sizes.join() !== adapter.sizes.join()) throw new Error(`the base has widths [${base.sizes}], the adapter expects [${adapter.sizes}]`);
    const { info } = adapter.adapter;
    const s = info.scaling;
    const sizes = base.sizes;
    const names = new Set(sizes.slice(1).map((_, i) => `linear${i + 1}`));
    const unknown = info.targets.filter((t) => !names.has(t));
    if (unknown.length) throw new Error(`the adapter targets ${unknown.join(', ')}, which the base does not have`);
    const layers = sizes.slice(1).map((outF, i): Layer => {
      const inF = sizes[i] as number;
      const name = `linear${i + 1}`;
      const W0 = transpose(tensor(base, `${name}.weight`, [outF, inF]).data, outF, inF); // [in, out]
      const b = tensor(base, `${name}.bias`, [outF]).data; // [out]
      if (!info.targets.includes(name)) return { name, inF, outF, W0, b, lora: null };
      const a = adapter.tensors[`${name}.lora_A`];
      // The rank is the stored factor's (a merged adapter's can differ from a run's r).
      const r = a && a.shape.length === 2 ? (a.shape[0] as number) : info.r;
      const A = tensor(adapter, `${name}.lora_A`, [r, inF]).data; // [r, in]
      const B = tensor(adapter, `${name}.lora_B`, [outF, r]).data; // [out, r]
      const sB = new Float64Array(r * outF); // [r, out]
      for (let o = 0; o < outF; o++) for (let k = 0; k < r; k++) sB[k * outF + o] = s * (B[o * r + k] as number);
      const adapted = adaptedT(W0, A, B, s, inF, outF, r); // [in, out] W0 + s·B·A in float64
      const lora = { r, A: transpose(A, r, inF), sB };
      if (info.variant !== 'dora') return { name, inF, outF, W0, b, lora: { ...lora, factor: null, merged: Float32Array.from(adapted) } };
      const m = tensor(adapter, `${name}.lora_magnitude_vector`, [outF]).data; // [out]
      // ‖W0 + s·B·A‖ per output row of the PyTorch weight: a column here.
      const factor = new Float64Array(outF); // [out]
      for (let j = 0; j < inF; j++) for (let o = 0; o < outF; o++) factor[o] = (factor[o] as number) + (adapted[j * outF + o] as number) ** 2;
      for (let o = 0; o < outF; o++) factor[o] = (m[o] as number) / Math.sqrt(factor[o] as number);
      const merged = new Float32Array(inF * outF); // [in, out]
      for (let j = 0; j < inF; j++) for (let o = 0; o < outF; o++) merged[j * outF + o] = (factor[o] as number) * (adapted[j * outF + o] as number);
      return { name, inF, outF, W0, b, lora: { ...lora, factor, merged } };
    });
    return new Net(sizes, layers, info.variant === 'dora' ? 'dora' : 'lora', s);
  }

  get inputSize(): number {
    return this.sizes[0] as number;
  }

  /** The logits of one network for one input [inputSize]. */
  logits(input: ArrayLike<number>, which: Which): Float64Array {
    if (input.length !== this.inputSize) throw new Error(`the input has ${input.length} values, the model takes ${this.inputSize}`);
    let h: ArrayLike<number> = input;
    const last = this.#layers.length - 1;
    const t = which.model === 'adapter' ? which.t : 0;
    for (let li = 0; li <= last; li++) {
      const l = this.#layers[li] as Layer;
      const y = Float64Array.from(l.b); // [out]
      const lora = which.model === 'base' ? null : l.lora;
      if (lora === null) accumulate(h, l.W0, l.inF, l.outF, y);
      else if (which.model === 'merged') accumulate(h, lora.merged, l.inF, l.outF, y);
      else {
        // From the factors, never from W' (so the merged panel checks an independent
        // computation): h·W0 + s·(h·Aᵀ)·Bᵀ costs one W0 product and r·(in + out).
        const base = new Float64Array(l.outF); // [out] h·W0
        const low = new Float64Array(l.outF); // [out] s·(h·Aᵀ)·Bᵀ
        const z = new Float64Array(lora.r); // [r] h·Aᵀ
        accumulate(h, l.W0, l.inF, l.outF, base);
        accumulate(h, lora.A, l.inF, lora.r, z);
        accumulate(z, lora.sB, lora.r, l.outF, low);
        const c = lora.factor;
        // LoRA: W(t) = W0 + t·s·B·A. DoRA: W(t) = (1 − t)·W0 + t·c ⊙ (W0 + s·B·A), c per output.
        if (c === null) for (let o = 0; o < l.outF; o++) y[o] = (y[o] as number) + (base[o] as number) + t * (low[o] as number);
        else for (let o = 0; o < l.outF; o++) y[o] = (y[o] as number) + (1 - t) * (base[o] as number) + t * (c[o] as number) * ((base[o] as number) + (low[o] as number));
      }
      if (li < last) for (let o = 0; o < l.outF; o++) if ((y[o] as number) < 0) y[o] = 0; // ReLU
      h = y;
    }
    return h as Float64Array;
  }

  /** The class probabilities of one network. */
  predict(input: ArrayLike<number>, which: Which): Float64Array {
    return softmax(this.logits(input, which));
  }

  /** Base, adapter at scale t, and merged: the playground's three panels. */
  probabilities(input: ArrayLike<number>, t: number): Probabilities {
    return { base: this.predict(input, { model: 'base' }), adapter: this.predict(input, { model: 'adapter', t }), merged: this.predict(input, { model: 'merged' }) };
  }
}
