import { describe, expect, it } from 'vitest';
import {
  MergeError,
  checkAdapterFits,
  combineDeltas,
  combineToAdapter,
  deltaFromAdapter,
  mergeIntoBase,
  type LayerDeltas,
  type MergeOptions,
  type WeightedAdapter,
} from '../../src-main/weights/merge.ts';
import { dareLinear, tiesMerge, trimToDensity } from '../../src-main/weights/task-vectors.ts';
import { MERGE_METHODS } from '../../src-main/contract/api.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { maxAbs, maxAbsDiff, randomAdapter, randomBase } from './helpers.ts';

const sizes = [40, 30, 20, 10];
const a1 = randomAdapter(sizes, { r: 2, alpha: 4 }, 1);
const a2 = randomAdapter(sizes, { r: 3, alpha: 3, rule: 'rslora', targets: ['linear1', 'linear3'] }, 2);
const a3 = randomAdapter(sizes, { r: 1, alpha: 1, targets: ['linear2', 'linear3'] }, 3);
const three: WeightedAdapter[] = [
  { ...a1, weight: 0.7 },
  { ...a2, weight: -0.4 },
  { ...a3, weight: 1.3 },
];

/** Σ w_i·ΔW_i in float64, computed naively per entry: the reference for exact methods. */
function naiveLinear(adapters: WeightedAdapter[]): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const a of adapters) {
    for (const layer of a.info.targets) {
      const A = a.tensors[`${layer}.lora_A`]!;
      const B = a.tensors[`${layer}.lora_B`]!;
      const [r, inF] = A.shape as [number, number];
      const outF = B.shape[0] as number;
      const d = (out[layer] ??= new Float64Array(outF * inF));
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < inF; i++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += (B.data[o * r + k] as number) * (A.data[k * inF + i] as number);
          d[o * inF + i] = (d[o * inF + i] as number) + a.weight * a.info.scaling * s;
        }
      }
    }
  }
  return out;
}

function expectClose(got: LayerDeltas, want: Record<string, Float64Array | Float32Array> | LayerDeltas, relTol: number): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [layer, x] of Object.entries(want)) {
    const w = 'data' in x ? x.data : x;
    const scale = Math.max(maxAbs(w), 1e-30);
    expect(maxAbsDiff(got[layer]!.data, w) / scale, layer).toBeLessThanOrEqual(relTol);
  }
}

describe('deltaFromAdapter and mergeIntoBase', () => {
  it('ΔW = scaling·B·A, and W = W0 + ΔW with biases untouched', () => {
    const base = randomBase(sizes, 9);
    const d = deltaFromAdapter(a1.info, a1.tensors);
    expectClose(d, naiveLinear([{ ...a1, weight: 1 }]), 1e-7);
    const merged = mergeIntoBase(base, d);
    for (const l of ['linear1', 'linear2', 'linear3']) {
      const want = base[`${l}.weight`]!.data.map((w, i) => w + d[l]!.data[i]!);
      expect(maxAbsDiff(merged[`${l}.weight`]!.data, want)).toBeLessThanOrEqual(1e-6);
      expect(merged[`${l}.bias`]!.data).toEqual(base[`${l}.bias`]!.data);
    }
    expect(merged['linear1.weight']!.data).not.toBe(base['linear1.weight']!.data);
    expect(() => mergeIntoBase(base, { linear1: { shape: [2, 2], data: new Float32Array(4) } })).toThrow(/is \[2,2\], the base weight is \[30,40\]/);
    expect(() => mergeIntoBase(base, { linear9: d['linear1']! })).toThrow(/no linear9.weight/);
  });
});

