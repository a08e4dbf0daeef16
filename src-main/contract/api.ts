/**
 * LabApi: the one contract for everything the UI and the CLI do. The Lab service
 * implements it; Electron IPC, the web-mode HTTP server and the renderer's client are
 * thin transports over exactly these calls. Plain data in and out (structured-clone
 * and JSON friendly, except `predictions`, a Uint8Array, which transports encode).
 */
import type { RunStatus } from './run-status.ts';
import { type AdapterRecord, MODEL_KINDS, type ModelKind, type ModelRecord, type RunRecord } from './records.ts';
import type { BuiltinDataset, DatasetImportRequest, DatasetKind, DatasetList, DatasetSample, DatasetView, SplitName } from './dataset.ts';
import type { RunConfig, RunKind } from './config.ts';
import type { TrainerExitReason } from './exit-reasons.ts';
import type { AdapterInfo, Evaluation, MetricPoint, RunSummary } from './protocol.ts';
import type { SweepDetail, SweepSpec, SweepView } from './sweep.ts';
import type { GroupComparison, GroupComparisonRequest, GroupRequest, GroupTable } from './groups.ts';
import type { AdapterAnalysis, AnalyzeRequest } from './analysis.ts';
import type { QueueRequest, WorkersView } from './workers.ts';
import type { ForgettingRequest, ForgettingView } from './forgetting.ts';
import type { WeightsRequest, WeightsView } from './playground.ts';

export type { RunStatus };

export interface RunProgress {
  phase: 'loading' | 'evaluating' | 'training';
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number | null;
  samplesPerSec: number;
  etaSeconds: number;
}

/** A run as lists show it: the stored record (its owner aside) plus what is derived for display. */
export interface RunView extends Omit<RunRecord, 'owner' | 'progress'> {
  /** Live while running or queued; for a cancelled, failed or interrupted run, how far it got (null once completed). */
  progress: RunProgress | null;
  /** Final test accuracy (fraction), when evaluated. */
  accuracy: number | null;
  /** Wrong count on the run's focus digits (its training digits, if a subset) after training. */
  focusWrong: number | null;
  focusWrongBefore: number | null;
  /**
   * Accuracy (fraction, 0–1) on the test images of the digits outside the focus, after
   * and before training: what fine-tuning on the focus cost (or gained) elsewhere. Out
   * of `otherCount` images; null for runs without a focus subset or not yet evaluated.
   */
  otherAccuracy: number | null;
  otherAccuracyBefore: number | null;
  /** n behind `otherAccuracy`: test images of the non-focus digits in the after evaluation. */
  otherCount: number | null;
  /** The data set it trains and is evaluated on, with the class names every per-class figure is indexed by. */
  dataset: DatasetRef | null;
  /** The focus classes by name (the fine-tune slice, when it is not every class), else null. */
  focusClasses: string[] | null;
  /** Set when a LoRA run's base model was trained on another data set (domain shift). */
  baseDataset: NamedRef | null;
}

/** A data set as runs and models name it. */
export interface DatasetRef {
  id: number;
  name: string;
  kind: DatasetKind;
  /** image: [height, width, channels]; table: [features]. */
  shape: number[];
  classes: string[];
}

export interface Series {
  steps: number[];
  values: number[];
  times: number[];
}

export type EvaluationView = Evaluation & { step: number };

export interface RunDetail extends RunView {
  evaluations: { before?: EvaluationView; after?: EvaluationView };
  metrics: Record<string, Series>;
}

export interface RunFilter {
  status?: RunStatus | RunStatus[];
  kind?: RunKind;
  tag?: string;
  /** Matches name, notes and tags. */
  text?: string;
  /** Dotted config paths → value, e.g. { 'lora.r': 1, lr: 0.001 }. */
  params?: Record<string, string | number | boolean>;
}

export interface ParamRow {
  /** Dotted config path, e.g. `lora.r`. */
  path: string;
  values: (string | number | boolean | null)[];
  differs: boolean;
}

