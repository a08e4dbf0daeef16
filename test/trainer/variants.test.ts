/**
 * LoRA variants in the trainer (DoRA, PiSSA, OLoRA, LoRA-FA and their combinations):
 * the adapted model equals the base at step 0, merge/unmerge agree with the unmerged
 * forward, DoRA's norm from factors equals the plain formula, DoRA's and LoRA-FA's
 * gradients equal a plain-JS computation of the same formulas, and a stored
 * PiSSA/OLoRA adapter (converted to the original base) reproduces the trained model.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { attachLora, loadLora, loraToNamed, mergeLora, trainingState, unmergeLora, adapterInfo, projectLoraFaGradients } from '../../src-main/trainer/lora.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { createStepper } from '../../src-main/trainer/loop.ts';
import { doraRowNorms, type AdaptedLayer } from '../../src-main/trainer/variants.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { type LoraConfig, type RunConfig, LORA_INITS, LORA_VARIANTS, defaultConfig, paramCounts } from '../../src-main/contract/config.ts';
import { defaultName } from '../../src-main/lab/run-name.ts';
import { useTestBackend } from '../helpers/backend.ts';

const sizes = [784, 64, 32, 10];
const targets = ['linear1', 'linear2', 'linear3'];
const loraCfg = (over: Partial<LoraConfig> = {}): LoraConfig => ({
  r: 2, alpha: 4, targets, init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false, ...over,
});

function randomInput(n = 16, seed = 5): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: n * 784 }, () => rng.normal()), [n, 784]);
}

async function logits(m: Mlp, x: tf.Tensor2D): Promise<Float32Array> {
  const y = tf.tidy(() => m.forward(x));
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

/** max |a − b| / max |b|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    m = Math.max(m, Math.abs(b[i] as number));
  }
  return d / m;
}

/** Train a few steps on random data so B (and m) move away from their init. */
async function trainSome(m: Mlp, lora: LoraConfig, steps = 5): Promise<void> {
  const cfg: RunConfig = { ...defaultConfig('lora'), sizes, lr: 0.01, lora };
  const stepper = createStepper(m, cfg);
  const rng = new Rng(11);
  for (let s = 0; s < steps; s++) {
    const x = Float32Array.from({ length: 8 * 784 }, () => rng.normal());
    const y = Int32Array.from({ length: 8 }, () => rng.int(10));
    await stepper.step(x, y, 8);
  }
  stepper.dispose();
}

const combos = LORA_VARIANTS.flatMap((variant) => LORA_INITS.flatMap((init) => [false, true].map((freezeA) => ({ variant, init, freezeA }))));

