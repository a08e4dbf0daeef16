/**
 * Sweeps as every side sees them: the spec a person writes (a starting point, axes over
 * config paths, seeds, a budget, a concurrency, optional ASHA pruning), its schema, and
 * the views the UI and the CLI show. Pure data and pure functions (the expansion of a
 * spec into points lives in sweep-points.ts), so the renderer imports it too.
 */
import * as v from 'valibot';
import { runConfigSchema } from './config.ts';
import type { RunConfig } from './config.ts';
import type { GroupView, ImportanceRow, Stat } from './groups.ts';
import type { RunStatus } from './run-status.ts';

/** A value an axis or an override may give a config path. */
export type ParamValue = string | number | boolean | null;

const finite = v.pipe(v.number(), v.finite());
const paramValue = v.union([v.pipe(v.string(), v.maxLength(200)), finite, v.boolean(), v.null()]);
/** A dotted config path, e.g. `lr`, `lora.r`, `lora.alpha`. */
export const CONFIG_PATH = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;
const path = v.pipe(v.string(), v.maxLength(64), v.regex(CONFIG_PATH, 'a config path is dotted names like "lora.r"'));

export const DISTRIBUTIONS = ['uniform', 'log-uniform', 'int', 'choice'] as const;
export type DistributionKind = (typeof DISTRIBUTIONS)[number];

const distributionSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('uniform'), min: finite, max: finite }),
  /** Sampled uniformly in log space (learning rates): both bounds > 0. */
  v.strictObject({ kind: v.literal('log-uniform'), min: finite, max: finite }),
  /** An integer in [min, max], both included. */
  v.strictObject({ kind: v.literal('int'), min: finite, max: finite }),
  v.strictObject({ kind: v.literal('choice'), values: v.pipe(v.array(paramValue), v.maxLength(1000)) }),
]);

const axisSchema = v.union([
  /** Grid axis: every value is a point of the grid (the product of all grid axes). */
  v.strictObject({ path, values: v.pipe(v.array(paramValue), v.maxLength(1000)) }),
  /** Random axis: one value per trial, drawn from the distribution with the sweep's seed. */
  v.strictObject({ path, distribution: distributionSchema }),
]);

/** Where a sweep starts: fine-tunes of a stored model, base trainings, or clones of a run. */
const startSchema = v.variant('kind', [
  v.strictObject({ kind: v.literal('finetune'), baseModelId: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
  v.strictObject({ kind: v.literal('base') }),
  v.strictObject({ kind: v.literal('run'), runId: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
]);

export const PRUNE_KINDS = ['asha'] as const;

/**
 * Asynchronous successive halving (ASHA, Li et al. 2018) used as early stopping: rungs
 * at `minSteps · eta^k` steps; a run reaching a rung whose metric is not in the top
 * 1/eta of the runs that reached that rung is stopped there (stored, never counted as a
 * finished point). The metric is one the runs evaluate along the way (`val/accuracy`,
 * `val/loss`, `train/loss`), so the runs need `evalEvery` > 0 for `val/*`.
 */
const pruneSchema = v.strictObject({
  kind: v.picklist(PRUNE_KINDS),
  metric: v.pipe(v.string(), v.maxLength(64)),
  /** Default: `min` for metrics named …loss, else `max`. */
  mode: v.optional(v.picklist(['min', 'max'])),
  /** Reduction factor η (default 3). */
  eta: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(16))),
  /** The first rung's step (default: the runs' evalEvery, or 10% of their steps for train/loss). */
  minSteps: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Runs that must have reached a rung before any is stopped there (default eta). */
  graceRuns: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
});

export const sweepSpecSchema = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.maxLength(200))),
  start: startSchema,
  /**
   * The starting config (every run's config before the axes). Default: the classic
   * fine-tune on the base model (`finetune`), the default base training (`base`), or
   * the run's own config (`run`).
   */
  config: v.optional(runConfigSchema),
  /** Config paths set on every run before the axes (the CLI's run flags), e.g. { maxSteps: 100 }. */
  overrides: v.optional(v.pipe(v.record(path, paramValue), v.check((r) => Object.keys(r).length <= 50, 'at most 50 overrides'))),
  axes: v.pipe(v.array(axisSchema), v.maxLength(16)),
  /** Random axes: how many points to draw (default 1 when there is a random axis; 0 means none). */
  trials: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000))),
  /** Each point is repeated with this many seeds: the starting seed, +1, +2 … (default 1). */
  seeds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100))),
  /** At most this many runs (points × seeds, in point order); default all of them. */
  budget: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))),
  /** Runs of this sweep trained at the same time (default 1). */
  concurrency: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64))),
  /** The seed random axes are drawn with (default 0). */
  samplingSeed: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff))),
  prune: v.optional(pruneSchema),
  tags: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(64))), v.maxLength(50))),
});

