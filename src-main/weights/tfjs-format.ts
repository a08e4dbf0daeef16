/**
 * A TF.js Layers model: `model.json` (Keras topology + weights manifest) and one
 * `weights.bin` of little-endian float32. The MLP becomes a Sequential of Dense layers
 * named linear1..N (ReLU between, linear last) so `tf.loadLayersModel` rebuilds it and
 * predicts exactly as LoRA Lab does. Dense holds its kernel as [in, out], so PyTorch's
 * `linearN.weight` [out, in] is transposed here and back on import.
 * No tfjs import: the format is plain JSON and bytes.
 */
import { layerNames } from '../contract/config.ts';
import { type HostTensor, type NamedTensors, getTensor, transpose2d } from '../contract/named.ts';

export class TfjsFormatError extends Error {
  override name = 'TfjsFormatError';
}

export const TFJS_MODEL_FILE = 'model.json';
export const TFJS_WEIGHTS_FILE = 'weights.bin';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: { class_name: 'Sequential'; config: { name: string; layers: DenseLayerJson[] }; keras_version: string; backend: string };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

interface DenseLayerJson {
  class_name: 'Dense';
  config: Record<string, unknown>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function denseLayer(name: string, units: number, activation: 'relu' | 'linear', inputWidth: number | null): DenseLayerJson {
  const config: Record<string, unknown> = {
    units,
    activation,
    use_bias: true,
    // Initialisers only matter for training from scratch; these are TF.js's defaults.
    kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'normal', seed: null } },
    bias_initializer: { class_name: 'Zeros', config: {} },
    kernel_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
    name,
    trainable: true,
  };
  if (inputWidth !== null) {
    config['batch_input_shape'] = [null, inputWidth];
    config['dtype'] = 'float32';
  }
  return { class_name: 'Dense', config };
}

/** tensors: `linearN.weight` [out, in], `linearN.bias` [out] for the layers of `sizes`. */
export function tfjsModelFiles(tensors: NamedTensors, sizes: readonly number[]): { modelJson: TfjsModelJson; weightsBin: Uint8Array } {
  if (sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s >= 1)) throw new TfjsFormatError(`bad layer sizes [${sizes}]`);
  const names = layerNames(sizes);
  const layers: DenseLayerJson[] = [];
  const specs: WeightSpec[] = [];
  const chunks: Float32Array[] = [];
  names.forEach((name, i) => {
    const inF = sizes[i] as number;
    const outF = sizes[i + 1] as number;
    const w = getTensor(tensors, `${name}.weight`);
    const b = getTensor(tensors, `${name}.bias`);
    if (w.shape.join() !== `${outF},${inF}`) throw new TfjsFormatError(`${name}.weight has shape [${w.shape}], expected [${outF}, ${inF}]`);
    if (b.shape.join() !== `${outF}`) throw new TfjsFormatError(`${name}.bias has shape [${b.shape}], expected [${outF}]`);
    layers.push(denseLayer(name, outF, i < names.length - 1 ? 'relu' : 'linear', i === 0 ? inF : null));
    specs.push({ name: `${name}/kernel`, shape: [inF, outF], dtype: 'float32' }, { name: `${name}/bias`, shape: [outF], dtype: 'float32' });
    chunks.push(transpose2d(w.data, outF, inF), b.data); // kernel [in, out], bias [out]
  });
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const bin = new Uint8Array(4 * total);
  const view = new DataView(bin.buffer);
  let at = 0;
  for (const c of chunks) {
    if (LITTLE_ENDIAN_HOST) bin.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    else for (let i = 0; i < c.length; i++) view.setFloat32(at + 4 * i, c[i] as number, true);
    at += c.byteLength;
  }
  const modelJson: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: 'LoRA Lab',
    convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'lora_lab_mlp', layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: specs }],
  };
  return { modelJson, weightsBin: bin };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The topology's layer list, accepting TF.js's and the Python converter's nesting. */
function topologyLayers(topology: unknown): unknown[] {
  if (!isObject(topology)) throw new TfjsFormatError('modelTopology must be an object');
  const model = isObject(topology['model_config']) ? topology['model_config'] : topology;
  if (model['class_name'] !== 'Sequential') throw new TfjsFormatError(`only Sequential models are supported, got ${JSON.stringify(model['class_name'])}`);
  const config = model['config'];
  const layers = Array.isArray(config) ? config : isObject(config) ? config['layers'] : undefined;
  if (!Array.isArray(layers) || layers.length === 0) throw new TfjsFormatError('the Sequential model has no layers');
  return layers;
}

