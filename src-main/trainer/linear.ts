/**
 * x·W for the MLP's layers with a forward and backward chosen for the wasm backend
 * (XNNPACK), where what costs is not the arithmetic but re-packing a matrix that
 * changed: XNNPACK packs the right operand ("weights") of every multiply and caches
 * the packing by tensor id, so a matrix that is new each step pays ~8 ms per 2M
 * floats in that position, and one that stays (a frozen base) pays once.
 *
 *   trainable W (new each step): z = (Wᵀ·xᵀ)ᵀ and dx = (W·dzᵀ)ᵀ — W on the left, never
 *       packed; only the batch-sized operands are (transposes are our SIMD kernel).
 *   frozen W: z = x·W (packing cached) and dx = dz·Wᵀ with Wᵀ made once and kept
 *       (layer.frozenT), instead of a transpose and a fresh packing every step.
 *
 * dW = xᵀ·dz. Other backends use plain tf.matMul and their own gradients.
 */
import { tf } from './tf.ts';

/** A layer's weight and, for a frozen one, the cache of its transpose. */
export interface LinearWeight {
  W: tf.Variable<tf.Rank.R2>; // [in, out]
  /** Wᵀ [out, in], valid while W still holds the storage it was made from. */
  frozenT: { of: object; t: tf.Tensor2D } | null;
}

/** A frozen layer with its bias and a LoRA adapter. */
export interface LoraLayer extends LinearWeight {
  b: tf.Variable<tf.Rank.R1>; // [out]
  A: tf.Variable<tf.Rank.R2>; // [in, r]
  B: tf.Variable<tf.Rank.R2>; // [r, out]
}

const T = (x: tf.Tensor) => tf.transpose(x as tf.Tensor2D) as tf.Tensor2D;
const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D) as tf.Tensor2D;

/**
 * x [batch, in] · W [in, out] → [batch, out]. Call inside tf.tidy. `inputGrad` false
 * says nothing upstream of x trains (the first layer), so dx is never computed.
 */
export function linear(x: tf.Tensor2D, l: LinearWeight, inputGrad = true): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return mm(x, l.W);
  const W = l.W;
  if (!W.trainable) {
    if (!inputGrad) return mm(x, W);
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xi = args[0] as tf.Tensor2D;
      return { value: mm(xi, W), gradFunc: (dy: tf.Tensor) => mm(dy, frozenTranspose(l)) };
    });
    return f(x) as tf.Tensor2D;
  }
  if (!inputGrad) {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [wi, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      save([x]); // only saved tensors are sure to outlive the forward pass
      return { value: T(mm(T(wi), T(x))), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => mm(T(saved[0] as tf.Tensor2D), dy) };
    });
    return f(W) as tf.Tensor2D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: T(mm(T(wi), T(xi))),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [T(mm(ws, T(dy))), mm(T(xs), dy)];
      },
    };
  });
  return f(x, W) as tf.Tensor2D;
}

/**
 * z = x·W + b + s·(x·A)·B for a frozen layer with an adapter, as one operation with a
 * hand-written backward (wasm only; call inside tf.tidy):
 *   d(xA·s) = dz·Bᵀ,  dB = (xA·s)ᵀ·dz (as (dzᵀ·xA·s)ᵀ: only rank-sized operands packed),
 *   dA = xᵀ·(dz·Bᵀ·s),  dx = dz·Wᵀ + (dz·Bᵀ·s)·Aᵀ  (Wᵀ kept, see frozenTranspose).
 * Against TF.js's autodiff of the same formula this records one tape entry and saves
 * two tensors instead of about twenty entries per layer. `inputGrad` as for `linear`.
 */
export function loraLinear(x: tf.Tensor2D, l: LoraLayer, scaling: number, inputGrad = true): tf.Tensor2D {
  const forward = (xi: tf.Tensor2D, A: tf.Tensor2D, B: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const xa = tf.mul(mm(xi, A), scaling) as tf.Tensor2D; // [batch, r]
    // Only saved tensors outlive the forward pass (TF.js frees the rest); clones share storage.
    save([xa, xi]);
    const base = tf.fused.matMul({ a: xi, b: l.W, bias: l.b }) as tf.Tensor2D; // [batch, out]
    return tf.add(base, mm(xa, B)) as tf.Tensor2D;
  };
  const backward = (dy: tf.Tensor, xi: tf.Tensor2D, A: tf.Tensor2D, B: tf.Tensor2D, xa: tf.Tensor2D) => {
    const dxa = tf.mul(mm(dy, T(B)), scaling) as tf.Tensor2D; // [batch, r]
    const dA = mm(T(xi), dxa); // [in, r]
    const dB = T(mm(T(dy), xa)); // [r, out]
    const dx = inputGrad ? (tf.add(mm(dy, frozenTranspose(l)), mm(dxa, T(A))) as tf.Tensor2D) : null;
    return { dx, dA, dB };
  };
  if (inputGrad) {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xi, A, B, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      return {
        value: forward(xi, A, B, save),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = backward(dy, saved[1] as tf.Tensor2D, A, B, saved[0] as tf.Tensor2D);
          return [g.dx as tf.Tensor2D, g.dA, g.dB];
        },
      };
    });
    return f(x, l.A, l.B) as tf.Tensor2D;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [A, B, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    return {
      value: forward(x, A, B, save),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = backward(dy, saved[1] as tf.Tensor2D, A, B, saved[0] as tf.Tensor2D);
        return [g.dA, g.dB];
      },
    };
  });
  return f(l.A, l.B) as tf.Tensor2D;
}

export function frozenTranspose(l: LinearWeight): tf.Tensor2D {
  if (l.frozenT && l.frozenT.of === l.W.dataId) return l.frozenT.t;
  releaseFrozenTranspose(l);
  l.frozenT = { of: l.W.dataId, t: tf.keep(T(l.W)) };
  return l.frozenT.t;
}

export function releaseFrozenTranspose(l: LinearWeight): void {
  l.frozenT?.t.dispose();
  l.frozenT = null;
}
