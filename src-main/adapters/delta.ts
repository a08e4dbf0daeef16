/**
 * What an adapter does to a weight, written once (PEFT's `get_delta_weight` and its
 * DoRA variant), over MatOps so the trainer (TF.js) and the host (float64: merge,
 * export, checks) run the same formulas. Orientation as PyTorch: W0 [out, in],
 * A [r, in], B [out, r], m [out].
 *
 *   LoRA:  W' = W0 + ΔW,                 ΔW = s·B·A
 *   DoRA:  W' = m ⊙ (W0 + ΔW) / ‖W0 + ΔW‖  (norm per output row, over the input dimension)
 *
 * Merging folds W' into the base; unmerging needs what DoRA's merge took away, the
 * per-row factor m / ‖W0 + ΔW‖, which doraMerge returns (PEFT caches the norm too).
 */
import type { MatOps } from './ops.ts';

export interface Factors<M> {
  A: M; // [r, in]
  B: M; // [out, r]
}

/** ΔW = s·B·A [out, in]: the one source of every adapter's weight change. */
export function deltaWeight<M>(ops: MatOps<M>, f: Factors<M>, scaling: number): M {
  return ops.scale(ops.matMul(f.B, f.A), scaling); // [out, in]
}

/** ‖W0 + ΔW‖ per output row [out]: the norm DoRA divides by (and its initial magnitude). */
export function doraNorm<M>(ops: MatOps<M>, W0: M, delta: M): M {
  return ops.rowNorms(ops.add(W0, delta)); // [out]
}

/** The adapted weight of a layer: W0 + ΔW, or DoRA's m ⊙ (W0 + ΔW) / ‖W0 + ΔW‖. */
export function adaptedWeight<M>(ops: MatOps<M>, W0: M, f: Factors<M>, scaling: number, magnitude: M | null): M {
  if (magnitude !== null) return doraMerge(ops, W0, f, scaling, magnitude).weight;
  return ops.add(W0, deltaWeight(ops, f, scaling)); // [out, in]
}

/** DoRA's merge: W' and the per-row factor c = m / ‖W0 + ΔW‖ that unmerging divides out. */
export function doraMerge<M>(ops: MatOps<M>, W0: M, f: Factors<M>, scaling: number, magnitude: M): { weight: M; factor: M } {
  const adapted = ops.add(W0, deltaWeight(ops, f, scaling)); // [out, in]
  const factor = ops.div(magnitude, ops.rowNorms(adapted)); // [out]
  return { weight: ops.scaleRows(adapted, factor), factor };
}

/** DoRA's unmerge: W0 = W' / c − ΔW, with c the factor doraMerge returned. */
export function doraUnmerge<M>(ops: MatOps<M>, merged: M, f: Factors<M>, scaling: number, factor: M): M {
  return ops.add(ops.divRows(merged, factor), deltaWeight(ops, f, -scaling)); // [out, in]
}