/** Read a model written by tfjsModelFiles (or any Dense-only MLP laid out the same way). */
export function parseTfjsModel(modelJson: unknown, weightsBin: Uint8Array): { sizes: number[]; tensors: NamedTensors } {
  if (!isObject(modelJson)) throw new TfjsFormatError('model.json must be a JSON object');
  if (modelJson['format'] !== undefined && modelJson['format'] !== 'layers-model') {
    throw new TfjsFormatError(`format ${JSON.stringify(modelJson['format'])} is not a Layers model ("layers-model")`);
  }
  const layers = topologyLayers(modelJson['modelTopology']);
  const sizes: number[] = [];
  layers.forEach((raw, i) => {
    const name = `linear${i + 1}`;
    if (!isObject(raw) || raw['class_name'] !== 'Dense' || !isObject(raw['config'])) throw new TfjsFormatError(`layer ${i + 1} is not a Dense layer`);
    const c = raw['config'];
    if (c['name'] !== name) throw new TfjsFormatError(`layer ${i + 1} is named ${JSON.stringify(c['name'])}, expected ${name}`);
    const want = i < layers.length - 1 ? 'relu' : 'linear';
    if ((c['activation'] ?? 'linear') !== want) throw new TfjsFormatError(`${name} has activation ${JSON.stringify(c['activation'])}, expected ${want}`);
    if (c['use_bias'] === false) throw new TfjsFormatError(`${name} has no bias`);
    const units = c['units'];
    if (typeof units !== 'number' || !Number.isInteger(units) || units < 1 || units > 65536) throw new TfjsFormatError(`${name} has bad units ${JSON.stringify(units)}`);
    if (i === 0) {
      const shape = c['batch_input_shape'] ?? c['batchInputShape'];
      if (!Array.isArray(shape) || shape.length !== 2 || typeof shape[1] !== 'number' || !Number.isInteger(shape[1]) || shape[1] < 1 || shape[1] > 65536) {
        throw new TfjsFormatError(`${name} must declare batch_input_shape [null, in]`);
      }
      sizes.push(shape[1]);
    }
    sizes.push(units);
  });

  const manifest = modelJson['weightsManifest'];
  if (!Array.isArray(manifest) || manifest.length === 0) throw new TfjsFormatError('weightsManifest must be a non-empty list');
  // TF.js concatenates every group's files in manifest order: one weights.bin is that concatenation.
  const specs: unknown[] = manifest.flatMap((g) => (isObject(g) && Array.isArray(g['weights']) ? g['weights'] : [null]));
  const expected = layerNames(sizes).flatMap((n, i) => [
    { name: `${n}/kernel`, shape: [sizes[i] as number, sizes[i + 1] as number] },
    { name: `${n}/bias`, shape: [sizes[i + 1] as number] },
  ]);
  if (specs.length !== expected.length) throw new TfjsFormatError(`weightsManifest lists ${specs.length} weights, the topology needs ${expected.length}`);
  const totalBytes = expected.reduce((a, e) => a + 4 * e.shape.reduce((x, y) => x * y, 1), 0);
  if (weightsBin.length !== totalBytes) throw new TfjsFormatError(`weights are ${weightsBin.length} bytes, the manifest needs ${totalBytes}`);
  const view = new DataView(weightsBin.buffer, weightsBin.byteOffset, weightsBin.byteLength);
  const tensors: NamedTensors = {};
  let at = 0;
  expected.forEach((e, k) => {
    const s = specs[k];
    if (!isObject(s) || s['name'] !== e.name) throw new TfjsFormatError(`weight ${k + 1} should be ${e.name}, got ${JSON.stringify(isObject(s) ? s['name'] : s)}`);
    if ((s['dtype'] ?? 'float32') !== 'float32' || s['quantization'] !== undefined) throw new TfjsFormatError(`${e.name} must be plain float32`);
    if (!Array.isArray(s['shape']) || s['shape'].join() !== e.shape.join()) throw new TfjsFormatError(`${e.name} has shape ${JSON.stringify(s['shape'])}, expected [${e.shape}]`);
    const n = e.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(at + 4 * i, true);
    at += 4 * n;
    const layer = e.name.slice(0, e.name.indexOf('/'));
    if (e.shape.length === 2) {
      const [inF, outF] = e.shape as [number, number];
      tensors[`${layer}.weight`] = { shape: [outF, inF], data: transpose2d(data, inF, outF) } satisfies HostTensor; // [out, in]
    } else {
      tensors[`${layer}.bias`] = { shape: [...e.shape], data };
    }
  });
  return { sizes, tensors };
}
