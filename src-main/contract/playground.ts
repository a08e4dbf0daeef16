/**
 * What the playground (issue 16) needs to run a model in the page: the weights of a
 * model or of an adapter with its base, and how the trainer turns a sample into the
 * network's input (the data set's normalisation), so the page's forward pass is the
 * trainer's. Plain float32 tensors in PyTorch orientation (contract/named.ts).
 */
import * as v from 'valibot';
import type { DatasetKind } from './dataset.ts';
import type { NamedTensors } from './named.ts';
import type { AdapterInfo } from './protocol.ts';

export const weightsRequestSchema = v.strictObject({
  kind: v.picklist(['model', 'adapter']),
  id: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)),
});
export type WeightsRequest = v.InferOutput<typeof weightsRequestSchema>;

/** Models above this many weights are refused: the page would hold them twice (≈ 512 MB). */
export const MAX_PAGE_WEIGHTS = 64 * 2 ** 20;

export interface InputMapping {
  datasetId: number;
  kind: DatasetKind;
  /** [height, width, channels] for images. */
  shape: number[];
  classes: string[];
  /**
   * Input value p = sample[p] / (255 for images, else 1) − mean[g], divided by std[g],
   * with g = p mod mean.length (one pair per channel, or per feature).
   */
  mean: number[];
  std: number[];
}

export interface WeightsView {
  kind: 'model' | 'adapter';
  id: number;
  name: string;
  /** Layer widths, input first. */
  sizes: number[];
  /** A model's weights, or an adapter's factors (lora_A, lora_B, DoRA's magnitude). */
  tensors: NamedTensors;
  /** For an adapter: its settings and the model it applies to. */
  adapter: { info: AdapterInfo; baseModelId: number } | null;
  /** The data set the model maps to classes, as the trainer feeds it; null when unknown. */
  input: InputMapping | null;
}
