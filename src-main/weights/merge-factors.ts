/**
 * The factor-wise methods, as PEFT's `add_weighted_adapter` does them for `ties`,
 * `dare_linear`, `dare_ties` and `magnitude_prune`: the A's of the adapters are one list
 * of task tensors and the B's another, each combined by the method (task-vectors.ts)
 * into the new A [r, in] and B [out, r]; scaling 1. That needs one rank r for every
 * adapter (merge.ts refuses others, naming the _svd form, which takes any ranks).
 *
 * Weights: PEFT gives each factor √(w_i·s_i), so that a single adapter alone comes back
 * as w·s·B·A; the square root of a negative weight is not real (PEFT fails there).
 * LoRA Lab gives A sign(w_i·s_i)·√|w_i·s_i| and B √|w_i·s_i|: the same for positive
 * weights, and a negative weight (task negation) then gives one adapter alone exactly
 * w·s·B·A too. (With several adapters the product B·A has cross terms B_i·A_j, as in PEFT:
 * these methods are not a weighted sum of ΔW's.)
 *
 * Masks (dare_*): the (adapter, layer) stream merge.ts hands in forks one stream for A
 * and one for B.
 */
import { layerNames } from '../contract/config.ts';
import type { NamedTensors } from '../contract/named.ts';
import type { Rng } from '../util/rng.ts';
import { type Matrix, matrix } from './linalg.ts';
import type { MergeOptions, WeightedAdapter } from './merge.ts';
import { type Combination, combineTasks } from './task-vectors.ts';

const get = (t: NamedTensors, name: string) => (t[name] as { data: Float32Array }).data;

/** The combined A and B of every layer some adapter targets, in base order. */
export function factorWiseFactors(
  sizes: readonly number[],
  adapters: readonly WeightedAdapter[],
  opts: MergeOptions,
  streams: readonly (readonly Rng[])[],
): Map<string, { A: Matrix; B: Matrix }> {
  const how = opts.method as Combination;
  const layers = layerNames(sizes);
  const out = new Map<string, { A: Matrix; B: Matrix }>();
  layers.forEach((layer, j) => {
    const idx = adapters.map((_, i) => i).filter((i) => adapters[i]!.info.targets.includes(layer));
    if (idx.length === 0) return;
    const r = adapters[idx[0]!]!.info.r;
    const inF = sizes[j] as number;
    const outF = sizes[j + 1] as number;
    const ws = idx.map((i) => adapters[i]!.weight * adapters[i]!.info.scaling);
    const forA = ws.map((x) => Math.sign(x) * Math.sqrt(Math.abs(x)));
    const forB = ws.map((x) => Math.sqrt(Math.abs(x)));
    const pairs = idx.map((i) => {
      const s = streams[i]![j]!;
      return { a: s.fork(), b: s.fork() };
    });
    const common = { ...(opts.density !== undefined ? { density: opts.density } : {}), ...(opts.majoritySign ? { majoritySign: opts.majoritySign } : {}) };
    const A = combineTasks(how, idx.map((i) => Float64Array.from(get(adapters[i]!.tensors, `${layer}.lora_A`))), forA, { ...common, rngs: pairs.map((p) => p.a) });
    const B = combineTasks(how, idx.map((i) => Float64Array.from(get(adapters[i]!.tensors, `${layer}.lora_B`))), forB, { ...common, rngs: pairs.map((p) => p.b) });
    out.set(layer, { A: matrix(r, inF, A), B: matrix(outF, r, B) });
  });
  return out;
}
