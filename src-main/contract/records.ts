/**
 * The stored records, as every side sees them: the store's rows (camelCase, JSON
 * parsed) and the base of the LabApi's views, which add what is derived for display.
 * Each shape is stated here once; store/ and contract/api.ts build on it.
 */
import type { RunConfig, RunKind } from './config.ts';
import type { TrainerExitReason } from './exit-reasons.ts';
import type { AdapterInfo, RunSummary } from './protocol.ts';
import type { RunStatus } from './run-status.ts';

export interface RunRecord {
  id: number;
  name: string;
  kind: RunKind;
  status: RunStatus;
  config: RunConfig;
  /** The model a LoRA run starts from. */
  baseModelId: number | null;
  /** The model a base run produced. */
  modelId: number | null;
  /** The adapter a LoRA run produced. */
  adapterId: number | null;
  backend: string | null;
  device: string | null;
  /** The process (e.g. `host/pid`) that queued or runs it (store/runs.ts setOwner). */
  owner: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  /** How its trainer process ended (`killed`, `oom` …); null while it runs and for runs no trainer ended under watch. */
  exitReason: TrainerExitReason | null;
  tags: string[];
  notes: string;
  summary: RunSummary | null;
  /** The last progress message, as the trainer sent it. */
  progress: unknown;
  /** The sweep it belongs to and its place there (point, seed), or null for a run of its own. */
  sweep: RunSweepLink | null;
  /** Which attempt this is: 1, or more when it was started again after its process died. */
  attempt: number;
}

export interface RunSweepLink {
  sweepId: number;
  point: number;
  seedIndex: number;
}

/** `finetuned`: a full fine-tune run's result; its parent is the base it started from (its update is W − W0). */
export const MODEL_KINDS = ['base', 'merged', 'imported', 'finetuned'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export interface ModelRecord {
  id: number;
  name: string;
  kind: ModelKind;
  /** Layer widths, input first: [784, 1000, 2000, 10]. */
  sizes: number[];
  /** The model this one was derived from (a merged model's base). */
  parentModelId: number | null;
  /** The run that produced it (a base run, or the LoRA run whose adapter was merged). */
  sourceRunId: number | null;
  /** The data set whose samples it maps to classes (trained on, or chosen at import). */
  datasetId: number | null;
  /** Lineage: what was merged with which weights, the file it was imported from … */
  origin: unknown;
  createdAt: number;
}

export interface AdapterRecord {
  id: number;
  name: string;
  /** The LoRA run that trained it; null for an imported adapter. */
  runId: number | null;
  baseModelId: number;
  info: AdapterInfo;
  /** Where it came from: a run, a merge (method, inputs) or an imported folder. */
  origin: unknown;
  createdAt: number;
}