describe('exact combinations', () => {
  it('linear with one adapter at weight 1 equals the plain merge (≤ 1e-6)', () => {
    const base = randomBase(sizes, 4);
    const viaLinear = mergeIntoBase(base, combineDeltas(sizes, [{ ...a1, weight: 1 }], { method: 'linear' }));
    const plain = mergeIntoBase(base, deltaFromAdapter(a1.info, a1.tensors));
    for (const k of Object.keys(base)) expect(maxAbsDiff(viaLinear[k]!.data, plain[k]!.data)).toBeLessThanOrEqual(1e-6);
  });

  it('linear = Σ w_i·ΔW_i for adapters of different ranks, rules and targets', () => {
    expectClose(combineDeltas(sizes, three, { method: 'linear' }), naiveLinear(three), 1e-6);
  });

  it('cat: A stacked, B weighted and side by side, scaling 1; its ΔW is the sum of the weighted ΔW_i', () => {
    const c = combineToAdapter(sizes, three, { method: 'cat' });
    // linear1: 2 + 3, linear2: 2 + 1, linear3: 2 + 3 + 1 → padded to the largest, 6.
    expect(c.info).toEqual({ r: 6, alpha: 6, scaling: 1, scalingRule: 'standard', targets: ['linear1', 'linear2', 'linear3'], init: 'kaiming', variant: 'lora', freezeA: false });
    expect(c.tensors['linear1.lora_A']!.shape).toEqual([6, 40]);
    expect(c.tensors['linear3.lora_B']!.shape).toEqual([10, 6]);
    expect(Array.from(c.tensors['linear1.lora_A']!.data.subarray(0, 80))).toEqual(Array.from(a1.tensors['linear1.lora_A']!.data));
    expect(Array.from(c.tensors['linear1.lora_A']!.data.subarray(200))).toEqual(new Array(40).fill(0));
    expectClose(deltaFromAdapter(c.info, c.tensors), naiveLinear(three), 1e-6);
    expect(combineToAdapter(sizes, three, { method: 'linear' })).toEqual(c);
    expect(() => checkAdapterFits(sizes, c.info, c.tensors)).not.toThrow();
  });

  it('svd at full rank R = linear (≤ 1e-4 relative), and combineDeltas gives that adapter’s ΔW', () => {
    const c = combineToAdapter(sizes, three, { method: 'svd', rank: 6 });
    expect(c.info.r).toBe(6);
    expectClose(deltaFromAdapter(c.info, c.tensors), naiveLinear(three), 1e-4);
    expectClose(combineDeltas(sizes, three, { method: 'svd', rank: 6 }), deltaFromAdapter(c.info, c.tensors), 0);
    expect(combineToAdapter(sizes, three, { method: 'svd' }).info.r).toBe(3); // PEFT's default: the largest r_i
  });

  it('svd at rank k < R is the best rank-k approximation (independent power-iteration reference)', () => {
    const linear = naiveLinear(three);
    for (const k of [1, 2, 4]) {
      const c = combineToAdapter(sizes, three, { method: 'svd', rank: k });
      const d = deltaFromAdapter(c.info, c.tensors);
      layerShapes().forEach(([layer, outF, inF]) => {
        const ref = powerIterationRankK(linear[layer]!, outF, inF, k);
        expect(maxAbsDiff(d[layer]!.data, ref) / maxAbs(linear[layer]!), `${layer} k=${k}`).toBeLessThanOrEqual(1e-5);
      });
    }
  });
});

const layerShapes = (): [string, number, number][] => [['linear1', 30, 40], ['linear2', 20, 30], ['linear3', 10, 20]];

/**
 * Best rank-k approximation by power iteration with deflation on MᵀM (float64): slow
 * and simple, sharing no code with linalg.ts.
 */
function powerIterationRankK(m: Float64Array, rows: number, cols: number, k: number): Float64Array {
  const rest = Float64Array.from(m);
  const out = new Float64Array(rows * cols);
  const rng = new Rng(77);
  for (let j = 0; j < k; j++) {
    let v = Float64Array.from({ length: cols }, () => rng.normal());
    let u = new Float64Array(rows);
    let sigma = 0;
    for (let it = 0; it < 3000; it++) {
      u = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) u[r] = (u[r] as number) + (rest[r * cols + c] as number) * (v[c] as number);
      sigma = Math.hypot(...u);
      if (sigma === 0) break;
      u = u.map((x) => x / sigma);
      const w = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[c] = (w[c] as number) + (rest[r * cols + c] as number) * (u[r] as number);
      const n = Math.hypot(...w);
      v = w.map((x) => x / n);
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const x = sigma * (u[r] as number) * (v[c] as number);
        out[r * cols + c] = (out[r * cols + c] as number) + x;
        rest[r * cols + c] = (rest[r * cols + c] as number) - x;
      }
    }
  }
  return out;
}

describe('degenerate inputs', () => {
  it('a fresh adapter (B = 0) combines to a zero ΔW by every method, without NaN', () => {
    const fresh = randomAdapter(sizes, { r: 2, bStd: 0 }, 12);
    for (const opts of MERGE_METHODS.map((method): MergeOptions => ({ method, density: 0.5, rank: 2 }))) {
      const c = combineToAdapter(sizes, [{ ...fresh, weight: 1 }], opts);
      for (const t of Object.values(c.tensors)) expect(t.data.every(Number.isFinite), opts.method).toBe(true);
      for (const d of Object.values(deltaFromAdapter(c.info, c.tensors))) expect(maxAbs(d.data), opts.method).toBe(0);
      for (const d of Object.values(combineDeltas(sizes, [{ ...fresh, weight: 1 }], opts))) expect(maxAbs(d.data), opts.method).toBe(0);
    }
  });

  it('weight 0 contributes nothing; the same adapter twice at ½ equals it once', () => {
    const withZero = combineDeltas(sizes, [{ ...a1, weight: 1 }, { ...a3, weight: 0 }], { method: 'linear' });
    expectClose(withZero, naiveLinear([{ ...a1, weight: 1 }]), 1e-7);
    const half = combineToAdapter(sizes, [{ ...a1, weight: 0.5 }, { ...a1, weight: 0.5 }], { method: 'svd', rank: 2 });
    expectClose(deltaFromAdapter(half.info, half.tensors), deltaFromAdapter(a1.info, a1.tensors), 1e-5);
  });
});

