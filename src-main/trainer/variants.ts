/**
 * LoRA variants inside the trainer, as PEFT's `LoraVariant`: what differs between
 * plain LoRA and DoRA is one small object each — init (once A and B exist), the
 * adapted layer's forward, merge and unmerge. ΔW and DoRA's weight come from
 * adapters/delta.ts, the one source the host's merge and export use too.
 *
 * Layout as mlp.ts: W [in, out], A [in, r], B [r, out] (the transposes of PyTorch's),
 * m [out]. Call inside tf.tidy unless a function says it keeps what it makes.
 */
import { adaptedWeight, deltaWeight, doraMerge, doraNorm, doraUnmerge } from '../adapters/delta.ts';
import { type LoraLayer, linear, loraLinear } from './linear.ts';
import type { Layer } from './mlp.ts';
import { tfOps } from './tf-ops.ts';
import { ownedVariable, tf } from './tf.ts';

/** A layer with an adapter attached. */
export type AdaptedLayer = Layer & LoraLayer;

export interface LayerVariant {
  /** After A and B are set: DoRA's magnitude starts as ‖W0 + ΔW‖. */
  init(l: AdaptedLayer, scaling: number, variableName: string): void;
  /** z = the adapted layer's output before the activation [batch, out], bias included. */
  forward(x: tf.Tensor2D, l: AdaptedLayer, scaling: number, training: boolean, inputGrad: boolean): tf.Tensor2D;
  /** W' [in, out] with the adapter folded in (inference; the caller disposes it). */
  mergedWeight(l: AdaptedLayer, scaling: number): tf.Tensor2D;
  merge(l: AdaptedLayer, scaling: number): void;
  unmerge(l: AdaptedLayer, scaling: number): void;
}

const factors = (l: AdaptedLayer) => ({ A: l.A as tf.Tensor, B: l.B as tf.Tensor }); // Aᵀ [in, r], Bᵀ [r, out]

/** x·W + b (training: arranged for the backward pass, see linear.ts; inference: bias fused). */
function baseOutput(x: tf.Tensor2D, l: AdaptedLayer, training: boolean, inputGrad: boolean): tf.Tensor2D {
  if (training) return tf.add(linear(x, l, inputGrad), l.b) as tf.Tensor2D;
  return tf.fused.matMul({ a: x, b: l.W, bias: l.b }) as tf.Tensor2D;
}

/** s·(x·A)·B [batch, out]: scaled at rank r, not at [batch, out] (r ≪ out). */
function loraOutput(x: tf.Tensor2D, l: AdaptedLayer, scaling: number): tf.Tensor2D {
  const xa = tf.mul(tf.matMul(x, l.A), scaling) as tf.Tensor2D; // [batch, r]
  return tf.matMul(xa, l.B); // [batch, out]
}

export const loraVariant: LayerVariant = {
  init() {},
  forward(x, l, scaling, training, inputGrad) {
    // Speed (wasm): the whole adapted layer as one operation with a hand-written
    // backward (loraLinear); the same formula as below.
    if (training && !l.W.trainable && tf.getBackend() === 'wasm') return loraLinear(x, l, scaling, inputGrad);
    return tf.add(baseOutput(x, l, training, inputGrad), loraOutput(x, l, scaling)) as tf.Tensor2D;
  },
  mergedWeight: (l, scaling) => adaptedWeight(tfOps, l.W, factors(l), scaling, null) as tf.Tensor2D,
  merge(l, scaling) {
    tf.tidy(() => l.W.assign(this.mergedWeight(l, scaling)));
  },
  unmerge(l, scaling) {
    tf.tidy(() => l.W.assign(tf.add(l.W, deltaWeight(tfOps, factors(l), -scaling)) as tf.Tensor2D));
  },
};

/**
 * Speed switch: DoRA's per-row norm ‖W0 + s·B·A‖ from the rank-r factors,
 *   ‖W0_o‖² + 2s·Σ_k B_ok·(W0·Aᵀ)_ok + s²·(B·(A·Aᵀ)) ⊙ B summed over k,
 * with ‖W0_o‖² kept while W0 is frozen: O(in·out·r) a step, instead of forming
 * W0 + ΔW [in, out] (in·out·r too, plus two full-size tensors and a norm over them).
 * false: the plain formula (adapters/delta.ts doraNorm); test/trainer/variants checks they agree.
 */
