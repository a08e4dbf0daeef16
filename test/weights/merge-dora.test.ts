/**
 * DoRA adapters in merges: the magnitude tensor is checked, a DoRA adapter merges into
 * its base alone at weight 1 as W' = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ (checked against a
 * plain-JS computation), and every other use is refused with the reason.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { tempDir } from '../helpers/tmp.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { Rng, normalArray } from '../../src-main/util/rng.ts';
import { mergeJob } from '../../src-main/weights/jobs.ts';
import { MergeError, type WeightedAdapter, checkAdapterFits, combineDeltas, combineToAdapter, mergeIntoBase } from '../../src-main/weights/merge.ts';
import { maxAbsDiff, randomAdapter, randomBase } from './helpers.ts';

const doraOf = (a: { info: AdapterInfo; tensors: NamedTensors }, sizes: number[], seed: number): { info: AdapterInfo; tensors: NamedTensors } => {
  const rng = new Rng(seed);
  const tensors: NamedTensors = { ...a.tensors };
  a.info.targets.forEach((t) => {
    const outF = sizes[Number(t.slice('linear'.length))] as number;
    tensors[`${t}.lora_magnitude_vector`] = { shape: [outF], data: normalArray(rng, outF, 0.3).map((x) => 1 + x) };
  });
  return { info: { ...a.info, variant: 'dora' }, tensors };
};

/** W' = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ per output row, in plain float64 loops. */
function plainDora(W0: Float32Array, A: Float32Array, B: Float32Array, m: Float32Array, s: number, outF: number, inF: number, r: number): Float64Array {
  const out = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    let norm = 0;
    for (let i = 0; i < inF; i++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += B[o * r + k]! * A[k * inF + i]!;
      const v = W0[o * inF + i]! + s * ba;
      out[o * inF + i] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < inF; i++) out[o * inF + i] = (m[o]! * out[o * inF + i]!) / norm;
  }
  return out;
}

describe('a DoRA adapter merged alone', () => {
  it('by hand: W0 = [[1, 4, −6], [1, 0, 7]], ΔW = [[2, −4, 6], [−1, 2, −3]], m = [6, 10]', () => {
    // W0 + ΔW = [[3, 0, 0], [0, 2, 4]]; norms 3 and √20; W' = [[6, 0, 0], [0, 20/√20, 40/√20]] = [[6, 0, 0], [0, √20, 2√20]]
    const info: AdapterInfo = { r: 1, alpha: 1, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'dora', freezeA: false };
    const tensors: NamedTensors = {
      'linear1.lora_A': { shape: [1, 3], data: Float32Array.of(1, -2, 3) },
      'linear1.lora_B': { shape: [2, 1], data: Float32Array.of(2, -1) },
      'linear1.lora_magnitude_vector': { shape: [2], data: Float32Array.of(6, 10) },
    };
    const base: NamedTensors = { 'linear1.weight': { shape: [2, 3], data: Float32Array.of(1, 4, -6, 1, 0, 7) }, 'linear1.bias': { shape: [2], data: Float32Array.of(0.5, -0.5) } };
    const merged = mergeIntoBase(base, combineDeltas([3, 2], [{ info, tensors, weight: 1 }], { method: 'linear' }, base));
    const r20 = Math.sqrt(20);
    expect(maxAbsDiff(merged['linear1.weight']!.data, [6, 0, 0, 0, r20, 2 * r20])).toBeLessThanOrEqual(1e-6);
    expect(Array.from(merged['linear1.bias']!.data)).toEqual([0.5, -0.5]);
    // cat is the same merge.
    expect(mergeIntoBase(base, combineDeltas([3, 2], [{ info, tensors, weight: 1 }], { method: 'cat' }, base))).toEqual(merged);
  });

  it('a random DoRA adapter on [40, 30, 20, 10]: mergeJob (the worker’s path) agrees with plain JS to one float32 rounding', () => {
    const sizes = [40, 30, 20, 10];
    const base = randomBase(sizes, 3);
    const d = doraOf(randomAdapter(sizes, { r: 2, alpha: 4, targets: ['linear1', 'linear3'] }, 4), sizes, 5);
    const r = mergeJob({ kind: 'merge', output: 'model', sizes, base: structuredClone(base), baseLabel: 'model 1', adapters: [{ ...structuredClone(d), weight: 1, name: 'a1 dora' }], options: { method: 'linear' } });
    for (const [layer, outF, inF] of [['linear1', 30, 40], ['linear3', 10, 20]] as const) {
      const want = plainDora(base[`${layer}.weight`]!.data, d.tensors[`${layer}.lora_A`]!.data, d.tensors[`${layer}.lora_B`]!.data, d.tensors[`${layer}.lora_magnitude_vector`]!.data, d.info.scaling, outF, inF, 2);
      const got = r.tensors[`${layer}.weight`]!.data;
      got.forEach((x, i) => expect(Math.abs(x - want[i]!), `${layer}[${i}]`).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -23 + 1e-12));
    }
    // An untargeted layer and every bias stay as they were.
    expect(r.tensors['linear2.weight']!.data).toEqual(base['linear2.weight']!.data);
    for (const l of ['linear1', 'linear2', 'linear3']) expect(r.tensors[`${l}.bias`]!.data).toEqual(base[`${l}.bias`]!.data);
  });

  it('a zero row of W0 + ΔW is refused, not divided by', () => {
    const info: AdapterInfo = { r: 1, alpha: 1, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'dora', freezeA: false };
    const tensors: NamedTensors = {
      'linear1.lora_A': { shape: [1, 2], data: Float32Array.of(1, 1) },
      'linear1.lora_B': { shape: [1, 1], data: Float32Array.of(-1) },
      'linear1.lora_magnitude_vector': { shape: [1], data: Float32Array.of(1) },
    };
    const base: NamedTensors = { 'linear1.weight': { shape: [1, 2], data: Float32Array.of(1, 1) } };
    expect(() => combineDeltas([2, 1], [{ info, tensors, weight: 1, name: 'z' }], { method: 'linear' }, base)).toThrow(
      /adapter "z": DoRA divides each row of linear1's W0 \+ ΔW by its norm, and 1 of 1 rows give no finite result/,
    );
  });
});

