/**
 * The analysis of a stored adapter as a weights job (run on the worker thread: W0's
 * spectrum alone is seconds of float64 work): every target layer analysed
 * (adapters/analysis.ts), pictures of the first layer when its input is an image, and
 * with a second adapter φ between their directions. W0's spectra are handed in from
 * the caller's cache and handed back, computed where they were missing.
 */
import { type AnalysedLayer, AnalysisError, type LayerUpdate, analyseLayer, column } from '../adapters/analysis.ts';
import { layerNames } from '../contract/config.ts';
import { subspaceSimilarity } from '../adapters/geometry.ts';
import { type BaseSpectrum, baseSpectrum } from '../adapters/intruders.ts';
import type { Direction, LayerAnalysis, SubspaceSimilarity } from '../contract/analysis.ts';
import type { NamedTensors } from '../contract/named.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { checkFinite } from './finite.ts';
import { type Matrix, matmul, matrix, transpose } from './linalg.ts';
import { checkAdapterFits } from './merge-checks.ts';
import { doraDeltas, isDora } from './merge-dora.ts';

/** An adapter's factors, or a whole model whose update is W − W0 against the job's base. */
export type UpdateSource = { kind: 'adapter'; label: string; info: AdapterInfo; tensors: NamedTensors } | { kind: 'model'; label: string; tensors: NamedTensors; rank: number };

export interface AnalyzeJob {
  kind: 'analyze';
  sizes: number[];
  base: NamedTensors;
  baseLabel: string;
  /** W0's spectra by layer, as far as the caller has them. */
  spectra: Record<string, BaseSpectrum>;
  update: UpdateSource;
  vs: UpdateSource | null;
  intruders: { k: number; epsilon: number } | null;
  /** Values in one input sample (the data set's image), or null: no pictures. */
  pictureSize: number | null;
}

export interface AnalyzeResult {
  kind: 'analyze';
  layers: LayerAnalysis[];
  pictures: { layer: string; directions: Direction[]; rows: Direction[] } | null;
  similarity: SubspaceSimilarity[] | null;
  /** Every spectrum used, computed or handed in: for the caller's cache. */
  spectra: Record<string, BaseSpectrum>;
  /** Whether every spectrum needed was handed in. */
  spectraCached: boolean;
  seconds: number;
}

const PICTURED_DIRECTIONS = 8;
const PICTURED_ROWS = 4;

const baseWeight = (base: NamedTensors, layer: string): Matrix => {
  const w = base[`${layer}.weight`] as { shape: number[]; data: Float32Array };
  return matrix(w.shape[0] as number, w.shape[1] as number, w.data);
};

/** Each target layer's update: the factors, DoRA's dense W' − W0, or a whole model's W − W0 on every layer. */
function layerUpdates(src: UpdateSource, sizes: number[], base: NamedTensors): Map<string, LayerUpdate> {
  if (src.kind === 'model') return modelUpdates(src, sizes, base);
  checkAdapterFits(sizes, src.info, src.tensors, src.label);
  checkFinite(src.tensors, src.label);
  const out = new Map<string, LayerUpdate>();
  const dense = isDora(src.info) ? doraDeltas(src, base, src.label) : null;
  for (const layer of src.info.targets) {
    const d = dense?.[layer];
    if (d) {
      out.set(layer, { method: 'dense', delta: matrix(d.shape[0] as number, d.shape[1] as number, d.data), rank: src.info.r });
      continue;
    }
    const a = src.tensors[`${layer}.lora_A`] as { shape: number[]; data: Float32Array };
    const b = src.tensors[`${layer}.lora_B`] as { shape: number[]; data: Float32Array };
    const r = a.shape[0] as number;
    out.set(layer, { method: 'factors', A: matrix(r, a.shape[1] as number, a.data), B: matrix(b.shape[0] as number, r, b.data), scaling: src.info.scaling, rank: src.info.r });
  }
  return out;
}

function modelUpdates(src: Extract<UpdateSource, { kind: 'model' }>, sizes: number[], base: NamedTensors): Map<string, LayerUpdate> {
  checkFinite(src.tensors, src.label);
  const out = new Map<string, LayerUpdate>();
  for (const layer of layerNames(sizes)) {
    const w = src.tensors[`${layer}.weight`];
    const w0 = base[`${layer}.weight`] as { shape: number[]; data: Float32Array };
    if (!w || w.shape.join() !== w0.shape.join()) throw new AnalysisError(`${src.label}: ${layer}.weight is [${w?.shape ?? 'missing'}], its base's is [${w0.shape}]`);
    const delta = matrix(w0.shape[0] as number, w0.shape[1] as number);
    for (let i = 0; i < delta.data.length; i++) delta.data[i] = (w.data[i] as number) - (w0.data[i] as number);
    out.set(layer, { method: 'dense', delta, rank: src.rank });
  }
  return out;
}