export const DORA_NORM_FROM_FACTORS = true;

/** ‖W0_o‖² [out], made once per frozen W (same cache rule as linear.ts's frozenTranspose). */
function frozenRowNormsSq(l: AdaptedLayer): tf.Tensor1D {
  if (l.w0sq && l.w0sq.of === l.W.dataId) return l.w0sq.t;
  l.w0sq?.t.dispose();
  l.w0sq = { of: l.W.dataId, t: tf.keep(tf.sum(tf.square(l.W), 0)) as tf.Tensor1D };
  return l.w0sq.t;
}

/** ‖W0 + s·B·A‖ per output [out], for factors A [in, r], B [r, out]. */
export function doraRowNorms(l: AdaptedLayer, A: tf.Tensor2D, B: tf.Tensor2D, scaling: number): tf.Tensor1D {
  if (!DORA_NORM_FROM_FACTORS) return doraNorm(tfOps, l.W, deltaWeight(tfOps, { A, B }, scaling)) as tf.Tensor1D;
  // Aᵀ made explicitly: wasm's multiply with a transposed first operand is ~10× slower here.
  const At = tf.transpose(A); // [r, in]
  const cross = tf.sum(tf.mul(B, tf.matMul(At, l.W)), 0); // Σ_k B_ok·(W0·Aᵀ)_ok [out]
  const quad = tf.sum(tf.mul(B, tf.matMul(tf.matMul(At, A), B)), 0); // ‖(B·A)_o‖² [out]
  const sq = tf.add(frozenRowNormsSq(l), tf.add(tf.mul(cross, 2 * scaling), tf.mul(quad, scaling * scaling)));
  return tf.sqrt(tf.relu(sq)) as tf.Tensor1D; // relu: rounding can leave -0.0…
}

/**
 * The norm as a constant of the backward pass (DoRA §4.3, as PEFT: `weight_norm.detach()`):
 * its gradient is zero, so only m and the direction's numerator train through it.
 */
function detachedNorm(l: AdaptedLayer, scaling: number): tf.Tensor1D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [A, B] = args as [tf.Tensor2D, tf.Tensor2D];
    return { value: doraRowNorms(l, A, B, scaling), gradFunc: () => [tf.zerosLike(A), tf.zerosLike(B)] };
  });
  return f(l.A, l.B) as tf.Tensor1D;
}

export const doraVariant: LayerVariant = {
  init(l, scaling, variableName) {
    const m = tf.tidy(() => doraNorm(tfOps, l.W, deltaWeight(tfOps, factors(l), scaling)) as tf.Tensor1D); // [out]
    l.m = ownedVariable(m, true, variableName);
  },
  forward(x, l, scaling, training, inputGrad) {
    // z = (m / ‖W0 + s·B·A‖) ⊙ (x·W0 + s·(x·A)·B) + b, the norm held constant
    const m = l.m as tf.Variable<tf.Rank.R1>;
    const c = tf.div(m, training ? detachedNorm(l, scaling) : doraRowNorms(l, l.A, l.B, scaling)); // [out]
    const xw = training ? linear(x, l, inputGrad) : tf.matMul(x, l.W); // [batch, out]
    return tf.add(tf.mul(tf.add(xw, loraOutput(x, l, scaling)), c), l.b) as tf.Tensor2D;
  },
  mergedWeight: (l, scaling) => adaptedWeight(tfOps, l.W, factors(l), scaling, l.m) as tf.Tensor2D,
  merge(l, scaling) {
    const factor = tf.tidy(() => {
      const { weight, factor } = doraMerge(tfOps, l.W, factors(l), scaling, l.m as tf.Tensor);
      l.W.assign(weight as tf.Tensor2D);
      return factor as tf.Tensor1D;
    });
    l.mergedFactor = factor; // what unmerge divides out
  },
  unmerge(l, scaling) {
    const factor = l.mergedFactor;
    if (!factor) throw new Error(`${l.name}: DoRA merge left no factor to unmerge with`);
    tf.tidy(() => l.W.assign(doraUnmerge(tfOps, l.W, factors(l), scaling, factor) as tf.Tensor2D));
    factor.dispose();
    l.mergedFactor = null;
  },
};

export const variantOf = (l: Layer): LayerVariant => (l.m ? doraVariant : loraVariant);