describe('DoRA refusals', () => {
  const sizes = [40, 30, 20, 10];
  const base = randomBase(sizes, 3);
  const lora = randomAdapter(sizes, { r: 2 }, 7);
  const dora = doraOf(randomAdapter(sizes, { r: 2 }, 8), sizes, 9);
  const D: WeightedAdapter = { ...dora, weight: 1, name: 'dora on 7' };
  const WHY = /DoRA's magnitude rescales whole rows of W0 \+ ΔW, so DoRA results do not add or scale like ΔW's/;

  it('with other adapters, by any method', () => {
    for (const method of ['linear', 'cat', 'svd', 'ties', 'ties_svd', 'dare_linear_svd'] as const) {
      const f = () => combineDeltas(sizes, [D, { ...lora, weight: 1 }], { method, density: 0.5 }, base);
      expect(f, method).toThrow(MergeError);
      expect(f, method).toThrow(/adapter "dora on 7" is a DoRA adapter, which merges into its base only alone: .*so it cannot be combined with other adapters/);
      expect(f, method).toThrow(WHY);
    }
  });

  it('at a weight other than 1, negative included', () => {
    for (const weight of [0.5, -1, 2, 0]) {
      expect(() => combineDeltas(sizes, [{ ...D, weight }], { method: 'linear' }, base)).toThrow(new RegExp(`is a DoRA adapter, which merges only with weight 1, got ${weight}: .*a negative weight does not undo it`));
    }
  });

  it('as a new adapter, by any method; with a method that changes its ΔW; without the base', () => {
    for (const method of ['linear', 'cat', 'svd', 'ties'] as const) {
      expect(() => combineToAdapter(sizes, [D], { method, density: 1 })).toThrow(/is a DoRA adapter, which no method combines into a new adapter: .*export it as a PEFT adapter/);
    }
    expect(() => mergeJob({ kind: 'merge', output: 'adapter', sizes, base, baseLabel: 'm', adapters: [D], options: { method: 'cat' } })).toThrow(WHY);
    expect(() => combineDeltas(sizes, [D], { method: 'ties_svd', density: 1 }, base)).toThrow(/merges as itself \(method linear or cat\): ties_svd would change its ΔW/);
    expect(() => combineDeltas(sizes, [D], { method: 'linear' })).toThrow(/merging it needs the base weights/);
  });

  it('checkAdapterFits: DoRA needs finite magnitudes of shape [out]; plain LoRA may not hold one', () => {
    expect(() => checkAdapterFits(sizes, dora.info, dora.tensors)).not.toThrow();
    const missing = { ...dora.tensors };
    delete missing['linear2.lora_magnitude_vector'];
    expect(() => checkAdapterFits(sizes, dora.info, missing)).toThrow(/linear2.lora_magnitude_vector is missing: a DoRA adapter has a magnitude per output of every target/);
    const wrong = { ...dora.tensors, 'linear2.lora_magnitude_vector': { shape: [30], data: new Float32Array(30) } };
    expect(() => checkAdapterFits(sizes, dora.info, wrong)).toThrow(/linear2.lora_magnitude_vector has shape \[30\], this base needs \[20\]/);
    const nan = { ...dora.tensors, 'linear1.lora_magnitude_vector': { shape: [30], data: new Float32Array(30).fill(Infinity) } };
    expect(() => checkAdapterFits(sizes, dora.info, nan)).toThrow(/linear1.lora_magnitude_vector holds 30 NaN or infinite values/);
    const short = { ...dora.tensors, 'linear1.lora_magnitude_vector': { shape: [30], data: new Float32Array(29) } };
    expect(() => checkAdapterFits(sizes, dora.info, short)).toThrow(/linear1.lora_magnitude_vector holds 29 values for shape \[30\]/);
    expect(() => checkAdapterFits(sizes, lora.info, { ...lora.tensors, 'linear1.lora_magnitude_vector': dora.tensors['linear1.lora_magnitude_vector']! })).toThrow(
      /holds linear1.lora_magnitude_vector, a DoRA magnitude, but is a plain LoRA adapter \(variant "lora"\)/,
    );
  });
});