export interface MetricSummary {
  key: string;
  /** Per run: last value, best value (min for losses, max otherwise), min and max. */
  perRun: ({ final: number; best: number; min: number; max: number; bestStep: number } | null)[];
}

export interface Comparison {
  runs: RunView[];
  params: ParamRow[];
  /** Metric key → one series per run (null where a run lacks it). */
  metrics: Record<string, (Series | null)[]>;
  evaluations: { before?: EvaluationView; after?: EvaluationView }[];
  summary: MetricSummary[];
}

export { MODEL_KINDS, type ModelKind };

export interface ModelView extends ModelRecord {
  dataset: DatasetRef | null;
  /** Runs fine-tuned from it, adapters on it, models derived from it. */
  dependents: { runs: number; adapters: number; models: number };
  /**
   * The same dependents by id and name (an adapter with the run it belongs to, or null):
   * what has to go before this model can (the UI's delete dialogs name and link them).
   */
  usedBy: { runs: NamedRef[]; adapters: (NamedRef & { runId: number | null })[]; models: NamedRef[] };
}

/** A stored run, model or adapter by id and name. */
export interface NamedRef {
  id: number;
  name: string;
}

export type AdapterView = AdapterRecord;

export interface NewRunInput {
  name?: string;
  config: RunConfig;
  /** The base model a LoRA run fine-tunes. */
  baseModelId?: number | null;
  tags?: string[];
  notes?: string;
}

export type LabEvent =
  | { type: 'run'; run: RunView }
  | { type: 'run-deleted'; id: number }
  | { type: 'progress'; runId: number; progress: RunProgress }
  | { type: 'metrics'; runId: number; points: MetricPoint[] }
  | { type: 'model'; model: ModelView }
  | { type: 'model-deleted'; id: number }
  | { type: 'adapter'; adapter: AdapterView }
  | { type: 'adapter-deleted'; id: number }
  | { type: 'dataset'; dataset: DatasetView }
  | { type: 'dataset-deleted'; id: number }
  /** A sweep changed: created, a run of it started or ended, finished, cancelled, paused. */
  | { type: 'sweep'; sweep: SweepView }
  | { type: 'sweep-deleted'; id: number }
  /** Progress of a long export, merge or data import (bytes, steps or files done of total). */
  | { type: 'task'; task: string; done: number; total: number; what?: string };

export interface EvalSummary {
  accuracy: number;
  loss: number;
  total: number;
  wrongPerClass: number[];
  countPerClass: number[];
  /** Class names, index = class (the evaluated model's data set). */
  classes: string[];
}

/**
 * How adapters combine: every combination type PEFT's `add_weighted_adapter` accepts,
 * by its name (README, Merge methods; src-main/weights/merge.ts says what each does).
 */
export const MERGE_METHODS = [
  'linear',
  'cat',
  'svd',
  'ties',
  'ties_svd',
  'dare_linear',
  'dare_ties',
  'dare_linear_svd',
  'dare_ties_svd',
  'magnitude_prune',
  'magnitude_prune_svd',
] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];
/**
 * Older names still accepted in a request (and read from stored previews): `dare` with
 * a `dropRate` p is `dare_linear_svd` with density 1 − p. (Stored previews that say
 * `ties` from before PEFT's names meant today's `ties_svd`: see store/merge-previews.ts.)
 */
export const LEGACY_MERGE_METHODS = ['dare'] as const;
export type LegacyMergeMethod = (typeof LEGACY_MERGE_METHODS)[number];
/** TIES' sign election (PEFT's `majority_sign_method`). */
export const MAJORITY_SIGN_METHODS = ['total', 'frequency'] as const;
export type MajoritySignMethod = (typeof MAJORITY_SIGN_METHODS)[number];

