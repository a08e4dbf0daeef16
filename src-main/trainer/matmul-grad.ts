/**
 * A matMul gradient made only of plain (untransposed) multiplies.
 *
 * Why: on the wasm backend, matMul with transposeA/transposeB is 13–65× slower than
 * the plain layout, and the stock BatchMatMul gradient uses exactly those forms.
 * An explicit tf.transpose followed by a plain matMul is far cheaper (DESIGN.md,
 * measured facts). Only registered on wasm; other backends keep their own gradient.
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
        // da = dy·bᵀ. Transposing b [K, N] costs K·N moves; computing (b·dyᵀ)ᵀ costs
        // M·N + K·M, far less when the batch M is small (the frozen-base case).
        const [m, k] = a.shape as [number, number];
        const n = b.shape[1] as number;
        const da = k * n <= m * n + k * m ? () => mm(d, T(b)) : () => T(mm(b, T(d)));
        return { a: da, b: () => mm(T(a), d) };
      }
      if (!transposeA && transposeB) return { a: () => mm(d, b), b: () => mm(T(d), a) }; // a@bᵀ
      if (transposeA && !transposeB) return { a: () => mm(b, T(d)), b: () => mm(a, d) }; // aᵀ@b
      return { a: () => mm(T(b), T(d)), b: () => mm(T(d), T(a)) }; // aᵀ@bᵀ
    },
  });
  installed = true;
}