describe('TIES and DARE on the full ΔW (the _svd forms)', () => {
  it('trimToDensity keeps the top fraction by magnitude, equal magnitudes in index order', () => {
    expect(Array.from(trimToDensity(Float64Array.of(3, -1, 0.5, 2), 0.5))).toEqual([3, 0, 0, 2]);
    expect(Array.from(trimToDensity(Float64Array.of(1, -1, 1, -1, 5), 0.6))).toEqual([1, -1, 0, 0, 5]);
    expect(Array.from(trimToDensity(Float64Array.of(1, 2), 1))).toEqual([1, 2]);
    expect(Array.from(trimToDensity(Float64Array.of(1, 2), 0.1))).toEqual([0, 0]);
  });

  it('ties: trim, elect the sign of the summed mass, disjoint mean of the weighted agreeing values', () => {
    const merged = tiesMerge([Float64Array.of(3, -1, 0.5, 2), Float64Array.of(-2, -2, 1, 0.1)], [1, 0.5], 0.5);
    // trimmed: [3, 0, 0, 2] and [-2, -2, 0, 0]; mass [1, -2, 0, 2] → signs [+, −, +, +]
    expect(Array.from(merged)).toEqual([3, -1, 0, 2]);
    const agree = tiesMerge([Float64Array.of(2, -4), Float64Array.of(4, -2)], [1, 1], 1);
    expect(Array.from(agree)).toEqual([3, -3]); // a mean, not a sum
  });

  it('ties_svd with one adapter at density 1 reduces to linear, and is deterministic', () => {
    const one: WeightedAdapter[] = [{ ...a1, weight: 0.6 }];
    expectClose(combineDeltas(sizes, one, { method: 'ties_svd', density: 1 }), naiveLinear(one), 1e-7);
    const opts: MergeOptions = { method: 'ties_svd', density: 0.3 };
    expect(combineDeltas(sizes, three, opts)).toEqual(combineDeltas(sizes, three, opts));
    const d = combineDeltas(sizes, [{ ...a1, weight: 1 }], opts)['linear1']!.data;
    expect(d.filter((x) => x !== 0).length).toBe(Math.floor(0.3 * 1200));
  });

  it('dare_linear_svd: density 1 is exactly linear; masks are reproducible by seed and rescale by 1/density', () => {
    expectClose(combineDeltas(sizes, three, { method: 'dare_linear_svd', density: 1 }), combineDeltas(sizes, three, { method: 'linear' }), 0);
    const opts: MergeOptions = { method: 'dare_linear_svd', density: 0.5, seed: 42 };
    const a = combineDeltas(sizes, three, opts);
    expect(combineDeltas(sizes, three, opts)).toEqual(a);
    expect(combineDeltas(sizes, three, { ...opts, seed: 43 })).not.toEqual(a);
    // One adapter: every entry is either dropped or w·ΔW/(1−p); about p of them dropped.
    const one: WeightedAdapter[] = [{ ...a1, weight: 2 }];
    const full = naiveLinear(one)['linear1']!;
    const dropped = combineDeltas(sizes, one, { method: 'dare_linear_svd', density: 0.7, seed: 1 })['linear1']!.data;
    let zeros = 0;
    dropped.forEach((x, i) => {
      if (x === 0) zeros++;
      else expect(Math.abs(x - (full[i] as number) / 0.7)).toBeLessThanOrEqual(1e-6 * Math.abs(full[i] as number) + 1e-12);
    });
    expect(zeros / dropped.length).toBeGreaterThan(0.25);
    expect(zeros / dropped.length).toBeLessThan(0.35);
    expect(Array.from(dareLinear([Float64Array.of(1, 2)], [3], 1, [new Rng(0)]))).toEqual([3, 6]);
  });

  it('as adapters: rank k, reproducible by seed, exact when k covers the layer', () => {
    for (const opts of [
      { method: 'ties_svd', density: 0.5 },
      { method: 'dare_linear_svd', density: 0.6, seed: 5 },
      { method: 'dare_ties_svd', density: 0.6, seed: 5, majoritySign: 'frequency' },
      { method: 'magnitude_prune_svd', density: 0.5 },
    ] as MergeOptions[]) {
      const c = combineToAdapter(sizes, three, { ...opts, rank: 4 });
      expect(c.info).toMatchObject({ r: 4, alpha: 4, scaling: 1 });
      expect(combineToAdapter(sizes, three, { ...opts, rank: 4 })).toEqual(c);
      const full = combineDeltas(sizes, three, opts);
      const exact = combineToAdapter(sizes, three, { ...opts, rank: 30 }); // ≥ min(out, in) of every layer
      expectClose(deltaFromAdapter(exact.info, exact.tensors), full, 1e-5);
    }
  });
});