export interface MergeRequest {
  baseModelId: number;
  /** A negative weight subtracts what the adapter learned (task negation). */
  adapters: { adapterId: number; weight: number }[];
  method: MergeMethod | LegacyMergeMethod;
  /** Output rank of svd and the *_svd methods (default: the largest adapter rank). */
  rank?: number;
  /** Fraction of values kept, in [0, 1]: ties, magnitude_prune and dare_* (and their _svd forms). */
  density?: number;
  /** ties, dare_ties and their _svd forms (default `total`). */
  majoritySign?: MajoritySignMethod;
  /** Legacy `dare` only: its drop probability p (= 1 − density). */
  dropRate?: number;
  /** dare_* masks and the *_svd methods' randomized SVD (default 0). */
  seed?: number;
  /** Evaluate previews on this many test images (default all 10,000). */
  testLimit?: number | null;
}

export interface MergePreview {
  request: MergeRequest;
  base: EvalSummary;
  /** Each adapter alone on the base, in request order. */
  adapters: EvalSummary[];
  combined: EvalSummary;
}

/**
 * A merge preview the Merge page keeps (stored in the database: it survives a reload and
 * a restart). Names are those at the time of the preview; what was deleted since is said.
 */
export interface MergePreviewView {
  id: number;
  request: MergeRequest;
  base: EvalSummary;
  /** Each adapter alone on the base, in request order. */
  adapters: EvalSummary[];
  combined: EvalSummary;
  baseName: string;
  /** In request order. */
  adapterNames: string[];
  createdAt: number;
  /** The base model was deleted since. */
  baseDeleted: boolean;
  /** Adapters of the request deleted since (ids). */
  deletedAdapters: number[];
  /** What it was saved as; `deleted` once that model or adapter is gone (id is then null). */
  saved: { kind: 'model' | 'adapter'; id: number | null; name: string; at: number; deleted: boolean } | null;
}

export const EXPORT_FORMATS = ['safetensors', 'peft', 'tfjs', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * A file or folder name inside the export folder: no separators, no leading dot (so no
 * `..`), at most 128 characters. The only kind of `fileName` the transports (IPC, HTTP)
 * accept; in-process callers (the CLI: the local user) may also give an absolute path.
 */
export const SAFE_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._ ()+-]{0,127}$/;
export const FILE_NAME_RULE = 'a file name is letters, digits, spaces and . _ - ( ) +, without folders, and does not start with a dot';

export type ExportTarget =
  | { kind: 'model' | 'adapter' | 'run'; id: number }
  | { kind: 'comparison'; ids: number[] };

export interface ExportRequest {
  target: ExportTarget;
  format: ExportFormat;
  /** For an adapter or LoRA run: its base with the adapter merged in. */
  merged?: boolean;
  /**
   * A file (or folder, for peft and tfjs) name inside the export folder, or (in-process
   * callers only: the schemas refuse it) an absolute path, written as is.
   */
  fileName: string;
  overwrite?: boolean;
}

export interface ExportResult {
  path: string;
  files: { path: string; bytes: number; sha256: string }[];
}

export interface ImportRequest {
  /**
   * A file or folder name inside the export folder (links there are refused), or
   * (in-process callers only: the schemas refuse it) an absolute path, read as is.
   */
  fileName: string;
  kind: 'model' | 'adapter';
  /** For adapters: the model they were trained on. */
  baseModelId?: number;
  name?: string;
}

/** What inspectAdapter finds out about a PEFT folder in the export folder, before it is imported. */
export interface AdapterInspection {
  /** `base_model_name_or_path` in its adapter_config.json ("lora-lab/model-<id>" in LoRA Lab's exports), or null. */
  baseModelName: string | null;
  /** The stored model that name refers to (by id or by name), if any: it may still not fit. */
  namedModelId: number | null;
  /** The adapter's rank and target layers with the widths its tensors imply (null / empty when unreadable). */
  r: number | null;
  layers: { layer: string; in: number; out: number }[];
  /** Every stored model, newest first, with why the adapter does not fit it (null: it fits). */
  models: { modelId: number; mismatch: string | null }[];
  /** The base to pre-select: the named model if it fits, else the newest model that fits; null when none fits. */
  suggestedModelId: number | null;
  /** Why the folder cannot be read as a PEFT adapter, else null. */
  problem: string | null;
}

