/**
 * Every merge method of PEFT's add_weighted_adapter against a case small enough to
 * compute by hand (the working is in the comments), both majority-sign methods,
 * negative weights (task negation) and the refusals, through combineDeltas /
 * combineToAdapter as the Lab calls them.
 */
import { describe, expect, it } from 'vitest';
import { MERGE_METHODS } from '../../src-main/contract/api.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { MergeError, type MergeOptions, type WeightedAdapter, combineDeltas, combineToAdapter, deltaFromAdapter, mergeIntoBase } from '../../src-main/weights/merge.ts';
import { maxAbsDiff, randomAdapter, randomBase } from './helpers.ts';

/** One layer, in 3 → out 2. */
const sizes = [3, 2];
const info = (alpha: number): AdapterInfo => ({ r: 1, alpha, scaling: alpha, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'lora', freezeA: false });
const tensors = (A: number[], B: number[]): NamedTensors => ({
  'linear1.lora_A': { shape: [1, 3], data: Float32Array.from(A) },
  'linear1.lora_B': { shape: [2, 1], data: Float32Array.from(B) },
});
// X: A = [1, −2, 3], B = [2, −1]ᵀ, s = 1 → ΔW_X = [[2, −4, 6], [−1, 2, −3]]
// Y: A = [−1, 1, 1], B = [1, 3]ᵀ, s = 2 → ΔW_Y = [[−2, 2, 2], [−6, 6, 6]]
const X = { info: info(1), tensors: tensors([1, -2, 3], [2, -1]), name: 'X' };
const Y = { info: info(2), tensors: tensors([-1, 1, 1], [1, 3]), name: 'Y' };
// Weights 1 and 2: w·s = 1 and 4, so the factor-wise methods weigh the factors by √(w·s) = 1 and 2.
const XY: WeightedAdapter[] = [
  { ...X, weight: 1 },
  { ...Y, weight: 2 },
];

const delta = (adapters: WeightedAdapter[], opts: MergeOptions) => Array.from(combineDeltas(sizes, adapters, opts)['linear1']!.data);
/** ΔW of the combination saved as an adapter. */
const adapterDelta = (adapters: WeightedAdapter[], opts: MergeOptions) => {
  const c = combineToAdapter(sizes, adapters, opts);
  return Array.from(deltaFromAdapter(c.info, c.tensors)['linear1']!.data);
};
const close = (got: number[], want: number[], tol = 1e-6) => {
  expect(got).toHaveLength(want.length);
  expect(maxAbsDiff(got, want), `${got} vs ${want}`).toBeLessThanOrEqual(tol);
};

describe('exact methods', () => {
  // 1·ΔW_X + 2·ΔW_Y = [[2−4, −4+4, 6+4], [−1−12, 2+12, −3+12]] = [[−2, 0, 10], [−13, 14, 9]]
  const LINEAR = [-2, 0, 10, -13, 14, 9];

  it('linear: the weighted sum of the ΔW (into the base and as an adapter)', () => {
    expect(delta(XY, { method: 'linear' })).toEqual(LINEAR);
    close(adapterDelta(XY, { method: 'linear' }), LINEAR, 0);
  });

  it('cat: A stacked, B = [w·s·B_i] side by side, rank 2', () => {
    const c = combineToAdapter(sizes, XY, { method: 'cat' });
    expect(c.info).toMatchObject({ r: 2, alpha: 2, scaling: 1, variant: 'lora' });
    expect(Array.from(c.tensors['linear1.lora_A']!.data)).toEqual([1, -2, 3, -1, 1, 1]);
    // B rows: [1·1·2, 2·2·1] and [1·1·(−1), 2·2·3]
    expect(Array.from(c.tensors['linear1.lora_B']!.data)).toEqual([2, 4, -1, 12]);
    expect(delta(XY, { method: 'cat' })).toEqual(LINEAR);
  });

  it('svd: at rank 2 (= Σ r) the sum itself; at the default rank 1, rank one', () => {
    close(delta(XY, { method: 'svd', rank: 2 }), LINEAR, 1e-5);
    const c = combineToAdapter(sizes, XY, { method: 'svd' });
    expect(c.info.r).toBe(1);
    // A rank-1 [2, 3] matrix: its rows are parallel.
    const [a, b, c0, d, e, f] = adapterDelta(XY, { method: 'svd' }) as [number, number, number, number, number, number];
    expect(Math.abs(a * e - b * d) + Math.abs(b * f - c0 * e)).toBeLessThan(1e-4);
  });
});

