/**
 * A matMul gradient made only of plain (untransposed) multiplies.
 *
 * Why: on the wasm backend, matMul with transposeA/transposeB is 13–65× slower than
 * the plain layout, and the stock BatchMatMul gradient uses exactly those forms.
 * An explicit tf.transpose followed by a plain matMul is far cheaper (docs/measured.md,
 * Matrix multiply on wasm). Only registered on wasm; other backends keep their own gradient.
 * Gradients are lazy thunks, so a frozen operand's gradient is never computed.
 */
import { tf } from './tf.ts';

let installed = false;

export function installFastMatMulGradient(): void {
  if (installed) return;
  const stock = tf.getGradient('BatchMatMul');
  if (!stock) throw new Error('BatchMatMul gradient missing: @tensorflow/tfjs-layers did not register gradients');
  const T = (x: tf.Tensor) => tf.transpose(x);
  const mm = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      if (a.rank !== 2 || b.rank !== 2) return stock.gradFunc(dy, saved, attrs);
      const d = dy as tf.Tensor2D;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) {
        // da = dy·bᵀ and db = aᵀ·dy, each computable two ways; pick the cheaper by
        // what dominates on XNNPACK: packing the right operand (~6 per float, it is
        // fresh every step) and the transposes (~1 per float, our SIMD kernel).
        const [m, k] = a.shape as [number, number];
        const n = b.shape[1] as number;
        const PACK = 6;
        const daPlain = k * n * (1 + PACK); // dy·T(b)
        const daFlipped = m * n * (1 + PACK) + k * m; // T(b·T(dy))
        const dbPlain = m * k + PACK * m * n; // T(a)·dy
        const dbFlipped = m * n + PACK * m * k + n * k; // T(T(dy)·a)
        return {
          a: daPlain <= daFlipped ? () => mm(d, T(b)) : () => T(mm(b, T(d))),
          b: dbPlain <= dbFlipped ? () => mm(T(a), d) : () => T(mm(T(d), a)),
        };
      }
      if (!transposeA && transposeB) return { a: () => mm(d, b), b: () => mm(T(d), a) }; // a@bᵀ
      if (transposeA && !transposeB) return { a: () => mm(b, T(d)), b: () => mm(a, d) }; // aᵀ@b
      return { a: () => mm(T(b), T(d)), b: () => mm(T(d), T(a)) }; // aᵀ@bᵀ
    },
  });
  installed = true;
}
