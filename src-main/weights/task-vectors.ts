/**
 * Interference-aware merging of task vectors τ_i (here: each adapter's ΔW of one
 * layer, flattened), as PEFT's merge_utils does it:
 *
 * - TIES (Yadav et al. 2023): trim each τ_i to its top `density` fraction by
 *   magnitude, elect a sign per entry from the summed trimmed mass (sign(Σ_i τ̂_i),
 *   ties → +), then a disjoint mean: the weighted values that agree with the elected
 *   sign, divided by how many agree. Deterministic (no randomness).
 * - DARE (Yu et al. 2024): drop each entry with probability p, scale the survivors
 *   by 1/(1−p) so the expectation is unchanged, then the weighted sum (linear).
 */
import type { Rng } from '../util/rng.ts';

/**
 * Keep the `floor(density·n)` largest-magnitude entries of `tau`, zero the rest (in
 * place). Equal magnitudes at the threshold are kept in index order, so the result
 * never depends on sort stability.
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

/** TIES merge of task vectors of equal length; `tasks` are trimmed in place. */
export function tiesMerge(tasks: Float64Array[], weights: readonly number[], density: number): Float64Array {
  const n = tasks[0]?.length ?? 0;
  for (const t of tasks) trimToDensity(t, density);
  const out = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let mass = 0;
    for (const t of tasks) mass += t[p] as number;
    const elected = mass >= 0 ? 1 : -1;
    let sum = 0;
    let agree = 0;
    tasks.forEach((t, i) => {
      const v = t[p] as number;
      if (Math.sign(v) === elected) {
        sum += (weights[i] as number) * v;
        agree++;
      }
    });
    out[p] = agree > 0 ? sum / agree : 0;
  }
  return out;
}

/**
 * DARE then linear: Σ_i w_i · mask_i ⊙ τ_i / (1 − p), mask_i ~ Bernoulli(1 − p) drawn
 * from `rngs[i]` entry by entry in row-major order (so a seed reproduces the masks).
 * `tasks` are left untouched.
 */
export function dareMerge(tasks: readonly Float64Array[], weights: readonly number[], dropRate: number, rngs: readonly Rng[]): Float64Array {
  const n = tasks[0]?.length ?? 0;
  const out = new Float64Array(n);
  const rescale = 1 / (1 - dropRate);
  tasks.forEach((t, i) => {
    const w = weights[i] as number;
    const rng = rngs[i] as Rng;
    for (let p = 0; p < n; p++) {
      // next() is in [0, 1): with p = 0 nothing is ever dropped.
      const kept = rng.next() >= dropRate;
      if (kept) out[p] = (out[p] as number) + w * (t[p] as number) * rescale;
    }
  });
  return out;
}
