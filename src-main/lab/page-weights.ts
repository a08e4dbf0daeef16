/**
 * LabApi.getWeights: a model's weights, or an adapter's factors with its base's
 * widths, and the input mapping of the data set they map to classes — what the
 * playground needs to run the network in the page as the trainer does.
 */
import { LabError } from '../contract/api.ts';
import type { NamedTensors } from '../contract/named.ts';
import { MAX_PAGE_WEIGHTS, type WeightsRequest, type WeightsView } from '../contract/playground.ts';
import type { Store } from '../store/store.ts';
import { describeNonFinite, nonFiniteTensors } from '../weights/finite.ts';

/** `modelTensors`: a model's tensors, refused when they hold non-finite values (WeightsService.modelWeights). */
export function pageWeights(store: Store, req: WeightsRequest, modelTensors: (id: number) => NamedTensors): WeightsView {
  const input = (datasetId: number | null): WeightsView['input'] => {
    const d = datasetId === null ? undefined : store.datasets.find(datasetId);
    return d ? { datasetId: d.id, kind: d.kind, shape: d.shape, classes: d.classes, mean: d.normalisation.mean, std: d.normalisation.std } : null;
  };
  const tooBig = (sizes: number[], what: string) => {
    const n = sizes.slice(1).reduce((s, w, i) => s + w * (sizes[i] as number) + w, 0);
    if (n > MAX_PAGE_WEIGHTS) throw new LabError(`${what} has ${n.toLocaleString('en-US')} weights, more than the ${MAX_PAGE_WEIGHTS.toLocaleString('en-US')} a page runs`);
  };
  if (req.kind === 'model') {
    const m = store.models.find(req.id);
    if (!m) throw new LabError(`model ${req.id} does not exist`, 404);
    tooBig(m.sizes, `model ${m.id}`);
    return { kind: 'model', id: m.id, name: m.name, sizes: m.sizes, tensors: modelTensors(m.id), adapter: null, input: input(m.datasetId) };
  }
  const a = store.adapters.find(req.id);
  if (!a) throw new LabError(`adapter ${req.id} does not exist`, 404);
  const base = store.models.get(a.baseModelId);
  tooBig(base.sizes, `the base of adapter ${a.id}`);
  const tensors = store.tensors.get({ adapterId: a.id });
  const bad = nonFiniteTensors(tensors);
  if (bad.length > 0) throw new LabError(`adapter ${a.id} is unusable: ${describeNonFinite(bad)}; delete it`);
  return { kind: 'adapter', id: a.id, name: a.name, sizes: base.sizes, tensors, adapter: { info: a.info, baseModelId: a.baseModelId }, input: input(base.datasetId) };
}
