/**
 * adapters/ops.ts's MatOps over TF.js tensors as the trainer stores them: every matrix
 * transposed (W [in, out], A [in, r], B [r, out]; see mlp.ts), vectors as they are
 * ([out]). A matrix M of the formulas is held as Mᵀ, so M·N = (Nᵀ·Mᵀ)ᵀ is
 * tf.matMul(Nᵀ, Mᵀ), and M's rows are the columns of what is held. Call inside tf.tidy.
 */
import type { MatOps } from '../adapters/ops.ts';
import { tf } from './tf.ts';

type T = tf.Tensor;

export const tfOps: MatOps<T> = {
  matMul: (a, b) => tf.matMul(b as tf.Tensor2D, a as tf.Tensor2D),
  add: (a, b) => tf.add(a, b),
  scale: (a, s) => tf.mul(a, s),
  rowNorms: (a) => tf.norm(a, 'euclidean', 0), // [in, out] → [out]
  scaleRows: (a, v) => tf.mul(a, v), // [in, out] ⊙ [out], broadcast over the input axis
  divRows: (a, v) => tf.div(a, v),
  div: (a, b) => tf.div(a, b),
};
