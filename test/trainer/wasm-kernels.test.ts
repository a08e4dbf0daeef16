/**
 * Our wasm SIMD kernels (kernels/simd.wat), the Identity/Transpose replacements and
 * the layer multiply (linear.ts), each against a plain JS reference.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimdKernels, simdKernels, type SimdKernels } from '../../src-main/trainer/kernels/simd.ts';
import { linear, loraLinear, releaseFrozenTranspose, type LinearWeight, type LoraLayer } from '../../src-main/trainer/linear.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import { heapAccess, type HeapAccess } from '../../src-main/trainer/wasm-heap.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { useTestBackend } from '../helpers/backend.ts';

const randArray = (n: number, seed: number, scale = 1) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};
function mmJs(a: ArrayLike<number>, ar: number, ac: number, b: ArrayLike<number>, bc: number): Float32Array {
  const out = new Float32Array(ar * bc);
  for (let i = 0; i < ar; i++) for (let k = 0; k < ac; k++) for (let j = 0; j < bc; j++) out[i * bc + j]! += (a[i * ac + k] as number) * (b[k * bc + j] as number);
  return out;
}
function tJs(a: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j] as number;
  return out;
}

let heap: HeapAccess;
let simd: SimdKernels;
beforeAll(async () => {
  await useTestBackend();
  heap = heapAccess()!;
  simd = simdKernels(heap.memory!)!;
});

describe('SIMD kernels', () => {
  it('are current with their source (scripts/build-kernels.mjs --check)', () => {
    expect(() => execFileSync(process.execPath, ['scripts/build-kernels.mjs', '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('instantiate on the backend memory', () => {
    expect(heap.memory).toBeInstanceOf(WebAssembly.Memory);
    expect(simd).not.toBeNull();
  });

  for (const n of [1, 3, 4, 5, 17, 1001]) {
    it(`adam over ${n} floats equals the float64 formula, vector lanes and tail alike`, () => {
      const w = tf.tensor1d(randArray(n, 1));
      const g = tf.tensor1d(randArray(n, 2, 0.1));
      const m = tf.tensor1d(randArray(n, 3, 0.01));
      const s = tf.tensor1d(randArray(n, 4, 0.01).map(Math.abs));
      const [w0, g0, m0, s0] = [w, g, m, s].map((t) => t.dataSync().slice());
      const out = heap.alloc([n]);
      const lr = 0.01 / (1 - 0.9 ** 3);
      const ib = 1 / Math.sqrt(1 - 0.999 ** 3);
      simd.adam(heap.offset(w), heap.offset(g), heap.offset(m), heap.offset(s), heap.offset(out), n, lr, ib);
      const mRef = m0!.map((mi, i) => 0.9 * mi + 0.1 * g0![i]!);
      const sRef = s0!.map((si, i) => 0.999 * si + 0.001 * g0![i]! ** 2);
      const wRef = w0!.map((wi, i) => wi - (lr * mRef[i]!) / (Math.sqrt(sRef[i]!) * ib + 1e-8));
      expect(maxAbsDiff(m.dataSync(), mRef)).toBeLessThan(1e-7);
      expect(maxAbsDiff(s.dataSync(), sRef)).toBeLessThan(1e-7);
      expect(maxAbsDiff(out.dataSync(), wRef)).toBeLessThan(1e-5);
      expect([...w.dataSync()]).toEqual([...w0!]); // the weights' own storage is untouched
      tf.dispose([w, g, m, s, out]);
    });
  }

  it('counts subnormal-range gradients and moments as 0, and lets NaN through', () => {
    const n = 9;
    const w = tf.tensor1d(new Float32Array(n).fill(1));
    const g = tf.tensor1d([1e-20, -1e-20, 1e-18, NaN, 0.5, 1e-20, 1e-20, 1e-20, NaN]);
    const m = tf.tensor1d([1e-31, 0, 0, 0, 0, 0, 0, 0, 0]);
    const s = tf.tensor1d([1e-31, 0, 0, 0, 0, 0, 0, 0, 0]);
    const out = heap.alloc([n]);
    simd.adam(heap.offset(w), heap.offset(g), heap.offset(m), heap.offset(s), heap.offset(out), n, 0.1, 1);
    const [o, mm, ss] = [out.dataSync(), m.dataSync(), s.dataSync()];
    expect(mm[0]).toBe(0); // 0.9·1e-31 + 0.1·0 flushed
    expect(ss[0]).toBe(0);
    expect(o[0]).toBe(1);
    expect(o[1]).toBe(1);
    expect(o[2]).toBe(1);
    expect(Number.isNaN(o[3])).toBe(true);
    expect(o[4]).toBeLessThan(1); // a real gradient moves the weight
    expect(Number.isNaN(o[8])).toBe(true); // NaN in the scalar tail too
    tf.dispose([w, g, m, s, out]);
  });

  it('splits a large update with the helper thread, giving exactly the one-thread result', () => {
    expect(simd.threads).toBe(2); // the threaded backend shares its memory
    const one = createSimdKernels(heap.memory!, false)!;
    expect(one.threads).toBe(1);
    const n = 100_003; // above the split size, odd: a ragged tail on the helper's side
    const make = () => [1, 2, 3, 4].map((seed) => tf.tensor1d(randArray(n, seed, seed === 4 ? 0.01 : 1).map((v) => (seed === 4 ? Math.abs(v) : v))));
    const [w1, g1, m1, s1] = make() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [w2, g2, m2, s2] = make() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const out1 = heap.alloc([n]);
    const out2 = heap.alloc([n]);
    for (let step = 0; step < 3; step++) {
      simd.adam(heap.offset(w1), heap.offset(g1), heap.offset(m1), heap.offset(s1), heap.offset(out1), n, 0.01, 1.5);
      one.adam(heap.offset(w2), heap.offset(g2), heap.offset(m2), heap.offset(s2), heap.offset(out2), n, 0.01, 1.5);
    }
    expect([...out1.dataSync()]).toEqual([...out2.dataSync()]);
    expect([...m1.dataSync()]).toEqual([...m2.dataSync()]);
    simd.sgd(heap.offset(w1), heap.offset(g1), heap.offset(out1), n, 0.3);
    one.sgd(heap.offset(w2), heap.offset(g2), heap.offset(out2), n, 0.3);
    expect([...out1.dataSync()]).toEqual([...out2.dataSync()]);
    tf.dispose([w1, g1, m1, s1, w2, g2, m2, s2, out1, out2]);
  });

  it('carries on alone, with the same results, once its helper thread is gone', async () => {
    const pair = createSimdKernels(heap.memory!, true)!;
    const one = createSimdKernels(heap.memory!, false)!;
    expect(pair.threads).toBe(2);
    const n = 70_001;
    const w = tf.tensor1d(randArray(n, 40));
    const g = tf.tensor1d(randArray(n, 41));
    const out1 = heap.alloc([n]);
    const out2 = heap.alloc([n]);
    pair.sgd(heap.offset(w), heap.offset(g), heap.offset(out1), n, 0.1); // with the helper
    await pair.close();
    pair.sgd(heap.offset(w), heap.offset(g), heap.offset(out1), n, 0.2); // without
    one.sgd(heap.offset(w), heap.offset(g), heap.offset(out2), n, 0.2);
    expect([...out1.dataSync()]).toEqual([...out2.dataSync()]);
    tf.dispose([w, g, out1, out2]);
  });

  it('sgd over 7 floats (lanes and tail)', () => {
    const w = tf.tensor1d(randArray(7, 5));
    const g = tf.tensor1d(randArray(7, 6));
    const out = heap.alloc([7]);
    simd.sgd(heap.offset(w), heap.offset(g), heap.offset(out), 7, 0.5);
    const ref = w.dataSync().map((wi, i) => wi - 0.5 * g.dataSync()[i]!);
    expect(maxAbsDiff(out.dataSync(), ref)).toBeLessThan(1e-6);
    tf.dispose([w, g, out]);
  });

  for (const [r, c] of [[1, 1], [1, 9], [9, 1], [4, 4], [5, 7], [8, 12], [37, 130]] as const) {
    it(`transposes [${r}, ${c}] exactly`, () => {
      const x = tf.tensor2d(randArray(r * c, r * 100 + c), [r, c]);
      const out = heap.alloc([c, r]);
      simd.transpose(heap.offset(x), heap.offset(out), r, c);
      expect([...out.dataSync()]).toEqual([...tJs(x.dataSync(), r, c)]);
      tf.dispose([x, out]);
    });
  }
});

describe('replaced wasm kernels', () => {
  it('clone shares storage and survives the original', () => {
    const x = tf.tensor2d(randArray(12, 7), [3, 4]);
    const y = tf.clone(x);
    expect(heap.offset(y)).toBe(heap.offset(x)); // no copy
    expect(heap.refCount(x)).toBe(2);
    const values = x.dataSync().slice();
    x.dispose();
    expect([...y.dataSync()]).toEqual([...values]);
    y.dispose();
  });

  it('2-D transpose equals the reference; other permutations still work', () => {
    const x = tf.tensor2d(randArray(6 * 11, 8), [6, 11]);
    expect([...tf.transpose(x).dataSync()]).toEqual([...tJs(x.dataSync(), 6, 11)]);
    const x3 = tf.tensor3d(randArray(24, 9), [2, 3, 4]);
    const t3 = tf.transpose(x3, [2, 0, 1]); // [4, 2, 3]
    const v = x3.dataSync();
    const got = t3.dataSync();
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 4; c++) expect(got[c * 6 + a * 3 + b]).toBe(v[a * 12 + b * 4 + c]);
    tf.dispose([x, x3, t3]);
  });

  it('a transposed vector used as multiply weights gets its own packing (XNNPACK caches by tensor id)', () => {
    const b = tf.tensor2d(randArray(5, 10), [1, 5]);
    const x = tf.tensor2d(randArray(3, 11), [3, 1]);
    const y = tf.tensor2d(randArray(10, 12), [2, 5]);
    const first = tf.matMul(x, b); // b packed as [1, 5] weights
    const second = tf.matMul(y, tf.transpose(b)); // bᵀ [5, 1] as weights
    expect(maxAbsDiff(first.dataSync(), mmJs(x.dataSync(), 3, 1, b.dataSync(), 5))).toBeLessThan(1e-5);
    expect(maxAbsDiff(second.dataSync(), mmJs(y.dataSync(), 2, 5, tJs(b.dataSync(), 1, 5), 1))).toBeLessThan(1e-5);
    tf.dispose([b, x, y, first, second]);
  });
});

describe('linear (the layer multiply)', () => {
  const M = 6;
  const K = 9;
  const N = 7;
  const layer = (trainable: boolean, seed: number): LinearWeight => ({
    W: tf.variable(tf.tensor2d(randArray(K * N, seed), [K, N]), trainable, `linear-test-${seed}-${trainable}`),
    frozenT: null,
  });

  for (const trainable of [true, false]) {
    for (const inputGrad of [true, false]) {
      it(`value and gradients equal the reference (W ${trainable ? 'trainable' : 'frozen'}, input gradient ${inputGrad ? 'wanted' : 'not wanted'})`, () => {
        const l = layer(trainable, trainable ? 20 : 21);
        const x = tf.variable(tf.tensor2d(randArray(M * K, 22), [M, K]), true, `linear-x-${trainable}-${inputGrad}`);
        const w = tf.tensor2d(randArray(M * N, 23), [M, N]); // L = Σ (x·W) ⊙ w
        const vars = [...(inputGrad ? [x] : []), ...(trainable ? [l.W] : [])];
        // Without an input gradient, x is made inside the loss: an intermediate TF.js frees
        // after the forward pass, so the backward must use what it saved.
        const loss = () => tf.sum(tf.mul(linear(inputGrad ? x : (tf.mul(x, 1) as tf.Tensor2D), l, inputGrad), w)) as tf.Scalar;
        const { value, grads } = vars.length ? tf.variableGrads(loss, vars) : { value: loss(), grads: {} as tf.NamedTensorMap };
        const xv = x.dataSync();
        const Wv = l.W.dataSync();
        const wv = w.dataSync();
        const z = mmJs(xv, M, K, Wv, N);
        expect(Math.abs((value.dataSync()[0] as number) - z.reduce((s, zi, i) => s + zi * wv[i]!, 0))).toBeLessThan(1e-3);
        if (inputGrad) expect(maxAbsDiff(grads[x.name]!.dataSync(), mmJs(wv, M, N, tJs(Wv, K, N), K))).toBeLessThan(1e-4);
        if (trainable) expect(maxAbsDiff(grads[l.W.name]!.dataSync(), mmJs(tJs(xv, M, K), K, M, wv, N))).toBeLessThan(1e-4);
        tf.dispose([value, ...Object.values(grads), x, w, l.W]);
        releaseFrozenTranspose(l);
      });
    }
  }

  for (const inputGrad of [true, false]) {
    it(`loraLinear: value and gradients of x·W + b + s·(x·A)·B equal the reference (input gradient ${inputGrad ? 'wanted' : 'not wanted'})`, () => {
      const r = 2;
      const s = 0.7;
      const l: LoraLayer = {
        W: tf.variable(tf.tensor2d(randArray(K * N, 50), [K, N]), false, `lora-W-${inputGrad}`),
        b: tf.variable(tf.tensor1d(randArray(N, 51)), false, `lora-b-${inputGrad}`),
        A: tf.variable(tf.tensor2d(randArray(K * r, 52), [K, r]), true, `lora-A-${inputGrad}`),
        B: tf.variable(tf.tensor2d(randArray(r * N, 53), [r, N]), true, `lora-B-${inputGrad}`),
        frozenT: null,
      };
      const x = tf.variable(tf.tensor2d(randArray(M * K, 54), [M, K]), inputGrad, `lora-x-${inputGrad}`);
      const w = tf.tensor2d(randArray(M * N, 55), [M, N]);
      const vars = [...(inputGrad ? [x] : []), l.A, l.B];
      const input = () => (inputGrad ? x : (tf.mul(x, 1) as tf.Tensor2D)); // as in linear's test
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(loraLinear(input(), l, s, inputGrad), w)) as tf.Scalar, vars);
      const [xv, Wv, bv, Av, Bv, wv] = [x, l.W, l.b, l.A, l.B, w].map((t) => t.dataSync());
      const xa = mmJs(xv!, M, K, Av!, r).map((v) => v * s); // [M, r]
      const z = mmJs(xv!, M, K, Wv!, N).map((v, i) => v + bv![i % N]! + mmJs(xa, M, r, Bv!, N)[i]!);
      expect(Math.abs((value.dataSync()[0] as number) - z.reduce((acc, zi, i) => acc + zi * wv![i]!, 0))).toBeLessThan(1e-3);
      const dxa = mmJs(wv!, M, N, tJs(Bv!, r, N), r).map((v) => v * s); // [M, r]
      expect(maxAbsDiff(grads[l.B.name]!.dataSync(), mmJs(tJs(xa, M, r), r, M, wv!, N))).toBeLessThan(1e-4);
      expect(maxAbsDiff(grads[l.A.name]!.dataSync(), mmJs(tJs(xv!, M, K), K, M, dxa, r))).toBeLessThan(1e-4);
      if (inputGrad) {
        const dx = mmJs(wv!, M, N, tJs(Wv!, K, N), K).map((v, i) => v + mmJs(dxa, M, r, tJs(Av!, K, r), K)[i]!);
        expect(maxAbsDiff(grads[x.name]!.dataSync(), dx)).toBeLessThan(1e-4);
      }
      tf.dispose([value, ...Object.values(grads), x, w, l.W, l.b, l.A, l.B]);
      releaseFrozenTranspose(l);
    });
  }

  it('a frozen layer remakes its cached transpose when W is reassigned (merge/unmerge)', () => {
    const l = layer(false, 30);
    const x = tf.variable(tf.tensor2d(randArray(M * K, 31), [M, K]), true, 'linear-x-reassign');
    const dx = () => tf.tidy(() => tf.variableGrads(() => tf.sum(linear(x, l)) as tf.Scalar, [x]).grads[x.name]!.dataSync().slice());
    const ones = new Float32Array(M * N).fill(1);
    expect(maxAbsDiff(dx(), mmJs(ones, M, N, tJs(l.W.dataSync(), K, N), K))).toBeLessThan(1e-4);
    l.W.assign(tf.tensor2d(randArray(K * N, 32), [K, N]));
    expect(maxAbsDiff(dx(), mmJs(ones, M, N, tJs(l.W.dataSync(), K, N), K))).toBeLessThan(1e-4);
    releaseFrozenTranspose(l);
    tf.dispose([x, l.W]);
  });
});