export interface FolderEntry {
  name: string;
  kind: 'file' | 'folder';
  bytes: number;
  modifiedAt: number;
}

export interface Presets {
  base: RunConfig;
  lora: RunConfig;
  /** A full fine-tune: the LoRA preset's data, steps and optimizer, every weight training. */
  full: RunConfig;
  classicBase: RunConfig;
  classicLora: RunConfig;
}

export interface LabApi {
  listRuns(filter?: RunFilter): Promise<RunView[]>;
  getRun(id: number): Promise<RunDetail>;
  createRun(input: NewRunInput): Promise<RunView>;
  cancelRun(id: number): Promise<RunView>;
  deleteRun(id: number): Promise<void>;
  renameRun(id: number, name: string): Promise<RunView>;
  setTags(id: number, tags: string[]): Promise<RunView>;
  setNotes(id: number, notes: string): Promise<RunView>;
  compareRuns(ids: number[]): Promise<Comparison>;
  listModels(): Promise<ModelView[]>;
  listAdapters(): Promise<AdapterView[]>;
  presets(): Promise<Presets>;
  /** Data sets (MNIST first) with their counts per class and what uses them, and the built-ins. */
  listDatasets(): Promise<DatasetList>;
  getDataset(id: number): Promise<DatasetView>;
  /** Reads a file or folder (IDX, CSV, image folder) into the lab; progress comes as `task` events. */
  importDataset(req: DatasetImportRequest): Promise<DatasetView>;
  /** Adds a built-in data set (Fashion-MNIST) to the lab; MNIST is always there. */
  addBuiltinDataset(name: BuiltinDataset): Promise<DatasetView>;
  /** Refused while runs or models use it. */
  deleteDataset(id: number): Promise<void>;
  /** Samples by index, for galleries of (mis)classified samples (at most 500 per call). */
  datasetSamples(id: number, split: SplitName, indices: number[]): Promise<DatasetSample[]>;
  /** The label of every sample of a split (one byte each), in split order. */
  datasetLabels(id: number, split: SplitName): Promise<Uint8Array>;
  previewMerge(req: MergeRequest): Promise<MergePreview>;
  saveMerge(req: MergeRequest & { name: string; output: 'model' | 'adapter' }): Promise<ModelView | AdapterView>;
  /** Kept previews, newest first. */
  listMergePreviews(): Promise<MergePreviewView[]>;
  /** Evaluates like previewMerge and keeps the result. */
  keepMergePreview(req: MergeRequest): Promise<MergePreviewView>;
  /** Saves a kept preview's combination (as saveMerge) and records on it what it was saved as. */
  saveMergePreview(id: number, name: string, output: 'model' | 'adapter'): Promise<{ preview: MergePreviewView; saved: ModelView | AdapterView }>;
  deleteMergePreview(id: number): Promise<void>;
  /** Progress of the write comes as `task` events (subscribe). */
  exportWeights(req: ExportRequest): Promise<ExportResult>;
  importWeights(req: ImportRequest): Promise<ModelView | AdapterView>;
  /** What is in the export folder (where exports go and imports come from). */
  listFolder(): Promise<{ folder: string; entries: FolderEntry[] }>;
  /** Which stored model a PEFT folder in the export folder fits (its config and tensor shapes), before importing it. */
  inspectAdapter(fileName: string): Promise<AdapterInspection>;
  evaluateModel(modelId: number, testLimit?: number | null): Promise<EvalSummary>;
  deleteModel(id: number): Promise<void>;
  deleteAdapter(id: number): Promise<void>;
  /**
   * What an adapter (or a LoRA run's) update looks like per layer: spectrum, ranks,
   * amplification, intruder dimensions, first-layer pictures, and φ against `vs`.
   */
  analyzeAdapter(req: AnalyzeRequest): Promise<AdapterAnalysis>;
  /** Learning against forgetting for fine-tunes of one slice (runs or a sweep): end points, trajectories, the Pareto front. */
  forgetting(req: ForgettingRequest): Promise<ForgettingView>;
  /** Remote workers (issue 17): where runs are queued (null: on this machine) and each worker's last heartbeat. */
  listWorkers(): Promise<WorkersView>;
  /**
   * Where runs train from now on: the queue at `url` (connected and checked first; a
   * clear error otherwise) or, with null, this machine. Refused while runs are on the
   * current queue. Remembered for the next start where the lab can (never in the database).
   */
  setQueue(req: QueueRequest): Promise<WorkersView>;
  /** A model's weights or an adapter's factors, with the input mapping of its data set (the playground runs them in the page). */
  getWeights(req: WeightsRequest): Promise<WeightsView>;
  /**
   * Checks the spec completely (one LabError naming every problem, before anything is
   * stored), stores the sweep with its points and starts training its runs.
   */
  createSweep(spec: SweepSpec): Promise<SweepView>;
  /** Newest first. */
  listSweeps(): Promise<SweepView[]>;
  /** The sweep with its points, groups, importance and best point; `objective` picks the figure (GROUP_FIGURES key). */
  getSweep(id: number, objective?: string): Promise<SweepDetail>;
  /** Cancels its queued runs and stops its running ones cleanly; pending points are never started. */
  cancelSweep(id: number): Promise<SweepView>;
  /** Goes on with a paused sweep in this process: queued points start, a run its dead process left is trained again (attempt counted). */
  resumeSweep(id: number): Promise<SweepView>;
  /** Deletes the sweep record; its runs stay, unlinked. Refused while it runs. */
  deleteSweep(id: number): Promise<void>;
  /** Runs grouped by config minus the seed (or by `by`): n and mean ± std of every figure. */
  groupRuns(req: GroupRequest): Promise<GroupTable>;
  /** Groups side by side: their curves as mean ± band, and for two groups the difference of means with its CI and Welch's p. */
  compareGroups(req: GroupComparisonRequest): Promise<GroupComparison>;
  /** Push events (run changes, live progress and metrics). Returns an unsubscribe. */
  subscribe(listener: (e: LabEvent) => void): () => void;
}