describe('refusals', () => {
  const refuse = (adapters: WeightedAdapter[], opts: MergeOptions, message: RegExp) => {
    expect(() => combineDeltas(sizes, adapters, opts)).toThrow(MergeError);
    expect(() => combineToAdapter(sizes, adapters, opts)).toThrow(message);
  };
  const other = randomAdapter([40, 25, 20, 10], { r: 2 }, 8);
  const deeper = randomAdapter([40, 30, 20, 10, 10], { r: 1, targets: ['linear4'] }, 8);

  it('empty list, non-finite weight, unknown method, bad options', () => {
    refuse([], { method: 'linear' }, /at least one adapter/);
    refuse([{ ...a1, weight: NaN }], { method: 'linear' }, /adapter 1: weight must be a number from -100 to 100, got NaN/);
    refuse([{ ...a1, weight: 1 }, { ...a1, weight: Infinity, name: 'digit 7' }], { method: 'cat' }, /adapter "digit 7": weight must be a number from -100/);
    // Finite but absurd: 1e308 × a scaling overflows float64 itself.
    refuse([{ ...a1, weight: 1e308 }], { method: 'svd' }, /weight must be a number from -100 to 100, got 1e\+308/);
    refuse([{ ...a1, weight: 1 }], { method: 'magic' as 'linear' }, /unknown method "magic"/);
    refuse([{ ...a1, weight: 1 }], { method: 'svd', rank: 0 }, /rank must be a positive integer/);
    refuse([{ ...a1, weight: 1 }], { method: 'ties' }, /ties needs a density in \[0, 1\] \(the fraction of values kept; 0 prunes everything\), got undefined/);
    refuse([{ ...a1, weight: 1 }], { method: 'ties_svd', density: 1.5 }, /ties_svd needs a density in \[0, 1\].*got 1.5/);
    refuse([{ ...a1, weight: 1 }], { method: 'dare_linear', density: -0.1 }, /dare_linear needs a density in \[0, 1\].*got -0.1/);
    refuse([{ ...a1, weight: 1 }], { method: 'magnitude_prune', density: NaN }, /magnitude_prune needs a density/);
    refuse([{ ...a1, weight: 1 }], { method: 'dare_ties', density: 0.5, majoritySign: 'most' as 'total' }, /majority sign method is total or frequency, got "most"/);
    refuse([{ ...a1, weight: 1 }], { method: 'dare_linear_svd', density: 0.9, seed: -1 }, /seed must be an integer/);
  });

  it('adapters from another base or with other shapes', () => {
    refuse([{ ...a1, weight: 1 }, { ...other, weight: 1 }], { method: 'linear' }, /adapter 2: linear1.lora_B has shape \[25,2\], this base needs \[30, 2\]/);
    refuse([{ ...deeper, weight: 1 }], { method: 'linear' }, /targets linear4, which this base \(linear1, linear2, linear3\) does not have: it belongs to another base/);
    const missing = { ...a1.tensors };
    delete missing['linear2.lora_A'];
    refuse([{ info: a1.info, tensors: missing, weight: 1 }], { method: 'cat' }, /linear2.lora_A is missing/);
    const nan = { ...a1.tensors, 'linear1.lora_B': { shape: [30, 2], data: new Float32Array(60).fill(NaN) } };
    refuse([{ info: a1.info, tensors: nan, weight: 1 }], { method: 'linear' }, /linear1.lora_B holds 60 NaN or infinite values/);
    refuse([{ info: { ...a1.info, alpha: 1e308, scaling: 5e307 }, tensors: a1.tensors, weight: 1 }], { method: 'ties', density: 0.5 }, /scaling 5.00e\+307 is larger than 10,000/);
    const extra = { ...a3.tensors, 'linear1.lora_A': a1.tensors['linear1.lora_A']! };
    refuse([{ info: a3.info, tensors: extra, weight: 1 }], { method: 'linear' }, /tensor linear1.lora_A belongs to no target layer/);
  });
});
