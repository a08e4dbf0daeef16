import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import { TfjsFormatError, parseTfjsModel, tfjsModelFiles, type TfjsModelJson } from '../../src-main/weights/tfjs-format.ts';
import { useTestBackend } from '../helpers/backend.ts';
import { maxAbsDiff, mnistTestBatch, randomBase } from './helpers.ts';

const sizes = [784, 1000, 2000, 10];
const N = 2000;

async function mlpLogits(tensors: ReturnType<typeof randomBase>, x: Float32Array, n: number): Promise<Float32Array> {
  const mlp = Mlp.fromNamed(sizes, tensors, false);
  const y = tf.tidy(() => mlp.forward(tf.tensor2d(x, [n, 784])));
  const out = (await y.data()) as Float32Array;
  y.dispose();
  mlp.dispose();
  return out;
}

async function predict(model: tfl.LayersModel, x: Float32Array, n: number): Promise<Float32Array> {
  const input = tf.tensor2d(x, [n, 784]);
  const y = model.predict(input) as tf.Tensor;
  const out = (await y.data()) as Float32Array;
  tf.dispose([input, y]);
  return out;
}

describe('TF.js Layers export', () => {
  const base = randomBase(sizes, 11);
  const { modelJson, weightsBin } = tfjsModelFiles(base, sizes);
  const { x } = mnistTestBatch(N);
  let reference: Float32Array;

  beforeAll(async () => {
    await useTestBackend();
    reference = await mlpLogits(base, x, N);
  });
  afterAll(() => expect(tf.memory().numTensors).toBeLessThan(50));

  it('writes a Sequential of Dense layers linear1..N with kernels [in, out] in one weights.bin', () => {
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.modelTopology.class_name).toBe('Sequential');
    const layers = modelJson.modelTopology.config.layers;
    expect(layers.map((l) => [l.config['name'], l.config['units'], l.config['activation']])).toEqual([
      ['linear1', 1000, 'relu'],
      ['linear2', 2000, 'relu'],
      ['linear3', 10, 'linear'],
    ]);
    expect(layers[0]?.config['batch_input_shape']).toEqual([null, 784]);
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0]?.paths).toEqual(['weights.bin']);
    expect(modelJson.weightsManifest[0]?.weights.map((w) => `${w.name}:${w.shape}`)).toEqual([
      'linear1/kernel:784,1000', 'linear1/bias:1000', 'linear2/kernel:1000,2000', 'linear2/bias:2000', 'linear3/kernel:2000,10', 'linear3/bias:10',
    ]);
    expect(weightsBin.length).toBe(4 * (784 * 1000 + 1000 + 1000 * 2000 + 2000 + 2000 * 10 + 10));
    // kernel[i][o] = weight[o][i]
    const kernel = new DataView(weightsBin.buffer, weightsBin.byteOffset);
    expect(kernel.getFloat32(4 * (5 * 1000 + 7), true)).toBe(base['linear1.weight']!.data[7 * 784 + 5]);
  });

  it('tf.loadLayersModel(fromMemory) predicts on real MNIST test images as LoRA Lab does (≤ 1e-5)', async () => {
    const model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: JSON.parse(JSON.stringify(modelJson.modelTopology)),
        weightSpecs: modelJson.weightsManifest[0]!.weights,
        weightData: weightsBin.slice().buffer,
      }),
    );
    const got = await predict(model, x, N);
    model.dispose();
    expect(maxAbsDiff(got, reference)).toBeLessThanOrEqual(1e-5);
  });

  it('tf.loadLayersModel over HTTP finds weights.bin through the manifest paths', async () => {
    const files: Record<string, () => Response> = {
      'http://lab.test/m/model.json': () => new Response(JSON.stringify(modelJson), { headers: { 'content-type': 'application/json' } }),
      'http://lab.test/m/weights.bin': () => new Response(weightsBin.slice()),
    };
    const fetched: string[] = [];
    const fetchFunc = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      const f = files[String(url)];
      return f ? f() : new Response('not found', { status: 404 });
    }) as typeof fetch;
    const model = await tfl.loadLayersModel('http://lab.test/m/model.json', { fetchFunc });
    expect(fetched).toEqual(['http://lab.test/m/model.json', 'http://lab.test/m/weights.bin']);
    const got = await predict(model, x.subarray(0, 500 * 784), 500);
    model.dispose();
    expect(maxAbsDiff(got, reference.subarray(0, 500 * 10))).toBeLessThanOrEqual(1e-5);
  });

  it('export → parse is bit-identical and recovers the sizes', () => {
    const back = parseTfjsModel(JSON.parse(JSON.stringify(modelJson)), weightsBin);
    expect(back.sizes).toEqual(sizes);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(base).sort());
    for (const [k, t] of Object.entries(base)) {
      expect(back.tensors[k]?.shape).toEqual(t.shape);
      expect(Buffer.from(back.tensors[k]!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
  });

  it('parse refuses files that do not describe this MLP', () => {
    const small = tfjsModelFiles(randomBase([4, 3, 2], 1), [4, 3, 2]);
    const json = () => JSON.parse(JSON.stringify(small.modelJson)) as TfjsModelJson;
    const edits: [string, (j: TfjsModelJson) => void, RegExp, Uint8Array?][] = [
      ['graph model', (j) => ((j as { format: string }).format = 'graph-model'), /not a Layers model/],
      ['functional model', (j) => ((j.modelTopology as { class_name: string }).class_name = 'Model'), /only Sequential/],
      ['renamed layer', (j) => (j.modelTopology.config.layers[0]!.config['name'] = 'dense_1'), /named "dense_1", expected linear1/],
      ['wrong activation', (j) => (j.modelTopology.config.layers[1]!.config['activation'] = 'softmax'), /activation "softmax", expected linear/],
      ['no input shape', (j) => delete j.modelTopology.config.layers[0]!.config['batch_input_shape'], /batch_input_shape/],
      ['missing weight', (j) => j.weightsManifest[0]!.weights.pop(), /lists 3 weights, the topology needs 4/],
      ['wrong dtype', (j) => ((j.weightsManifest[0]!.weights[0] as { dtype: string }).dtype = 'int32'), /plain float32/],
      ['wrong shape', (j) => (j.weightsManifest[0]!.weights[1]!.shape = [4]), /linear1\/bias has shape \[4\]/],
      ['short weights', () => {}, /weights are 40 bytes, the manifest needs 92/, new Uint8Array(40)],
    ];
    for (const [what, edit, message, bin] of edits) {
      const j = json();
      edit(j);
      expect(() => parseTfjsModel(j, bin ?? small.weightsBin), what).toThrow(TfjsFormatError);
      expect(() => parseTfjsModel(j, bin ?? small.weightsBin), what).toThrow(message);
    }
    expect(() => tfjsModelFiles(randomBase([4, 3, 2], 1), [4, 5, 2])).toThrow(/expected \[5, 4\]/);
  });
});
