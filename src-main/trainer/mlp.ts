/**
 * The MLP (784→1000→2000→10 by default, ReLU between layers, named linear1..N).
 *
 * Layout: inside the trainer every weight is held as W [in, out] so the forward pass is
 * a plain `x·W` (wasm's fast layout); PyTorch orientation [out, in] exists only at the
 * boundary (fromNamed / toNamed). The optional LoRA factors live on the layer too:
 * A [in, r], B [r, out] (PEFT's lora_A [r, in] and lora_B [out, r], transposed), and
 * for DoRA the magnitude m [out]; what each variant does with them is variants.ts.
 */
import { type NamedTensors, getTensor, hostTensor, transpose2d } from '../contract/named.ts';
import { Rng, uniformArray } from '../util/rng.ts';
import { layerNames } from '../contract/config.ts';
import type { Factors } from '../adapters/delta.ts';
import type { Matrix } from '../weights/linalg.ts';
import { type LinearWeight, linear, releaseFrozenTranspose } from './linear.ts';
import { type AdaptedLayer, variantOf } from './variants.ts';
import { ownedVariable, tf } from './tf.ts';

export interface Layer {
  name: string;
  inF: number;
  outF: number;
  W: tf.Variable<tf.Rank.R2>; // [in, out]
  b: tf.Variable<tf.Rank.R1>; // [out]
  A: tf.Variable<tf.Rank.R2> | null; // [in, r]
  B: tf.Variable<tf.Rank.R2> | null; // [r, out]
  /** DoRA's magnitude [out] (null: plain LoRA or no adapter). */
  m: tf.Variable<tf.Rank.R1> | null;
  /** While a DoRA adapter is merged: the factor m / ‖W0 + ΔW‖ [out] that unmerging divides out. */
  mergedFactor: tf.Tensor1D | null;
  /** PiSSA / OLoRA: B0 [out, r] and A0 [r, in] as initialised (float64), for the conversion to the original base. */
  initial: Factors<Matrix> | null;
  /** LoRA-FA: P = (1/s²)·pinv(A·Aᵀ + δI) [r, r], B's gradient is multiplied by (adapters/init.ts). */
  faProjection: tf.Tensor2D | null;
  /** Cache of Wᵀ while W is frozen (see linear.ts). */
  frozenT: LinearWeight['frozenT'];
  /** Cache of ‖W_o‖² [out] while W is frozen (DoRA, see variants.ts). */
  w0sq: { of: object; t: tf.Tensor1D } | null;
}

let modelCounter = 0;

export class Mlp {
  readonly layers: Layer[];
  /** LoRA scaling (alpha / r or alpha / √r); 0 when no adapter is attached. */
  scaling = 0;
  /** True while the adapter is folded into W (forward then skips the adapter's path; loralib's `merged`). */
  merged = false;
  readonly #prefix: string;

  private constructor(readonly sizes: number[], weights: { W: Float32Array; b: Float32Array }[], trainable: boolean) {
    this.#prefix = `mlp${++modelCounter}`;
    const names = layerNames(sizes);
    this.layers = names.map((name, i) => {
      const inF = sizes[i] as number;
      const outF = sizes[i + 1] as number;
      const w = weights[i] as { W: Float32Array; b: Float32Array };
      return {
        name,
        inF,
        outF,
        W: ownedVariable(tf.tensor2d(w.W, [inF, outF]), trainable, `${this.#prefix}/${name}.weight`),
        b: ownedVariable(tf.tensor1d(w.b), trainable, `${this.#prefix}/${name}.bias`),
        A: null,
        B: null,
        m: null,
        mergedFactor: null,
        initial: null,
        faProjection: null,
        frozenT: null,
        w0sq: null,
      };
    });
  }

  /** PyTorch nn.Linear's default init: W and b ~ U(−1/√in, 1/√in), drawn from `rng`. */
  static init(sizes: number[], rng: Rng): Mlp {
    const weights = sizes.slice(1).map((outF, i) => {
      const inF = sizes[i] as number;
      const bound = 1 / Math.sqrt(inF);
      // Drawn in PyTorch's [out, in] order so the same seed gives the same matrix in
      // either orientation, then laid out as [in, out].
      const wOutIn = uniformArray(rng, outF * inF, bound);
      return { W: transpose2d(wOutIn, outF, inF), b: uniformArray(rng, outF, bound) };
    });
    return new Mlp(sizes, weights, true);
  }

