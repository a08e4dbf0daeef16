/**
 * What an adapter's update looks like, as every side sees it (issue 16; the math in
 * src-main/adapters/geometry.ts and intruders.ts, docs/math.md "Adapter geometry"):
 * per adapted layer the singular values of ΔW, the ranks that summarise them, the LoRA
 * paper's amplification factor, intruder dimensions, pictures of the first layer's
 * directions, and the subspace similarity φ between two adapters.
 */
import * as v from 'valibot';
import type { DatasetRef, NamedRef } from './api.ts';
import type { LoraVariant } from './config.ts';

/**
 * What to analyse: an adapter; a run by what it stored (a LoRA run's adapter, a full
 * fine-tune's model); or a model with a parent (a full fine-tune's or a merge's), whose
 * update is W − W0 against that parent.
 */
export type AnalysisTarget = { kind: 'adapter' | 'run' | 'model'; id: number };

/** The rank whose directions the amplification factor of a dense model update uses (an adapter uses its own r). */
export const DENSE_AMPLIFICATION_RANK = 8;

export const INTRUDER_LIMITS = { maxK: 64, defaultK: 10, defaultEpsilon: 0.5 } as const;

const target = v.strictObject({ kind: v.picklist(['adapter', 'run', 'model']), id: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)) });

export const analyzeRequestSchema = v.strictObject({
  target,
  /** A second adapter on the same base: φ between their top directions. */
  vs: v.optional(target),
  /** Top-k directions of W0 + ΔW checked, and the cosine below which one is an intruder; false: not computed. */
  intruders: v.optional(
    v.union([
      v.literal(false),
      v.strictObject({
        k: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(INTRUDER_LIMITS.maxK)),
        epsilon: v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(1)),
      }),
    ]),
  ),
});
export type AnalyzeRequest = v.InferOutput<typeof analyzeRequestSchema>;

/** How ΔW was decomposed: from its rank-r factors (LoRA, PiSSA, OLoRA), or as the dense W' − W0 (DoRA, full fine-tunes, merges). */
export type DecompositionMethod = 'factors' | 'dense';

export interface LayerIntruders {
  k: number;
  epsilon: number;
  /** Of the top-k left singular vectors of W0 + ΔW, those with max |cos| < ε against every one of W0's. */
  count: number;
  /** Per direction i (1 … k): σ_i(W0 + ΔW) and its largest |cosine| with W0's left singular vectors. */
  sigma: number[];
  maxCosine: number[];
}

export interface LayerAnalysis {
  layer: string;
  /** [out, in] of the weight. */
  shape: [number, number];
  method: DecompositionMethod;
  /** σ_i of ΔW, descending (at most the update's rank for factors; min(out, in) dense). */
  singularValues: number[];
  /** exp(−Σ p_i ln p_i), p_i = σ_i / Σσ. */
  effectiveRank: number;
  /** ‖ΔW‖²_F / ‖ΔW‖²₂. */
  stableRank: number;
  /** Fewest σ_i holding 90% of Σσ_i². */
  rank90: number;
  /** ‖ΔW‖_F. */
  frobenius: number;
  /** ‖ΔW‖_F / ‖W0‖_F. */
  relativeNorm: number;
  /** ‖ΔW‖_F / ‖Uᵀ·W0·V‖_F with U, V the top-`rank` singular vectors of ΔW (LoRA paper §7.3). */
  amplification: { rank: number; factor: number; projectedNorm: number };
  intruders: LayerIntruders | null;
}

/** A picture: values laid out in the data set's input shape (row-major, like its samples). */
export interface Direction {
  /** σ of the direction (for a row of ΔW: its norm). */
  sigma: number;
  values: number[];
  /** For a row of ΔW: the output unit (a class on the last layer), else null. */
  unit: number | null;
  label: string;
}

export interface SubspaceSimilarity {
  layer: string;
  /** Directions compared: ΔW's right (input) or left (output) singular vectors. */
  side: 'input' | 'output';
  /** phi[i − 1][j − 1] = ‖U₁[:, :i]ᵀ·U₂[:, :j]‖²_F / min(i, j), in [0, 1]. */
  phi: number[][];
}

export interface AnalyzedUpdate {
  target: AnalysisTarget;
  /** An adapter's ΔW, a full fine-tune's W − W0, or a merged model's W − W0. */
  source: 'adapter' | 'full' | 'merged';
  adapterId: number | null;
  modelId: number | null;
  name: string;
  runId: number | null;
  /** The adapter's variant, rank and scaling (null for a model's update). */
  variant: LoraVariant | null;
  r: number | null;
  scaling: number | null;
}

export interface AdapterAnalysis {
  update: AnalyzedUpdate;
  base: NamedRef;
  dataset: DatasetRef | null;
  layers: LayerAnalysis[];
  /** The first adapted layer, when its input is the data set's image: top directions of ΔW and its largest rows. */
  pictures: { layer: string; shape: number[]; directions: Direction[]; rows: Direction[] } | null;
  /** With `vs`: the other adapter and φ per shared layer and side. */
  similarity: { other: AnalyzedUpdate; layers: SubspaceSimilarity[] } | null;
  /** Wall time of the computation, and whether W0's spectrum came from the cache. */
  seconds: number;
  baseSpectrumCached: boolean;
}