export type SweepSpec = v.InferOutput<typeof sweepSpecSchema>;
export type SweepAxis = SweepSpec['axes'][number];
export type SweepStart = SweepSpec['start'];
export type Distribution = Extract<SweepAxis, { distribution: unknown }>['distribution'];
export type PruneSpec = NonNullable<SweepSpec['prune']>;

/**
 * A sweep's lifecycle. `running`: a process drives it; `paused`: nobody does (its process
 * died or was closed) and `resume` goes on; `completed`: every point ran (some may have
 * failed or been pruned); `cancelled` by the person; `failed`: it could not go on (its
 * base model was deleted …, `error` says).
 */
export const SWEEP_STATUSES = ['running', 'paused', 'completed', 'cancelled', 'failed'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/**
 * Where one (point, seed) of a sweep is: the persistent queue. `pending` has no run yet;
 * the others follow its run, plus `pruned` (stopped by ASHA, kept with its metrics).
 */
export const SWEEP_RUN_STATES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'pruned'] as const;
export type SweepRunState = (typeof SWEEP_RUN_STATES)[number];

export interface SweepCounts {
  /** Runs the sweep will train in all (points × seeds within the budget). */
  total: number;
  pending: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  pruned: number;
}

/** The figure a sweep is judged by (groups.ts GROUP_FIGURES key) and which way is better. */
export interface SweepObjective {
  figure: string;
  better: 'higher' | 'lower';
}

export interface SweepView {
  id: number;
  name: string;
  status: SweepStatus;
  spec: SweepSpec;
  /** The swept config paths, grid axes first, in spec order. */
  paths: string[];
  /** Points of the sweep (within the budget) and seeds per point. */
  points: number;
  seeds: number;
  counts: SweepCounts;
  objective: SweepObjective;
  createdAt: number;
  finishedAt: number | null;
  /** Seconds left at the pace of its finished runs (null until one finished, or when done). */
  etaSeconds: number | null;
  /** True when this process drives it; a running sweep of another process says its owner. */
  drivenHere: boolean;
  owner: string | null;
  error: string | null;
}

export interface SweepRunView {
  seedIndex: number;
  seed: number;
  runId: number | null;
  state: SweepRunState;
  /** Times it was started (a run trained in a process that died is started again: 2 …). */
  attempts: number;
  /** Where a running run is (step of total), or where a pruned run was stopped. */
  step: number | null;
  totalSteps: number | null;
  /** The objective figure once the run has it. */
  value: number | null;
}

export interface SweepPointView {
  index: number;
  params: Record<string, ParamValue>;
  runs: SweepRunView[];
  /** The objective over this point's completed runs (n, mean, std). */
  objective: Stat;
}

export interface SweepDetail extends SweepView {
  /** The starting config every point's config is made from. */
  config: RunConfig;
  baseModelId: number | null;
  pointList: SweepPointView[];
  /** Groups by the swept paths (one per point), over completed runs. */
  groups: GroupView[];
  /** How much each swept path matters for the objective. */
  importance: ImportanceRow[];
  /** The point with the best objective mean (null before any point completed). */
  best: { point: number; params: Record<string, ParamValue>; objective: Stat; runIds: number[] } | null;
  /** Run ids per status across the sweep (for "which runs are where"). */
  runsByStatus: Partial<Record<RunStatus, number[]>>;
}
