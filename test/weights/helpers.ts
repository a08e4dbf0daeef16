/** Shared fixtures for the weights tests: seeded random bases and adapters, MNIST batches. */
import { layerNames } from '../../src-main/contract/config.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { IMAGE_SIZE, mnistSamples } from '../../src-main/data/mnist.ts';
import { normaliseInto } from '../../src-main/data/dataset.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { Rng, normalArray, uniformArray } from '../../src-main/util/rng.ts';

/** PyTorch-orientation base weights, nn.Linear's default init. */
export function randomBase(sizes: number[], seed: number): NamedTensors {
  const rng = new Rng(seed);
  const out: NamedTensors = {};
  layerNames(sizes).forEach((name, i) => {
    const inF = sizes[i] as number;
    const outF = sizes[i + 1] as number;
    const bound = 1 / Math.sqrt(inF);
    out[`${name}.weight`] = { shape: [outF, inF], data: uniformArray(rng, outF * inF, bound) };
    out[`${name}.bias`] = { shape: [outF], data: uniformArray(rng, outF, bound) };
  });
  return out;
}

export interface AdapterSpec {
  r: number;
  alpha?: number;
  targets?: string[];
  rule?: AdapterInfo['scalingRule'];
  /** Standard deviation of B (trained adapters have B ≠ 0). */
  bStd?: number;
}

/** An adapter with random A (Kaiming-uniform) and non-zero random B. */
export function randomAdapter(sizes: number[], spec: AdapterSpec, seed: number): { info: AdapterInfo; tensors: NamedTensors } {
  const rng = new Rng(seed);
  const { r } = spec;
  const alpha = spec.alpha ?? 2 * r;
  const rule = spec.rule ?? 'standard';
  const targets = spec.targets ?? layerNames(sizes);
  const tensors: NamedTensors = {};
  for (const t of targets) {
    const i = layerNames(sizes).indexOf(t);
    const inF = sizes[i] as number;
    const outF = sizes[i + 1] as number;
    tensors[`${t}.lora_A`] = { shape: [r, inF], data: uniformArray(rng, r * inF, 1 / Math.sqrt(inF)) };
    tensors[`${t}.lora_B`] = { shape: [outF, r], data: normalArray(rng, outF * r, spec.bStd ?? 0.05) };
  }
  const scaling = rule === 'rslora' ? alpha / Math.sqrt(r) : alpha / r;
  return { info: { r, alpha, scaling, scalingRule: rule, targets, init: 'kaiming', variant: 'lora', freezeA: false }, tensors };
}

/** The first `n` MNIST test images, normalised as the trainer does: [n, 784]. */
export function mnistTestBatch(n: number): { x: Float32Array; labels: Uint8Array } {
  const split = mnistSamples('test');
  const idx = Array.from({ length: n }, (_, i) => i);
  const x = new Float32Array(n * IMAGE_SIZE);
  normaliseInto(split, idx, 0, n, x);
  return { x, labels: split.labels.slice(0, n) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

/** Plain float64 forward pass of the MLP (PyTorch orientation), for references. */
export function referenceForward(sizes: number[], tensors: NamedTensors, x: Float32Array, n: number): Float64Array {
  let h = Float64Array.from(x);
  layerNames(sizes).forEach((name, l) => {
    const inF = sizes[l] as number;
    const outF = sizes[l + 1] as number;
    const W = (tensors[`${name}.weight`] as { data: Float32Array }).data;
    const b = (tensors[`${name}.bias`] as { data: Float32Array }).data;
    const z = new Float64Array(n * outF);
    for (let s = 0; s < n; s++) {
      for (let o = 0; o < outF; o++) {
        let acc = b[o] as number;
        for (let i = 0; i < inF; i++) acc += (h[s * inF + i] as number) * (W[o * inF + i] as number);
        z[s * outF + o] = l < sizes.length - 2 ? Math.max(0, acc) : acc;
      }
    }
    h = z;
  });
  return h;
}

export function argmaxRows(logits: ArrayLike<number>, n: number, classes: number): number[] {
  return Array.from({ length: n }, (_, s) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if ((logits[s * classes + c] as number) > (logits[s * classes + best] as number)) best = c;
    return best;
  });
}

/** Build a file by hand from a header object and raw data, independent of the writer. */
export function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const text = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}
