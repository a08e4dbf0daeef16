/**
 * Test-set evaluation: accuracy, mean loss, wrong count per class, confusion matrix
 * and every prediction. Runs with any adapter folded into the weights (one matMul per
 * layer), in large batches.
 */
import { type SampleSplit, normaliseInto } from '../data/dataset.ts';
import type { Evaluation } from '../contract/protocol.ts';
import type { Mlp } from './mlp.ts';
import { tf } from './tf.ts';

export const EVAL_BATCH = 1000;

export async function evaluate(model: Mlp, split: SampleSplit, limit: number | null = null, batchSize = EVAL_BATCH): Promise<Evaluation> {
  const n = Math.min(limit ?? split.count, split.count);
  const predictions = new Uint8Array(n);
  const classes = model.sizes.at(-1) as number;
  const size = split.inputSize;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  const xbuf = new Float32Array(Math.min(batchSize, n) * size);
  const weights = tf.tidy(() => model.inferenceWeights().map((w) => ({ W: tf.keep(w.W), b: w.b })));
  let lossSum = 0;
  try {
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(from + batchSize, n);
      const rows = to - from;
      normaliseInto(split, idx, from, to, xbuf);
      const labels = Int32Array.from(split.labels.subarray(from, to));
      const [predT, lossT] = tf.tidy(() => {
        let h = tf.tensor2d(xbuf.subarray(0, rows * size), [rows, size]); // [batch, in]
        weights.forEach((w, i) => {
          // [batch, out], with the bias and ReLU fused into the multiply
          h = tf.fused.matMul({ a: h, b: w.W, bias: w.b, activation: i < weights.length - 1 ? 'relu' : 'linear' }) as tf.Tensor2D;
        });
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
        const loss = tf.losses.softmaxCrossEntropy(y, h, undefined, undefined, tf.Reduction.SUM);
        return [tf.argMax(h, 1), loss];
      });
      const pred = (await predT.data()) as Int32Array;
      lossSum += ((await lossT.data()) as Float32Array)[0] as number;
      predT.dispose();
      lossT.dispose();
      for (let b = 0; b < rows; b++) {
        const p = pred[b] as number;
        predictions[from + b] = p;
        const row = confusion[labels[b] as number] as number[];
        row[p] = (row[p] as number) + 1;
      }
    }
  } finally {
    // Only the merged copies are ours; the model's own variables stay.
    weights.forEach((w, i) => {
      if (w.W !== model.layers[i]?.W) w.W.dispose();
    });
  }
  const countPerClass = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const wrongPerClass = confusion.map((row, c) => (countPerClass[c] as number) - (row[c] as number));
  const correct = confusion.reduce((s, row, c) => s + (row[c] as number), 0);
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, total: n, correct, wrongPerClass, countPerClass, confusion, predictions };
}
