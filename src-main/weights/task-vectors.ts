/**
 * Merging "task tensors" τ_i of equal length (flattened: an adapter's ΔW of one layer,
 * or one of its factor matrices A or B) with weights w_i, as PEFT's merge_utils does:
 *
 * - prune, magnitude: keep the floor(density·n) largest |τ| (trimToDensity).
 * - prune, random (DARE, Yu et al. 2024): keep each entry with probability `density`,
 *   divide the survivors by it so the expectation is unchanged. The mask comes from
 *   LoRA Lab's seeded Rng, so a seed reproduces it; PEFT draws with torch.bernoulli, so
 *   the masks (not their statistics) differ from PEFT's.
 * - majority sign per entry: `total` = sign of Σ_i τ_i, `frequency` = sign of
 *   Σ_i sign(τ_i); zero counts as + (PEFT: `>= 0 → +1`). Elected from the pruned,
 *   unweighted τ_i.
 * - disjoint merge: Σ_i w_i·τ_i over the i whose sign(τ_i) is the elected sign (a zero
 *   never agrees), divided by how many agree (at least 1).
 *
 * Methods: task_arithmetic Σ w_i·τ_i; magnitude_prune = magnitude prune, then Σ;
 * ties (Yadav et al. 2023) = magnitude prune, elect, disjoint merge; dare_linear =
 * random prune, then Σ; dare_ties = random prune, elect, disjoint merge.
 *
 * density ≥ 1 prunes nothing (and does not rescale), as PEFT; density 0 prunes
 * everything, so the result is 0 (PEFT's random pruning would divide 0 by 0 there).
 * Every function here leaves its inputs untouched.
 */
import type { MajoritySignMethod as MajoritySign } from '../contract/api.ts';
import type { Rng } from '../util/rng.ts';

/** How the task tensors combine: PEFT's merge_utils function names. */
export type Combination = 'task_arithmetic' | 'magnitude_prune' | 'ties' | 'dare_linear' | 'dare_ties';

export interface CombineOptions {
  /** Fraction kept by pruning, in [0, 1] (every combination but task_arithmetic). */
  density?: number;
  /** ties and dare_ties (default `total`, as PEFT). */
  majoritySign?: MajoritySign;
  /** dare_*: one stream per task tensor, drawn entry by entry in order. */
  rngs?: readonly Rng[];
}

/**
 * Keep the `floor(density·n)` largest-magnitude entries of `tau`, zero the rest (in
 * place). Equal magnitudes at the threshold are kept in index order, so the result
 * never depends on sort stability (PEFT's torch.topk picks among ties unspecified).
 */
export function trimToDensity(tau: Float64Array, density: number): Float64Array {
  const n = tau.length;
  const keep = Math.floor(density * n);
  if (keep >= n) return tau;
  if (keep <= 0) return tau.fill(0);
  const mags = new Float64Array(n);
  for (let i = 0; i < n; i++) mags[i] = Math.abs(tau[i] as number);
  mags.sort(); // ascending, native numeric sort
  const threshold = mags[n - keep] as number;
  let above = 0;
  for (let i = 0; i < n; i++) if (Math.abs(tau[i] as number) > threshold) above++;
  let atThreshold = keep - above; // how many entries equal to the threshold still fit
  for (let i = 0; i < n; i++) {
    const m = Math.abs(tau[i] as number);
    if (m > threshold) continue;
    if (m === threshold && atThreshold > 0) atThreshold--;
    else tau[i] = 0;
  }
  return tau;
}

/**
 * DARE's random pruning into a new array: entry p survives when the next draw u in
 * [0, 1) is ≥ 1 − density (probability `density`), and is divided by `density`. (The
 * same draw as LoRA Lab's older `dare` with drop rate 1 − density, so its masks are
 * unchanged.)
 */
export function randomPrune(tau: Float64Array, density: number, rng: Rng): Float64Array {
  if (density >= 1) return Float64Array.from(tau);
  const out = new Float64Array(tau.length);
  if (density <= 0) return out;
  const drop = 1 - density;
  for (let p = 0; p < tau.length; p++) {
    const kept = rng.next() >= drop;
    if (kept) out[p] = (tau[p] as number) / density;
  }
  return out;
}