describe('LoRA variants', () => {
  beforeAll(useTestBackend);

  for (const c of combos) {
    const label = `${c.variant}, ${c.init} init${c.freezeA ? ', A frozen' : ''}`;
    it(`${label}: equals the base at step 0; merged and unmerged agree; unmerge restores W; the stored adapter reproduces it on the original base`, async () => {
      const base = Mlp.init(sizes, new Rng(1));
      const baseNamed = await base.toNamed();
      const m = Mlp.fromNamed(sizes, baseNamed, false);
      const lora = loraCfg(c);
      attachLora(m, lora, new Rng(2));
      const x = randomInput();
      const y0 = await logits(base, x);
      expect(relDiff(await logits(m, x), y0)).toBeLessThan(1e-5);

      await trainSome(m, lora);
      const trained = await logits(m, x);
      expect(relDiff(trained, y0)).toBeGreaterThan(1e-4); // it learned something

      const before = await trainingState(m);
      mergeLora(m);
      expect(relDiff(await logits(m, x), trained)).toBeLessThan(1e-5);
      unmergeLora(m);
      const after = await trainingState(m);
      for (const l of targets) expect(relDiff(after[`${l}.weight`]!.data, before[`${l}.weight`]!.data)).toBeLessThan(1e-5);
      expect(relDiff(await logits(m, x), trained)).toBeLessThan(1e-5);

      // Stored form: relative to the base the user chose (PiSSA/OLoRA converted to rank 2r).
      const info = adapterInfo(lora);
      const stored = await loraToNamed(m);
      expect(stored['linear1.lora_A']!.shape).toEqual([info.r, 784]);
      expect(info.r).toBe(c.init === 'pissa' || c.init === 'olora' ? 4 : 2);
      expect(Boolean(stored['linear2.lora_magnitude_vector'])).toBe(c.variant === 'dora');
      const reloaded = Mlp.fromNamed(sizes, baseNamed, false);
      loadLora(reloaded, info, stored);
      expect(relDiff(await logits(reloaded, x), trained)).toBeLessThan(1e-4);

      if (c.freezeA) {
        const a0 = Mlp.fromNamed(sizes, baseNamed, false);
        attachLora(a0, lora, new Rng(2));
        const init = await trainingState(a0);
        for (const l of targets) expect(after[`${l}.lora_A`]!.data).toEqual(init[`${l}.lora_A`]!.data);
        a0.dispose();
      }
      for (const d of [base, m, reloaded]) d.dispose();
      x.dispose();
    });
  }

  it('names a run by its variant ("LoRA r1 …" stays as it was)', () => {
    const cfg = (lora: Partial<LoraConfig>) => ({ ...defaultConfig('lora'), lora: loraCfg({ r: 1, alpha: 1, ...lora }) });
    expect(defaultName(cfg({}))).toBe('LoRA r1 α1 on digit 7 seed 0');
    expect(defaultName(cfg({ variant: 'dora', init: 'pissa', freezeA: true }))).toBe('DoRA·PiSSA·LoRA-FA r1 α1 on digit 7 seed 0');
  });

  it('counts DoRA magnitudes and a frozen A in the trainable parameters', () => {
    const cfg = (lora: Partial<LoraConfig>) => ({ kind: 'lora' as const, sizes: [784, 1000, 2000, 10], lora: loraCfg({ r: 1, ...lora }) });
    const plain = paramCounts(cfg({}));
    expect(plain.trainable).toBe(784 + 1000 + 1000 + 2000 + 2000 + 10); // r·(in + out) per layer
    expect(paramCounts(cfg({ variant: 'dora' })).trainable).toBe(plain.trainable + 1000 + 2000 + 10);
    expect(paramCounts(cfg({ freezeA: true })).trainable).toBe(1000 + 2000 + 10);
  });

  it("DoRA's norm from the rank-r factors equals ‖W0 + s·B·A‖ computed in full (plain JS, float64)", async () => {
    const m = Mlp.init(sizes, new Rng(1));
    attachLora(m, loraCfg({ variant: 'dora', r: 3, alpha: 6 }), new Rng(2));
    await trainSome(m, loraCfg({ variant: 'dora', r: 3, alpha: 6 }));
    const state = await trainingState(m);
    for (const l of m.layers as AdaptedLayer[]) {
      const fast = tf.tidy(() => doraRowNorms(l, l.A, l.B, m.scaling).dataSync().slice());
      const W = state[`${l.name}.weight`]!.data; // [out, in]
      const A = state[`${l.name}.lora_A`]!.data; // [r, in]
      const B = state[`${l.name}.lora_B`]!.data; // [out, r]
      const ref = new Float64Array(l.outF);
      for (let o = 0; o < l.outF; o++) {
        let sum = 0;
        for (let i = 0; i < l.inF; i++) {
          let w = W[o * l.inF + i]!;
          for (let k = 0; k < 3; k++) w += m.scaling * B[o * 3 + k]! * A[k * l.inF + i]!;
          sum += w * w;
        }
        ref[o] = Math.sqrt(sum);
      }
      expect(relDiff(fast, ref)).toBeLessThan(1e-5);
    }
    m.dispose();
  });

  it("DoRA's and LoRA-FA's gradients equal the formulas written out in plain JS (norm held constant, B's gradient projected)", async () => {
    // One layer 6 → 4, r = 2, loss L = Σ z ⊙ G for a fixed G: ∂L/∂z = G.
    const small = [6, 4];
    const rng = new Rng(3);
    const W = Float32Array.from({ length: 24 }, () => rng.normal()); // [out 4, in 6]
    const b = Float32Array.from({ length: 4 }, () => rng.normal());
    const named = { 'linear1.weight': { shape: [4, 6], data: W }, 'linear1.bias': { shape: [4], data: b } };
    const s = 1.5;
    for (const freezeA of [false, true]) {
      const m = Mlp.fromNamed(small, named, false);
      attachLora(m, { r: 2, alpha: 3, targets: ['linear1'], init: 'gaussian', scaling: 'standard', loraPlusRatio: 1, variant: 'dora', freezeA }, new Rng(4));
      const l = m.layers[0] as AdaptedLayer;
      // Move B and m off their init so every term matters.
      l.B.assign(tf.tensor2d(Float32Array.from({ length: 8 }, () => rng.normal() * 0.3), [2, 4]));
      l.m!.assign(tf.tensor1d(Float32Array.from({ length: 4 }, () => 1 + rng.next())));
      const st = await trainingState(m);
      const A = st['linear1.lora_A']!.data; // [2, 6]
      const B = st['linear1.lora_B']!.data; // [4, 2]
      const mag = st['linear1.lora_magnitude_vector']!.data; // [4]
      const n = 3;
      const x = Float32Array.from({ length: n * 6 }, () => rng.normal());
      const G = Float32Array.from({ length: n * 4 }, () => rng.normal());
      const grads = tf.tidy(() => {
        const xs = tf.tensor2d(x, [n, 6]);
        const g = tf.tensor2d(G, [n, 4]);
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(m.forward(xs, true), g)) as tf.Scalar, m.trainableVariables);
        projectLoraFaGradients(m, grads);
        const out: Record<string, Float32Array> = {};
        for (const [k, v] of Object.entries(grads)) out[k.split('/')[1]!] = v.dataSync().slice() as Float32Array;
        return out;
      });
      // Plain JS: V = W + s·B·A, nrm_o = ‖V_o‖, c = m/nrm, y = x·Vᵀ, z = c ⊙ y + b.
      const V = new Float64Array(24);
      for (let o = 0; o < 4; o++) for (let i = 0; i < 6; i++) {
        V[o * 6 + i] = W[o * 6 + i]! + s * (B[o * 2]! * A[i]! + B[o * 2 + 1]! * A[6 + i]!);
      }
      const nrm = [0, 1, 2, 3].map((o) => Math.hypot(...V.subarray(o * 6, o * 6 + 6)));
      const y = (r: number, o: number) => { let t = 0; for (let i = 0; i < 6; i++) t += x[r * 6 + i]! * V[o * 6 + i]!; return t; };
      const dm = [0, 1, 2, 3].map((o) => { let t = 0; for (let r = 0; r < n; r++) t += G[r * 4 + o]! * y(r, o) / nrm[o]!; return t; });
      const dy = (r: number, o: number) => G[r * 4 + o]! * mag[o]! / nrm[o]!;
      const xa = (r: number, k: number) => { let t = 0; for (let i = 0; i < 6; i++) t += x[r * 6 + i]! * A[k * 6 + i]!; return t; };
      // dB [out, r] = s·Σ_r dy ⊗ x·Aᵀ ; dA [r, in] = s·Σ_r (dy·B) ⊗ x
      const dB = new Float64Array(8);
      const dA = new Float64Array(12);
      for (let r = 0; r < n; r++) for (let o = 0; o < 4; o++) for (let k = 0; k < 2; k++) {
        dB[o * 2 + k] = dB[o * 2 + k]! + s * dy(r, o) * xa(r, k);
        for (let i = 0; i < 6; i++) dA[k * 6 + i] = dA[k * 6 + i]! + s * dy(r, o) * B[o * 2 + k]! * x[r * 6 + i]!;
      }
      expect(relDiff(grads['linear1.lora_magnitude_vector']!, dm)).toBeLessThan(1e-4);
      const dBt = grads['linear1.lora_B']!; // held [r, out]
      let refB: number[] = [];
      if (freezeA) {
        // LoRA-FA: g_B·P, P = (1/s²)·(A·Aᵀ + 1e-8·I)⁻¹ (2×2, inverted by hand)
        const g00 = A.slice(0, 6).reduce((t, v) => t + v * v, 0) + 1e-8;
        const g11 = A.slice(6).reduce((t, v) => t + v * v, 0) + 1e-8;
        const g01 = A.slice(0, 6).reduce((t, v, i) => t + v * A[6 + i]!, 0);
        const det = g00 * g11 - g01 * g01;
        const P = [g11 / det, -g01 / det, -g01 / det, g00 / det].map((p) => p / (s * s));
        for (let k = 0; k < 2; k++) for (let o = 0; o < 4; o++) refB.push(dB[o * 2]! * P[k]! + dB[o * 2 + 1]! * P[2 + k]!);
        expect(grads['linear1.lora_A']).toBeUndefined();
      } else {
        for (let k = 0; k < 2; k++) for (let o = 0; o < 4; o++) refB.push(dB[o * 2 + k]!);
        const dAt = grads['linear1.lora_A']!; // held [in, r]
        const refA: number[] = [];
        for (let i = 0; i < 6; i++) for (let k = 0; k < 2; k++) refA.push(dA[k * 6 + i]!);
        expect(relDiff(dAt, refA)).toBeLessThan(1e-4);
      }
      expect(relDiff(dBt, refB)).toBeLessThan(1e-4);
      m.dispose();
    }
  });
});
