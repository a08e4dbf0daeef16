/**
 * DoRA adapters in merges. A DoRA adapter's weight is W' = m ⊙ (W0 + s·B·A) /
 * ‖W0 + s·B·A‖ (norm per output row; src-main/adapters/delta.ts): its magnitude m
 * rescales whole rows of the adapted weight, so a DoRA result is no ΔW that adds to
 * another adapter's or scales with a weight (half of it is not half the change; minus
 * it does not undo it). It therefore merges into its base only alone, at weight 1, as
 * itself (method linear or cat), where W' replaces W0; everything else is refused with
 * that reason, as is combining it into a new adapter (there is no LoRA adapter whose
 * B·A equals W' − W0 at rank r, and no DoRA one made of several).
 */
import { adaptedWeight } from '../adapters/delta.ts';
import { hostOps } from '../adapters/ops.ts';
import type { MergeMethod } from '../contract/api.ts';
import type { NamedTensors } from '../contract/named.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { matrix } from './linalg.ts';
import { MergeError } from './merge-error.ts';
import type { LayerDeltas, WeightedAdapter } from './merge.ts';

/** `<layer>.lora_magnitude_vector` [out]: DoRA's m, as PEFT names it. */
export const MAGNITUDE = 'lora_magnitude_vector';

export const isDora = (info: AdapterInfo): boolean => info.variant === 'dora';

const WHY = "DoRA's magnitude rescales whole rows of W0 + ΔW, so DoRA results do not add or scale like ΔW's";

/** Refuse every use of a DoRA adapter but merging it alone, at weight 1, as itself, into its base. */
export function checkDoraUse(adapters: readonly WeightedAdapter[], labels: readonly string[], method: MergeMethod, output: 'model' | 'adapter', base: NamedTensors | null): void {
  const i = adapters.findIndex((a) => isDora(a.info));
  if (i < 0) return;
  const label = labels[i] as string;
  const a = adapters[i] as WeightedAdapter;
  if (output === 'adapter') {
    throw new MergeError(`${label} is a DoRA adapter, which no method combines into a new adapter: ${WHY}. Merge it into its base alone (weight 1), or export it as a PEFT adapter`);
  }
  if (adapters.length > 1) {
    throw new MergeError(`${label} is a DoRA adapter, which merges into its base only alone: ${WHY}, so it cannot be combined with other adapters`);
  }
  if (a.weight !== 1) {
    throw new MergeError(`${label} is a DoRA adapter, which merges only with weight 1, got ${a.weight}: ${WHY} (a negative weight does not undo it)`);
  }
  if (method !== 'linear' && method !== 'cat') {
    throw new MergeError(`${label} is a DoRA adapter, which merges as itself (method linear or cat): ${method} would change its ΔW before the magnitude rescales the rows, which DoRA does not define`);
  }
  if (!base) throw new MergeError(`${label} is a DoRA adapter: merging it needs the base weights`);
}

/**
 * W' − W0 per target layer, in float64 (so that mergeIntoBase's W0 + (W' − W0) is
 * rounded to float32 once), with W' from adaptedWeight.
 */
export function doraDeltas(adapter: Pick<WeightedAdapter, 'info' | 'tensors'>, base: NamedTensors, label: string): LayerDeltas {
  const out: LayerDeltas = {};
  for (const layer of adapter.info.targets) {
    const w0 = base[`${layer}.weight`];
    if (!w0) throw new MergeError(`the base has no ${layer}.weight to merge ${label} into`);
    const [outF, inF] = w0.shape as [number, number];
    const a = adapter.tensors[`${layer}.lora_A`]!;
    const b = adapter.tensors[`${layer}.lora_B`]!;
    const m = adapter.tensors[`${layer}.${MAGNITUDE}`]!;
    const r = a.shape[0] as number;
    if (b.shape[0] !== outF || a.shape[1] !== inF) throw new MergeError(`${label}: ${layer} is [${b.shape[0]}, ${a.shape[1]}], the base weight is [${w0.shape}]`);
    const W0 = matrix(outF, inF, w0.data);
    const W1 = adaptedWeight(hostOps, W0, { A: matrix(r, inF, a.data), B: matrix(outF, r, b.data) }, adapter.info.scaling, matrix(outF, 1, m.data));
    const d = W1.data;
    const badRows = new Set<number>();
    for (let p = 0; p < d.length; p++) {
      const x = (d[p] as number) - (W0.data[p] as number);
      if (x - x !== 0) badRows.add(Math.floor(p / inF));
      d[p] = x;
    }
    if (badRows.size > 0) {
      throw new MergeError(
        `${label}: DoRA divides each row of ${layer}'s W0 + ΔW by its norm, and ${badRows.size.toLocaleString('en-US')} of ${outF.toLocaleString('en-US')} rows give no finite result (a zero row, or values too large)`,
      );
    }
    out[layer] = { shape: [outF, inF], data: d };
  }
  return out;
}
