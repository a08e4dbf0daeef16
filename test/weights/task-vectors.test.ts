/** PEFT's merge_utils as task-vectors.ts has them: pruning, sign election, disjoint merge. */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src-main/util/rng.ts';
import {
  combineTasks,
  dareLinear,
  dareTies,
  disjointMerge,
  magnitudePrune,
  majoritySigns,
  randomPrune,
  taskArithmetic,
  tiesMerge,
  trimToDensity,
} from '../../src-main/weights/task-vectors.ts';

const f = (...x: number[]) => Float64Array.from(x);

describe('pruning', () => {
  it('magnitude: floor(density·n) largest kept; density ≥ 1 keeps all, 0 none', () => {
    expect(Array.from(trimToDensity(f(3, -1, 0.5, 2), 0.5))).toEqual([3, 0, 0, 2]);
    expect(Array.from(trimToDensity(f(3, -1, 0.5, 2), 0.74))).toEqual([3, 0, 0, 2]); // floor(2.96) = 2
    expect(Array.from(trimToDensity(f(3, -1, 0.5, 2), 0.75))).toEqual([3, -1, 0, 2]);
    expect(Array.from(trimToDensity(f(3, -1), 1))).toEqual([3, -1]);
    expect(Array.from(trimToDensity(f(3, -1), 0))).toEqual([0, 0]);
  });

  it('random: survivors divided by density; density 1 unchanged, 0 all zero (no 0/0)', () => {
    const tau = f(1, -2, 3, -4, 5, -6, 7, -8);
    const out = randomPrune(tau, 0.25, new Rng(1));
    out.forEach((v, i) => expect([0, tau[i]! / 0.25]).toContain(v));
    expect(Array.from(tau)).toEqual([1, -2, 3, -4, 5, -6, 7, -8]); // inputs untouched
    expect(Array.from(randomPrune(tau, 1, new Rng(1)))).toEqual(Array.from(tau));
    expect(Array.from(randomPrune(tau, 0, new Rng(1)))).toEqual(new Array(8).fill(0));
  });

  it('random: the mask of density 1 − p is the older `dare` mask of drop rate p (u ≥ p keeps), so old previews recompute', () => {
    const tau = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    for (const p of [0.1, 0.5, 0.9]) {
      const old = new Rng(42);
      const want = Array.from(tau, (t) => (old.next() >= p ? t / (1 - p) : 0));
      const got = randomPrune(tau, Number((1 - p).toPrecision(15)), new Rng(42));
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-12 * Math.abs(want[i]!)));
    }
  });
});

describe('sign election and disjoint merge', () => {
  // τ_1 = [2, −1, 0, 1], τ_2 = [−3, −1, 0, 1], τ_3 = [2, 4, 0, −5]
  const tasks = [f(2, -1, 0, 1), f(-3, -1, 0, 1), f(2, 4, 0, -5)];

  it('total: sign of the sum; frequency: sign of the count of signs; 0 → +', () => {
    // sums [1, 2, 0, −3] → [+, +, +, −]
    expect(Array.from(majoritySigns(tasks, 'total'))).toEqual([1, 1, 1, -1]);
    // sign counts [1, −1, 0, 1] → [+, −, +, +]
    expect(Array.from(majoritySigns(tasks, 'frequency'))).toEqual([1, -1, 1, 1]);
  });

  it('disjoint merge: weighted values agreeing with the elected sign over how many agree (zero never agrees, min 1)', () => {
    const w = [1, 2, 0.5];
    // total [+, +, +, −]: [(2 + 1)/2, 0.5·4/1, 0/1, 0.5·(−5)/1] = [1.5, 2, 0, −2.5]
    expect(Array.from(disjointMerge(tasks, w, majoritySigns(tasks, 'total')))).toEqual([1.5, 2, 0, -2.5]);
    // frequency [+, −, +, +]: [1.5, (−1 − 2)/2, 0, (1 + 2)/2] = [1.5, −1.5, 0, 1.5]
    expect(Array.from(disjointMerge(tasks, w, majoritySigns(tasks, 'frequency')))).toEqual([1.5, -1.5, 0, 1.5]);
    expect(Array.from(tiesMerge(tasks, w, 1, 'frequency'))).toEqual([1.5, -1.5, 0, 1.5]);
    expect(Array.from(dareTies(tasks, w, 1, 'total', [new Rng(0), new Rng(1), new Rng(2)]))).toEqual([1.5, 2, 0, -2.5]);
  });

  it('ties elects from the pruned, unweighted values', () => {
    // density 0.5 (keep 2 of 4): τ_1 → [2, −1, 0, 0] (the |1| at index 1 before the one at 3),
    // τ_2 → [−3, −1, 0, 0] (likewise), τ_3 → [0, 4, 0, −5]
    // total: sums [−1, 2, 0, −5] → [−, +, +, −]; weights [1, 2, 0.5]:
    //   [2·(−3)/1, 0.5·4/1, 0, 0.5·(−5)/1] = [−6, 2, 0, −2.5]
    expect(Array.from(tiesMerge(tasks, [1, 2, 0.5], 0.5))).toEqual([-6, 2, 0, -2.5]);
    // Heavier weights do not change the election: still [−, +, +, −].
    expect(Array.from(tiesMerge(tasks, [100, 2, 0.5], 0.5))).toEqual([-6, 2, 0, -2.5]);
  });
});

describe('linear combinations', () => {
  it('task arithmetic, magnitude prune, dare linear at density 1; combineTasks dispatches by name', () => {
    const tasks = [f(1, -2), f(3, 4)];
    expect(Array.from(taskArithmetic(tasks, [2, -1]))).toEqual([-1, -8]);
    expect(Array.from(magnitudePrune(tasks, [2, -1], 0.5))).toEqual([0, -8]); // 2·[0, −2] − [0, 4]
    expect(Array.from(dareLinear(tasks, [2, -1], 1, [new Rng(0), new Rng(0)]))).toEqual([-1, -8]);
    expect(Array.from(combineTasks('magnitude_prune', tasks, [2, -1], { density: 0.5 }))).toEqual([0, -8]);
    expect(() => combineTasks('dare_linear', tasks, [2, -1], { density: 0.5 })).toThrow(/one random stream per task tensor/);
  });
});