describe('factor-wise methods (PEFT: the A’s and the B’s are the task tensors)', () => {
  it('ties, total: A’ = [1, −2, 2.5], B’ = [2, 6]', () => {
    // A side: τ = [1, −2, 3] and [−1, 1, 1], weights 1 and 2. Σ τ = [0, −1, 4] → signs [+, −, +].
    //   entry 0: only X agrees → 1; entry 1: only X → −2; entry 2: both → (3 + 2·1)/2 = 2.5
    // B side: τ = [2, −1] and [1, 3], weights 1 and 2. Σ τ = [3, 2] → [+, +].
    //   entry 0: both → (2 + 2·1)/2 = 2; entry 1: only Y → 2·3 = 6
    // ΔW = B’·A’ = [[2, −4, 5], [6, −12, 15]]
    const c = combineToAdapter(sizes, XY, { method: 'ties', density: 1 });
    expect(c.info).toMatchObject({ r: 1, alpha: 1, scaling: 1 });
    expect(Array.from(c.tensors['linear1.lora_A']!.data)).toEqual([1, -2, 2.5]);
    expect(Array.from(c.tensors['linear1.lora_B']!.data)).toEqual([2, 6]);
    expect(delta(XY, { method: 'ties', density: 1 })).toEqual([2, -4, 5, 6, -12, 15]);
    expect(delta(XY, { method: 'ties', density: 1, majoritySign: 'total' })).toEqual([2, -4, 5, 6, -12, 15]);
  });

  it('ties, frequency: the sign most values have', () => {
    // A side: signs [+, −, +] and [−, +, +] → Σ sign = [0, 0, 2] → [+, +, +].
    //   entry 1 is now Y’s: 2·1 = 2, so A’ = [1, 2, 2.5]. B side: Σ sign = [2, 0] → [+, +]: B’ = [2, 6].
    expect(delta(XY, { method: 'ties', density: 1, majoritySign: 'frequency' })).toEqual([2, 4, 5, 6, 12, 15]);
  });

  it('ties at density 0.7: keep floor(0.7·n) largest per factor first', () => {
    // A (n = 3, keep 2): X → [0, −2, 3]; Y (all |1|, kept in index order) → [−1, 1, 0].
    //   Σ = [−1, −1, 3] → [−, −, +]: entry 0 → 2·(−1) = −2, entry 1 → −2, entry 2 → 3.  A’ = [−2, −2, 3]
    // B (n = 2, keep 1): X → [2, 0]; Y → [0, 3]. Σ = [2, 3] → [+, +]: B’ = [2, 2·3] = [2, 6]
    expect(delta(XY, { method: 'ties', density: 0.7 })).toEqual([-4, -4, 6, -12, -12, 18]);
  });

  it('magnitude_prune at density 0.7: the pruned factors summed', () => {
    // A’ = [0, −2, 3] + 2·[−1, 1, 0] = [−2, 0, 3]; B’ = [2, 0] + 2·[0, 3] = [2, 6]
    expect(delta(XY, { method: 'magnitude_prune', density: 0.7 })).toEqual([-4, 0, 6, -12, 0, 18]);
  });

  it('dare_linear at density 1 is PEFT’s factor mixing, cross terms included; density 0 prunes everything', () => {
    // A’ = [1, −2, 3] + 2·[−1, 1, 1] = [−1, 0, 5]; B’ = [2, −1] + 2·[1, 3] = [4, 5]
    // ΔW = [[−4, 0, 20], [−5, 0, 25]]: not the weighted sum [[−2, 0, 10], [−13, 14, 9]].
    expect(delta(XY, { method: 'dare_linear', density: 1 })).toEqual([-4, 0, 20, -5, 0, 25]);
    expect(delta(XY, { method: 'dare_linear', density: 0 })).toEqual([0, 0, 0, 0, 0, 0]);
    expect(delta(XY, { method: 'magnitude_prune', density: 0 })).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('dare_ties at density 1 is ties', () => {
    expect(delta(XY, { method: 'dare_ties', density: 1 })).toEqual([2, -4, 5, 6, -12, 15]);
    expect(delta(XY, { method: 'dare_ties', density: 1, majoritySign: 'frequency' })).toEqual([2, 4, 5, 6, 12, 15]);
  });

  it('dare_linear: each factor value is a rescaled sum of a subset; over many seeds the mean is the unpruned one', () => {
    const d = 0.5;
    const ax = [1, -2, 3];
    const ay = [-1, 1, 1];
    for (let seed = 0; seed < 200; seed++) {
      const A = Array.from(combineToAdapter(sizes, XY, { method: 'dare_linear', density: d, seed }).tensors['linear1.lora_A']!.data);
      // Entry p of A’ is (keep_X·1·A_X[p] + keep_Y·2·A_Y[p]) / 0.5 for some keep_X, keep_Y ∈ {0, 1}.
      A.forEach((v, p) => expect([0, ax[p]! / d, (2 * ay[p]!) / d, (ax[p]! + 2 * ay[p]!) / d]).toContain(v));
    }
    const n = 20_000;
    const mean = new Float64Array(6);
    for (let seed = 0; seed < n; seed++) delta(XY, { method: 'dare_linear', density: d, seed }).forEach((v, i) => (mean[i] = mean[i]! + v / n));
    // Independent masks: E[B’·A’] = E[B’]·E[A’] = the density-1 result [[−4, 0, 20], [−5, 0, 25]]
    // (the largest entry’s standard deviation is about 42, so about 0.3 for the mean of 20,000).
    close(Array.from(mean), [-4, 0, 20, -5, 0, 25], 1.2);
    // A seed reproduces the masks; another seed draws others.
    expect(delta(XY, { method: 'dare_ties', density: 0.5, seed: 7 })).toEqual(delta(XY, { method: 'dare_ties', density: 0.5, seed: 7 }));
  });

  it('one adapter alone comes back as w·s·B·A, negative weights included', () => {
    // X at weight −1: A’ = sign(−1)·√1·A = −A, B’ = √1·B → ΔW = −ΔW_X
    for (const method of ['ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const) {
      expect(delta([{ ...X, weight: -1 }], { method, density: 1 }), method).toEqual([-2, 4, -6, 1, -2, 3]);
      // Y at weight −0.5: w·s = −1 → −ΔW_Y / 2
      close(delta([{ ...Y, weight: -0.5 }], { method, density: 1 }), [1, -1, -1, 3, -3, -3]);
    }
  });

  it('ties with a negative weight: the election ignores weights, the weighted values keep their sign', () => {
    // X weight 1 (w·s = 1), Y weight −2 (w·s = −4): A weights 1 and −2, B weights 1 and 2.
    // A side: signs elected from the unweighted τ as before, [+, −, +]: entry 2 = (3 + (−2)·1)/2 = 0.5 → A’ = [1, −2, 0.5]
    // B side unchanged: B’ = [2, 6]. ΔW = [[2, −4, 1], [6, −12, 3]]
    expect(delta([{ ...X, weight: 1 }, { ...Y, weight: -2 }], { method: 'ties', density: 1 })).toEqual([2, -4, 1, 6, -12, 3]);
  });
});

describe('the _svd methods (full ΔW, weights w)', () => {
  it('ties_svd, total and frequency', () => {
    // τ_X = [[2, −4, 6], [−1, 2, −3]], τ_Y = [[−2, 2, 2], [−6, 6, 6]], weights 1 and 2.
    // total: Σ τ = [[0, −2, 8], [−7, 8, 3]] → [[+, −, +], [−, +, +]]
    //   (0,0) X: 2; (0,1) X: −4; (0,2) (6 + 4)/2 = 5; (1,0) (−1 − 12)/2 = −6.5; (1,1) (2 + 12)/2 = 7; (1,2) Y: 12
    expect(delta(XY, { method: 'ties_svd', density: 1 })).toEqual([2, -4, 5, -6.5, 7, 12]);
    // frequency: Σ sign = [[0, 0, 2], [−2, 2, 0]] → [[+, +, +], [−, +, +]]: (0,1) is Y’s 2·2 = 4
    expect(delta(XY, { method: 'ties_svd', density: 1, majoritySign: 'frequency' })).toEqual([2, 4, 5, -6.5, 7, 12]);
    expect(delta(XY, { method: 'dare_ties_svd', density: 1, majoritySign: 'frequency' })).toEqual([2, 4, 5, -6.5, 7, 12]);
  });

  it('magnitude_prune_svd at density 0.5 keeps the 3 largest of each ΔW', () => {
    // τ_X → [[0, −4, 6], [0, 0, −3]]; τ_Y → [[0, 0, 0], [−6, 6, 6]]; τ_X + 2·τ_Y = [[0, −4, 6], [−12, 12, 9]]
    expect(delta(XY, { method: 'magnitude_prune_svd', density: 0.5 })).toEqual([0, -4, 6, -12, 12, 9]);
  });

  it('dare_linear_svd at density 1 is linear; as adapters the _svd methods are rank k (here exact at k = 2)', () => {
    expect(delta(XY, { method: 'dare_linear_svd', density: 1 })).toEqual([-2, 0, 10, -13, 14, 9]);
    close(adapterDelta(XY, { method: 'ties_svd', density: 1, rank: 2 }), [2, -4, 5, -6.5, 7, 12], 1e-5);
    close(adapterDelta(XY, { method: 'magnitude_prune_svd', density: 0.5, rank: 2 }), [0, -4, 6, -12, 12, 9], 1e-5);
    expect(combineToAdapter(sizes, XY, { method: 'dare_ties_svd', density: 0.5 }).info.r).toBe(1);
  });
});

describe('task negation', () => {
  const big = [40, 30, 20];
  const base = randomBase(big, 5);
  const a = randomAdapter(big, { r: 2, alpha: 4 }, 6);

  it('base + adapter, then the adapter at weight −1: the base again, by every method (density 1)', () => {
    const plus = mergeIntoBase(base, combineDeltas(big, [{ ...a, weight: 1 }], { method: 'linear' }));
    for (const method of MERGE_METHODS) {
      const minus = mergeIntoBase(plus, combineDeltas(big, [{ ...a, weight: -1 }], { method, density: 1, rank: 2 }));
      for (const k of Object.keys(base)) expect(maxAbsDiff(minus[k]!.data, base[k]!.data), `${method} ${k}`).toBeLessThanOrEqual(2e-6);
    }
  });
});

describe('refusals, with the reason', () => {
  const refuseBoth = (adapters: WeightedAdapter[], opts: MergeOptions, message: RegExp) => {
    expect(() => combineDeltas(sizes, adapters, opts)).toThrow(MergeError);
    expect(() => combineDeltas(sizes, adapters, opts)).toThrow(message);
    expect(() => combineToAdapter(sizes, adapters, opts)).toThrow(message);
  };
  const R2 = { info: { ...info(2), r: 2 }, tensors: { 'linear1.lora_A': { shape: [2, 3], data: new Float32Array(6).fill(1) }, 'linear1.lora_B': { shape: [2, 2], data: new Float32Array(4).fill(1) } }, name: 'R2' };

  it('factor-wise methods need one rank, and name the _svd form', () => {
    for (const method of ['ties', 'dare_linear', 'dare_ties', 'magnitude_prune'] as const) {
      refuseBoth(
        [{ ...X, weight: 1 }, { ...R2, weight: 1 }],
        { method, density: 0.5 },
        new RegExp(`${method} combines the adapters' A's and B's separately \\(as PEFT\\), which needs one rank, but adapter "X" has r 1, adapter "R2" has r 2: use ${method}_svd`),
      );
      // The _svd form takes them.
      expect(() => combineToAdapter(sizes, [{ ...X, weight: 1 }, { ...R2, weight: 1 }], { method: `${method}_svd`, density: 0.5 })).not.toThrow();
    }
    refuseBoth(XY, { method: 'ties', density: 0.5, rank: 2 }, /ties keeps the adapters' rank r = 1, so rank 2 cannot apply: use ties_svd/);
    expect(() => combineToAdapter(sizes, XY, { method: 'ties', density: 0.5, rank: 1 })).not.toThrow();
  });

  it('density outside [0, 1] or missing, an unknown sign method', () => {
    refuseBoth(XY, { method: 'dare_ties', density: 1.01 }, /dare_ties needs a density in \[0, 1\] \(the fraction of values kept; 0 prunes everything\), got 1.01/);
    refuseBoth(XY, { method: 'magnitude_prune_svd', density: -1 }, /magnitude_prune_svd needs a density in \[0, 1\].*got -1/);
    refuseBoth(XY, { method: 'dare_linear_svd' }, /dare_linear_svd needs a density in \[0, 1\].*got undefined/);
    refuseBoth(XY, { method: 'ties_svd', density: 0.5, majoritySign: 'sum' as 'total' }, /the majority sign method is total or frequency, got "sum"/);
    // linear, cat and svd read no density.
    expect(() => combineDeltas(sizes, XY, { method: 'svd', density: 7 })).not.toThrow();
  });
});
