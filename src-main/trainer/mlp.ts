/**
 * The MLP (784→1000→2000→10 by default, ReLU between layers, named linear1..N).
 *
 * Layout: inside the trainer every weight is held as W [in, out] so the forward pass is
 * a plain `x·W` (wasm's fast layout); PyTorch orientation [out, in] exists only at the
 * boundary (fromNamed / toNamed). The optional LoRA factors live on the layer too:
 * A [in, r], B [r, out] (PEFT's lora_A [r, in] and lora_B [out, r], transposed).
 */
import { type NamedTensors, getTensor, hostTensor, transpose2d } from '../contract/named.ts';
import { Rng, uniformArray } from '../util/rng.ts';
import { layerNames } from '../contract/config.ts';
import { type LinearWeight, type LoraLayer, linear, loraLinear, releaseFrozenTranspose } from './linear.ts';
import { ownedVariable, tf } from './tf.ts';

export interface Layer {
  name: string;
  inF: number;
  outF: number;
  W: tf.Variable<tf.Rank.R2>; // [in, out]
  b: tf.Variable<tf.Rank.R1>; // [out]
  A: tf.Variable<tf.Rank.R2> | null; // [in, r]
  B: tf.Variable<tf.Rank.R2> | null; // [r, out]
  /** Cache of Wᵀ while W is frozen (see linear.ts). */
  frozenT: LinearWeight['frozenT'];
}

let modelCounter = 0;

export class Mlp {
  readonly layers: Layer[];
  /** LoRA scaling (alpha / r or alpha / √r); 0 when no adapter is attached. */
  scaling = 0;
  /** True while ΔW = scaling·A·B is folded into W (forward then skips the LoRA path). */
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
        frozenT: null,
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
      const lora = l.A !== null && l.B !== null && !this.merged;
      let z: tf.Tensor2D; // [batch, out]
      if (training && lora && !l.W.trainable && tf.getBackend() === 'wasm') {
        // The whole adapted layer as one operation (see loraLinear); x itself never trains.
        z = loraLinear(h, l as LoraLayer, this.scaling, i > 0);
        h = relu ? tf.relu(z) : z;
        return;
      }
      if (training) z = tf.add(linear(h, l, i > 0), l.b) as tf.Tensor2D; // x itself never trains
      // Inference: the bias (and ReLU, without an adapter) fused into the multiply.
      else z = tf.fused.matMul({ a: h, b: l.W, bias: l.b, activation: relu && !lora ? 'relu' : 'linear' }) as tf.Tensor2D;
      if (lora && l.A && l.B) {
        // Scale the rank-r activation, not the [batch, out] one: r ≪ out.
        const xa = tf.mul(tf.matMul(h, l.A), this.scaling) as tf.Tensor2D; // [batch, r]
        z = tf.add(z, tf.matMul(xa, l.B)) as tf.Tensor2D;
      }
      h = relu && (training || lora) ? tf.relu(z) : z;
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
      return { W: tf.add(l.W, tf.mul(tf.matMul(l.A, l.B), this.scaling)) as tf.Tensor2D, b: l.b };
    });
  }

  get trainableVariables(): tf.Variable[] {
    const all: (tf.Variable | null)[] = this.layers.flatMap((l) => [l.W, l.b, l.A, l.B]);
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
      for (const v of [l.W, l.b, l.A, l.B]) v?.dispose();
      releaseFrozenTranspose(l);
    }
  }
}