describe('through the Lab (preview in a trainer process, save)', () => {
  it('a DoRA adapter merged alone predicts as the DoRA adapter attached; the Lab refuses the rest with the reason', async () => {
    const tmp = tempDir();
    const lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
    try {
      const sizes = [784, 32, 10];
      const m = lab.store.models.create({ name: 'dora base', kind: 'base', sizes });
      lab.store.tensors.put({ modelId: m.id }, randomBase(sizes, 11));
      const d = doraOf(randomAdapter(sizes, { r: 2, alpha: 4, bStd: 0.5 }, 12), sizes, 13);
      const a = lab.store.adapters.create({ name: 'dora', baseModelId: m.id, info: d.info });
      lab.store.tensors.put({ adapterId: a.id }, d.tensors);
      const req = { baseModelId: m.id, adapters: [{ adapterId: a.id, weight: 1 }], method: 'linear' as const, testLimit: 300 };
      const p = await lab.previewMerge(req);
      expect(p.adapters[0]!.wrongPerClass).not.toEqual(p.base.wrongPerClass); // the adapter matters
      expect(p.combined.wrongPerClass).toEqual(p.adapters[0]!.wrongPerClass);
      expect(p.combined.loss).toBeCloseTo(p.adapters[0]!.loss, 4);
      await expect(lab.saveMerge({ ...req, name: 'as adapter', output: 'adapter' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/is a DoRA adapter, which no method combines into a new adapter/) });
      await expect(lab.previewMerge({ ...req, adapters: [{ adapterId: a.id, weight: -1 }] })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/merges only with weight 1, got -1/) });
      const saved = await lab.saveMerge({ ...req, name: 'dora merged', output: 'model' });
      expect((await lab.evaluateModel(saved.id, 300)).wrongPerClass).toEqual(p.combined.wrongPerClass);
    } finally {
      await lab.close();
      tmp.cleanup();
    }
  });
});
