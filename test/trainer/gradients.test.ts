import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src-main/trainer/tf.ts';
import { createOptimizer } from '../../src-main/trainer/optim.ts';
import { heapAccess } from '../../src-main/trainer/wasm-heap.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { useTestBackend } from '../helpers/backend.ts';

function rand(shape: [number, number], seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => rng.normal()), shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Plain JS reference: row-major [r, c] arrays. */
function mmJs(a: Float32Array, ar: number, ac: number, b: Float32Array, bc: number): Float32Array {
  const out = new Float32Array(ar * bc);
  for (let i = 0; i < ar; i++) for (let k = 0; k < ac; k++) for (let j = 0; j < bc; j++) out[i * bc + j]! += a[i * ac + k]! * b[k * bc + j]!;
  return out;
}
function tJs(a: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
  return out;
}

describe('fast matMul gradient (wasm)', () => {
  beforeAll(useTestBackend);

  // For L = Σ (op(a)·op(b)) ⊙ w: ∂L/∂op(a) = w·op(b)ᵀ and ∂L/∂op(b) = op(a)ᵀ·w,
  // computed here in plain JS, independent of any registered gradient.
  const combos: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
  for (const [ta, tb] of combos) {
    for (const m of [3, 40]) {
      it(`matches the cpu backend's gradient (transposeA=${ta}, transposeB=${tb}, batch ${m})`, async () => {
        const shapeA: [number, number] = ta ? [30, m] : [m, 30];
        const shapeB: [number, number] = tb ? [20, 30] : [30, 20];
        const grads = () => {
          const a = rand(shapeA, 1);
          const b = rand(shapeB, 2);
          const w = rand([m, 20], 3);
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb), w)))([a, b]);
          return g.map((t) => t.dataSync().slice());
        };
        const fast = grads();
        const k = 30;
        const opA = ta ? tJs(rand(shapeA, 1).dataSync() as Float32Array, k, m) : (rand(shapeA, 1).dataSync() as Float32Array); // [m, k]
        const opB = tb ? tJs(rand(shapeB, 2).dataSync() as Float32Array, 20, k) : (rand(shapeB, 2).dataSync() as Float32Array); // [k, 20]
        const w = rand([m, 20], 3).dataSync() as Float32Array;
        const dOpA = mmJs(w, m, 20, tJs(opB, k, 20), k); // [m, k]
        const dOpB = mmJs(tJs(opA, m, k), k, m, w, 20); // [k, 20]
        const refA = ta ? tJs(dOpA, m, k) : dOpA;
        const refB = tb ? tJs(dOpB, k, 20) : dOpB;
        expect(maxAbsDiff(fast[0]!, refA)).toBeLessThan(1e-4);
        expect(maxAbsDiff(fast[1]!, refB)).toBeLessThan(1e-4);
      });
    }
  }
});

describe('optimizers', () => {
  beforeAll(useTestBackend);

  it('heap views see exactly what dataSync reads', () => {
    const heap = heapAccess();
    expect(heap).not.toBeNull();
    const t = rand([7, 9], 4);
    expect([...heap!.view(t)]).toEqual([...t.dataSync()]);
    t.dispose();
  });

  for (const kind of ['adam', 'sgd'] as const) {
    for (const impl of ['simd', 'heap'] as const) {
      it(`the ${impl} ${kind} matches TF.js's own ${kind} step for step`, () => {
        const a = tf.variable(rand([6, 5], 1), true, `opt-${kind}-${impl}-a`);
        const b = tf.variable(rand([6, 5], 1), true, `opt-${kind}-${impl}-b`);
        const target = rand([6, 5], 2);
        const fast = createOptimizer({ kind, lrs: new Map([[a, 0.05]]) }, impl);
        const ref = createOptimizer({ kind, lrs: new Map([[b, 0.05]]) }, 'tfjs');
        expect(fast.impl).toBe(impl);
        expect(ref.impl).toBe('tfjs');
        for (let i = 0; i < 10; i++) {
          tf.tidy(() => fast.apply(tf.variableGrads(() => tf.sum(tf.square(tf.sub(a, target))) as tf.Scalar, [a]).grads));
          tf.tidy(() => ref.apply(tf.variableGrads(() => tf.sum(tf.square(tf.sub(b, target))) as tf.Scalar, [b]).grads));
        }
        expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBeLessThan(1e-5);
        expect(maxAbsDiff(a.dataSync(), rand([6, 5], 1).dataSync())).toBeGreaterThan(0.1); // it moved
        for (const t of [a, b, target]) t.dispose();
        fast.dispose();
        ref.dispose();
      });
    }
  }

  it('picks the SIMD kernels by default on wasm', () => {
    const a = tf.variable(tf.zeros([3]), true, 'default-impl');
    const opt = createOptimizer({ kind: 'adam', lrs: new Map([[a, 0.1]]) }, undefined);
    expect(opt.impl).toBe('simd');
    opt.dispose();
    a.dispose();
  });

  it('gives each variable its own learning rate (LoRA+)', () => {
    const a = tf.variable(tf.zeros([3]), true, 'lrs-a');
    const b = tf.variable(tf.zeros([3]), true, 'lrs-b');
    const opt = createOptimizer({ kind: 'sgd', lrs: new Map([[a, 0.1], [b, 1.6]]) });
    tf.tidy(() => opt.apply(tf.variableGrads(() => tf.add(tf.sum(a), tf.sum(b)) as tf.Scalar, [a, b]).grads));
    expect(a.dataSync()[0]).toBeCloseTo(-0.1, 6);
    expect(b.dataSync()[0]).toBeCloseTo(-1.6, 6);
    a.dispose();
    b.dispose();
  });
});