  /** Build from PyTorch-orientation tensors (`linearN.weight` [out, in], `linearN.bias` [out]). */
  static fromNamed(sizes: number[], named: NamedTensors, trainable: boolean): Mlp {
    const weights = layerNames(sizes).map((name, i) => {
      const inF = sizes[i] as number;
      const outF = sizes[i + 1] as number;
      const w = getTensor(named, `${name}.weight`);
      const b = getTensor(named, `${name}.bias`);
      if (w.shape.join() !== `${outF},${inF}`) throw new Error(`${name}.weight has shape [${w.shape}], expected [${outF}, ${inF}]`);
      if (b.shape.join() !== `${outF}`) throw new Error(`${name}.bias has shape [${b.shape}], expected [${outF}]`);
      return { W: transpose2d(w.data, outF, inF), b: b.data.slice() };
    });
    return new Mlp(sizes, weights, trainable);
  }

  get variablePrefix(): string {
    return this.#prefix;
  }

  /**
   * Logits [batch, classes] for x [batch, in]. Call inside tf.tidy. `training` says
   * gradients will be taken (the multiply is then arranged for the backward pass too,
   * see linear.ts); inference leaves it false.
   */
  forward(x: tf.Tensor2D, training = false): tf.Tensor2D {
    let h = x; // [batch, in]
    const last = this.layers.length - 1;
    this.layers.forEach((l, i) => {
      const relu = i < last;
      const inputGrad = i > 0; // x itself never trains
      const adapted = l.A !== null && l.B !== null && !this.merged;
      if (!adapted && !training) {
        // Inference without an adapter: the bias and ReLU fused into the multiply.
        h = tf.fused.matMul({ a: h, b: l.W, bias: l.b, activation: relu ? 'relu' : 'linear' }) as tf.Tensor2D; // [batch, out]
        return;
      }
      const z = adapted
        ? variantOf(l).forward(h, l as AdaptedLayer, this.scaling, training, inputGrad) // [batch, out]
        : (tf.add(linear(h, l, inputGrad), l.b) as tf.Tensor2D);
      h = relu ? tf.relu(z) : z;
    });
    return h;
  }

  /**
   * Weights for inference with any adapter folded in: one matMul per layer instead of
   * three. Returned tensors that are not the model's own variables must be disposed
   * by the caller (use inside tf.tidy).
   */
  inferenceWeights(): { W: tf.Tensor2D; b: tf.Tensor1D }[] {
    return this.layers.map((l) => {
      if (!l.A || !l.B || this.merged) return { W: l.W, b: l.b };
      return { W: variantOf(l).mergedWeight(l as AdaptedLayer, this.scaling), b: l.b };
    });
  }

  get trainableVariables(): tf.Variable[] {
    const all: (tf.Variable | null)[] = this.layers.flatMap((l) => [l.W, l.b, l.A, l.B, l.m]);
    return all.filter((v): v is tf.Variable => v !== null && v.trainable);
  }

  /** Base weights in PyTorch orientation (with the adapter folded in while merged). */
  async toNamed(): Promise<NamedTensors> {
    const out: NamedTensors = {};
    for (const l of this.layers) {
      const w = (await l.W.data()) as Float32Array; // [in, out]
      out[`${l.name}.weight`] = hostTensor([l.outF, l.inF], transpose2d(w, l.inF, l.outF));
      out[`${l.name}.bias`] = hostTensor([l.outF], ((await l.b.data()) as Float32Array).slice());
    }
    return out;
  }

  dispose(): void {
    for (const l of this.layers) {
      for (const v of [l.W, l.b, l.A, l.B, l.m, l.mergedFactor, l.faProjection, l.w0sq?.t]) v?.dispose();
      releaseFrozenTranspose(l);
    }
  }
}
