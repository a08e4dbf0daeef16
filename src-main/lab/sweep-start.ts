/**
 * Where a sweep starts: the config every point is made from and the model its fine-tunes
 * start from, resolved from the spec's start (a stored model, the default base training,
 * or a run to clone) and checked against the store.
 */
import { LabError } from '../contract/api.ts';
import { type RunConfig, classicPreset, defaultConfig, isFineTune, layerNames } from '../contract/config.ts';
import { MNIST_DATASET_ID } from '../contract/dataset.ts';
import type { SweepSpec } from '../contract/sweep.ts';
import type { Store } from '../store/store.ts';

export interface SweepStart {
  config: RunConfig;
  baseModelId: number | null;
  /** Problems of the start itself (listed with the spec's other problems). */
  issues: string[];
}

export function resolveStart(store: Store, spec: SweepSpec): SweepStart {
  const issues: string[] = [];
  const start = spec.start;
  if (start.kind === 'finetune') {
    const model = store.models.find(start.baseModelId);
    if (!model) throw new LabError(`model ${start.baseModelId} does not exist`, 404);
    let config: RunConfig;
    if (spec.config) config = structuredClone(spec.config);
    else {
      // The classic fine-tune, on the model's own widths and data set.
      config = classicPreset('lora');
      config.sizes = [...model.sizes];
      config.data = model.datasetId ?? MNIST_DATASET_ID;
      config.lora = { ...(config.lora as NonNullable<RunConfig['lora']>), targets: layerNames(model.sizes) };
    }
    if (config.sizes.join() !== model.sizes.join()) issues.push(`config: model ${model.id} has layers ${model.sizes.join('→')}, the config asks for ${config.sizes.join('→')}`);
    return { config, baseModelId: model.id, issues };
  }
  if (start.kind === 'base') return { config: structuredClone(spec.config ?? defaultConfig('base')), baseModelId: null, issues };
  const run = store.runs.find(start.runId);
  if (!run) throw new LabError(`run ${start.runId} does not exist`, 404);
  const config = structuredClone(spec.config ?? run.config);
  if (isFineTune(config.kind)) {
    if (run.baseModelId === null || !store.models.find(run.baseModelId)) throw new LabError(`run ${run.id}'s base model is gone, so its fine-tune cannot be repeated`, 409);
    return { config, baseModelId: run.baseModelId, issues };
  }
  return { config, baseModelId: null, issues };
}