/** The calls a transport must expose, in one place (preload, HTTP routes and their tests use it). */
export const LAB_CALLS = [
  'listRuns',
  'getRun',
  'createRun',
  'cancelRun',
  'deleteRun',
  'renameRun',
  'setTags',
  'setNotes',
  'compareRuns',
  'listModels',
  'listAdapters',
  'presets',
  'listDatasets',
  'getDataset',
  'importDataset',
  'addBuiltinDataset',
  'deleteDataset',
  'datasetSamples',
  'datasetLabels',
  'previewMerge',
  'saveMerge',
  'listMergePreviews',
  'keepMergePreview',
  'saveMergePreview',
  'deleteMergePreview',
  'exportWeights',
  'importWeights',
  'listFolder',
  'inspectAdapter',
  'evaluateModel',
  'deleteModel',
  'deleteAdapter',
  'analyzeAdapter',
  'forgetting',
  'listWorkers',
  'setQueue',
  'getWeights',
  'createSweep',
  'listSweeps',
  'getSweep',
  'cancelSweep',
  'resumeSweep',
  'deleteSweep',
  'groupRuns',
  'compareGroups',
] as const satisfies readonly Exclude<keyof LabApi, 'subscribe'>[];

export type LabCall = (typeof LAB_CALLS)[number];

/** Errors a transport maps to 4xx: the caller asked for something wrong. */
export class LabError extends Error {
  override name = 'LabError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 503 | 507 = 400,
  ) {
    super(message);
  }
}
