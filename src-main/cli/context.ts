/**
 * What CLI commands need from the rest of LoRA Lab: a way to train (with a progress
 * bar), the Lab's API (data sets, models) and a place to print. Commands never start
 * trainers themselves.
 */
import type { LabApi } from '../contract/api.ts';
import type { RunConfig } from '../contract/config.ts';
import type { Evaluation, RunSummary } from '../contract/protocol.ts';

export interface TrainedRun {
  runId: number | string;
  /** The model a base or full run produced, or the base model a LoRA run used. */
  modelId: number | string;
  /** The model a fine-tune (LoRA or full) started from; null for a base run. */
  baseModelId: number | string | null;
  adapterId: number | string | null;
  evaluations: { before?: Evaluation; after?: Evaluation };
  summary: RunSummary;
  backend: string;
  device: string;
}

export interface TrainOptions {
  /** The run's name; left out, the Lab names it (lab/run-name.ts: widths, classes, data set, seed). */
  name?: string | undefined;
  /** Progress-bar label. */
  label: string;
  /** For LoRA runs: the base model to fine-tune. */
  baseModel?: number | string;
}

export interface CliContext {
  train(config: RunConfig, opts: TrainOptions): Promise<TrainedRun>;
  /** A stored model's id and layer widths (`3`, `m3` or `latest`), for a fine-tune's config. */
  model(ref: number | string): Promise<{ id: number; sizes: number[] }>;
  /** The Lab, through LabApi only. */
  lab(): LabApi;
  out(text: string): void;
  quiet: boolean;
}

export class RunFailedError extends Error {
  override name = 'RunFailedError';
}