export function analyzeJob(job: AnalyzeJob): AnalyzeResult {
  const started = performance.now();
  checkFinite(job.base, job.baseLabel);
  // Each base weight in float64 once, however many analyses use it.
  const weights = new Map<string, Matrix>();
  const weightOf = (base: NamedTensors, layer: string): Matrix => {
    if (!weights.has(layer)) weights.set(layer, baseWeight(base, layer));
    return weights.get(layer) as Matrix;
  };
  const spectra: Record<string, BaseSpectrum> = { ...job.spectra };
  let spectraCached = true;
  const spectrum = (layer: string): BaseSpectrum | null => {
    if (!job.intruders) return null;
    if (!spectra[layer]) {
      spectra[layer] = baseSpectrum(weightOf(job.base, layer));
      spectraCached = false;
    }
    return spectra[layer] as BaseSpectrum;
  };
  const updates = layerUpdates(job.update, job.sizes, job.base);
  const analysed = new Map<string, AnalysedLayer>();
  for (const [layer, update] of updates) analysed.set(layer, analyseLayer(weightOf(job.base, layer), update, spectrum(layer), job.intruders));
  const layers = [...analysed].map(([layer, a]) => ({ layer, ...a.analysis }));

  let similarity: SubspaceSimilarity[] | null = null;
  if (job.vs) {
    const other = layerUpdates(job.vs, job.sizes, job.base);
    similarity = [];
    for (const [layer, update] of other) {
      const mine = analysed.get(layer);
      if (!mine) continue;
      const theirs = analyseLayer(weightOf(job.base, layer), update, null, null).directions;
      similarity.push({ layer, side: 'input', phi: subspaceSimilarity(mine.directions.V, theirs.V) });
      similarity.push({ layer, side: 'output', phi: subspaceSimilarity(mine.directions.U, theirs.U) });
    }
  }
  return { kind: 'analyze', layers, pictures: pictures(job, updates, analysed), similarity, spectra, spectraCached, seconds: (performance.now() - started) / 1000 };
}

/** The first layer's top input directions and largest rows of ΔW, when its input is one sample. */
function pictures(job: AnalyzeJob, updates: Map<string, LayerUpdate>, analysed: Map<string, AnalysedLayer>): AnalyzeResult['pictures'] {
  const first = [...updates.keys()].find((l) => l === 'linear1');
  if (!first || job.pictureSize === null || job.sizes[0] !== job.pictureSize) return null;
  const { directions: d } = analysed.get(first) as AnalysedLayer;
  const directions = Array.from({ length: Math.min(PICTURED_DIRECTIONS, d.S.length) }, (_, j) => ({
    sigma: d.S[j] as number,
    values: column(d.V, j),
    unit: null,
    label: `direction ${j + 1}`,
  }));
  const u = updates.get(first) as LayerUpdate;
  const { norms, row } = u.method === 'dense' ? denseRows(u.delta) : factorRows(u.B, u.A, u.scaling);
  const top = norms.map((n, i) => [n, i] as const).sort((a, b) => b[0] - a[0]).slice(0, PICTURED_ROWS);
  const rows = top.filter(([n]) => n > 0).map(([n, i]) => ({ sigma: n, values: row(i), unit: i, label: `unit ${i}` }));
  return { layer: first, directions, rows };
}

/** Row norms of a dense ΔW [out, in], and its rows. */
function denseRows(delta: Matrix): { norms: number[]; row: (i: number) => number[] } {
  const norms = Array.from({ length: delta.rows }, (_, i) => {
    let s = 0;
    for (let c = 0; c < delta.cols; c++) s += (delta.data[i * delta.cols + c] as number) ** 2;
    return Math.sqrt(s);
  });
  return { norms, row: (i) => Array.from(delta.data.subarray(i * delta.cols, (i + 1) * delta.cols)) };
}

/**
 * Row norms of ΔW = s·B·A without forming it: ‖s·b_iᵀ·A‖² = s²·b_iᵀ·(A·Aᵀ)·b_i, with
 * the r×r Gram matrix A·Aᵀ; a row is formed only when pictured.
 */
function factorRows(B: Matrix, A: Matrix, scaling: number): { norms: number[]; row: (i: number) => number[] } {
  const r = A.rows;
  const G = matmul(A, transpose(A)); // [r, r]
  const norms = Array.from({ length: B.rows }, (_, i) => {
    let s = 0;
    for (let a = 0; a < r; a++) {
      let g = 0;
      for (let b = 0; b < r; b++) g += (G.data[a * r + b] as number) * (B.data[i * r + b] as number);
      s += (B.data[i * r + a] as number) * g;
    }
    return Math.abs(scaling) * Math.sqrt(Math.max(0, s));
  });
  const row = (i: number): number[] =>
    Array.from({ length: A.cols }, (_, c) => {
      let x = 0;
      for (let k = 0; k < r; k++) x += (B.data[i * r + k] as number) * (A.data[k * A.cols + c] as number);
      return scaling * x;
    });
  return { norms, row };
}
