/**
 * The run record as the rest of the app sees it (camelCase, parsed JSON) and as the
 * runs table stores it, with the one mapping between them.
 */
import type { RunConfig, RunKind } from '../contract/config.ts';
import type { RunRecord, RunSweepLink } from '../contract/records.ts';
import { type TrainerExitReason, isTrainerExitReason } from '../contract/exit-reasons.ts';
import type { RunSummary } from '../contract/protocol.ts';
import { fromJson } from './codec.ts';
import type { RunStatus } from './run-status.ts';

/** The run record (contract/records.ts). */
export type StoredRun = RunRecord;

export interface NewRun {
  name: string;
  kind: RunKind;
  config: RunConfig;
  baseModelId?: number | null;
  /** Default `queued`; other statuses are for importing finished runs. */
  status?: RunStatus;
  /** The sweep point this run trains (its sweep_runs row links back to it). */
  sweep?: RunSweepLink | null;
}

export interface FinishOptions {
  error?: string | null;
  exitReason?: TrainerExitReason | null;
  summary?: RunSummary | null;
  /** Left as they are when absent. */
  modelId?: number | null;
  adapterId?: number | null;
}

export interface RunRow {
  id: number;
  name: string;
  kind: RunKind;
  status: RunStatus;
  config: string;
  base_model_id: number | null;
  model_id: number | null;
  adapter_id: number | null;
  backend: string | null;
  device: string | null;
  owner: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  exit_reason: string | null;
  tags: string;
  notes: string;
  summary: string | null;
  progress: string | null;
  sweep_id?: number | null;
  sweep_point?: number | null;
  sweep_seed_index?: number | null;
  attempt?: number;
}

export function toRun(r: RunRow): StoredRun {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    status: r.status,
    config: fromJson<RunConfig>(r.config) as RunConfig,
    baseModelId: r.base_model_id,
    modelId: r.model_id,
    adapterId: r.adapter_id,
    backend: r.backend,
    device: r.device,
    owner: r.owner,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
    exitReason: isTrainerExitReason(r.exit_reason) ? r.exit_reason : null,
    tags: fromJson<string[]>(r.tags) ?? [],
    notes: r.notes,
    summary: fromJson<RunSummary>(r.summary),
    progress: fromJson<unknown>(r.progress),
    sweep: r.sweep_id != null && r.sweep_point != null ? { sweepId: r.sweep_id, point: r.sweep_point, seedIndex: r.sweep_seed_index ?? 0 } : null,
    attempt: r.attempt ?? 1,
  };
}

/** Trimmed, non-empty, each once, in the order given. */
export function cleanTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t !== ''))];
}