/** The elected sign (+1 or −1) of every entry. */
export function majoritySigns(tasks: readonly Float64Array[], method: MajoritySign): Int8Array {
  const n = tasks[0]?.length ?? 0;
  const out = new Int8Array(n);
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (const t of tasks) s += method === 'total' ? (t[p] as number) : Math.sign(t[p] as number);
    out[p] = s >= 0 ? 1 : -1;
  }
  return out;
}

/** Σ w_i·τ_i over the τ_i that agree with the elected sign, over how many agree (min 1). */
export function disjointMerge(tasks: readonly Float64Array[], weights: readonly number[], elected: Int8Array): Float64Array {
  const out = new Float64Array(elected.length);
  for (let p = 0; p < elected.length; p++) {
    let sum = 0;
    let agree = 0;
    for (let i = 0; i < tasks.length; i++) {
      const v = (tasks[i] as Float64Array)[p] as number;
      if (Math.sign(v) === elected[p]) {
        sum += (weights[i] as number) * v;
        agree++;
      }
    }
    out[p] = sum / Math.max(agree, 1);
  }
  return out;
}

/** Σ w_i·τ_i. */
export function taskArithmetic(tasks: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const out = new Float64Array(tasks[0]?.length ?? 0);
  tasks.forEach((t, i) => {
    const w = weights[i] as number;
    for (let p = 0; p < out.length; p++) out[p] = (out[p] as number) + w * (t[p] as number);
  });
  return out;
}

/** TIES: magnitude prune to `density`, elect signs, disjoint merge. */
export function tiesMerge(tasks: readonly Float64Array[], weights: readonly number[], density: number, majoritySign: MajoritySign = 'total'): Float64Array {
  const pruned = tasks.map((t) => trimToDensity(Float64Array.from(t), density));
  return disjointMerge(pruned, weights, majoritySigns(pruned, majoritySign));
}

/** DARE then linear: Σ_i w_i·randomPrune(τ_i), the mask of τ_i from `rngs[i]`. */
export function dareLinear(tasks: readonly Float64Array[], weights: readonly number[], density: number, rngs: readonly Rng[]): Float64Array {
  return taskArithmetic(tasks.map((t, i) => randomPrune(t, density, rngs[i] as Rng)), weights);
}

/** DARE then TIES' sign election and disjoint merge. */
export function dareTies(tasks: readonly Float64Array[], weights: readonly number[], density: number, majoritySign: MajoritySign, rngs: readonly Rng[]): Float64Array {
  const pruned = tasks.map((t, i) => randomPrune(t, density, rngs[i] as Rng));
  return disjointMerge(pruned, weights, majoritySigns(pruned, majoritySign));
}

/** Magnitude prune to `density`, then Σ w_i·τ_i. */
export function magnitudePrune(tasks: readonly Float64Array[], weights: readonly number[], density: number): Float64Array {
  return taskArithmetic(tasks.map((t) => trimToDensity(Float64Array.from(t), density)), weights);
}

/** One combination by name (the caller has checked the options it needs). */
export function combineTasks(how: Combination, tasks: readonly Float64Array[], weights: readonly number[], opts: CombineOptions): Float64Array {
  const density = opts.density ?? 1;
  const sign = opts.majoritySign ?? 'total';
  const rngs = () => {
    if (!opts.rngs || opts.rngs.length !== tasks.length) throw new RangeError(`${how} needs one random stream per task tensor`);
    return opts.rngs;
  };
  switch (how) {
    case 'task_arithmetic':
      return taskArithmetic(tasks, weights);
    case 'magnitude_prune':
      return magnitudePrune(tasks, weights, density);
    case 'ties':
      return tiesMerge(tasks, weights, density, sign);
    case 'dare_linear':
      return dareLinear(tasks, weights, density, rngs());
    case 'dare_ties':
      return dareTies(tasks, weights, density, sign, rngs());
  }
}
