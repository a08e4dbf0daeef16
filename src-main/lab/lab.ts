/**
 * The Lab service: the one owner of the store and the run manager, implementing
 * LabApi. Transports (Electron IPC, web-mode HTTP, the CLI) call it and nothing else.
 */
import { type Store, openStore } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import type { StoredAdapter } from '../store/adapters.ts';
import { RUN_KIND_LABELS, classicPreset, defaultConfig, isFineTune, validateConfig } from '../contract/config.ts';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { machineMemory } from '../util/machine.ts';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { WeightsService, evalSummary } from './weights-service.ts';
import { AnalysisService } from './analysis-service.ts';
import type { AdapterAnalysis, AnalyzeRequest } from '../contract/analysis.ts';
import type { ForgettingRequest, ForgettingView } from '../contract/forgetting.ts';
import type { WeightsRequest, WeightsView } from '../contract/playground.ts';
import { pageWeights } from './page-weights.ts';
import { forgettingView } from './forgetting.ts';
import { checkImportEntry, refuseLinks } from './export-folder.ts';
import { inspectAdapter } from './import-inspect.ts';
import { sweepPartials } from './files.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../weights/peft.ts';
import type {
  AdapterInspection,
  EvalSummary, ExportRequest, ExportResult, FolderEntry, ImportRequest, MergePreview, MergeRequest,
  AdapterView, Comparison, DatasetRef, EvaluationView, LabApi, MergePreviewView, LabEvent, ModelView, NewRunInput, Presets, RunDetail, RunFilter, RunProgress, RunView, Series,
} from '../contract/api.ts';
import { FILE_NAME_RULE, LabError, SAFE_FILE_NAME } from '../contract/api.ts';
import type { BuiltinDataset, DatasetImportRequest, DatasetList, DatasetSample, DatasetView, SplitName } from '../contract/dataset.ts';
import { DatasetsService } from './datasets-service.ts';
import { adapterView, datasetRef, modelView, runView } from './views.ts';
import { checkName, checkNotes, checkTags, defaultName, guard, guardAsync } from './checks.ts';
import { compareData } from './compare.ts';
import { deletePreview, keepPreview, listPreviews, savePreview } from './previews.ts';
import { QueueService } from './queue-service.ts';
import type { QueueRequest, WorkersView } from '../contract/workers.ts';
import { OWNER, RunManager, type RunManagerOptions } from './run-manager.ts';
import { OutsideChanges } from './outside-changes.ts';
import { memoryProblem, trainerMemory } from '../contract/memory.ts';
import type { RunSweepLink } from '../contract/records.ts';
import type { SweepDetail, SweepSpec, SweepView } from '../contract/sweep.ts';
import type { GroupComparison, GroupComparisonRequest, GroupRequest, GroupTable } from '../contract/groups.ts';
import { SweepService } from './sweep-service.ts';
import { compareGroups, groupRuns } from './groups.ts';

export interface LabOptions extends RunManagerOptions {
  /** Mark runs orphaned by a dead process as interrupted at start (default true). */
  recover?: boolean;
  /** Quick-check the whole file at open, bulk tables included (see OpenOptions.fullCheck). */
  fullCheck?: boolean;
  /** Where exports are written and imports read through the API (default: `exports/` beside the database). */
  exportDir?: string;
  /**
   * How often (ms) to look for changes other processes made to the database (a CLI
   * beside the app), while anyone is subscribed; default 500, 0 never.
   */
  outsideChangesMs?: number;
  /**
   * Go on with sweeps whose driving process is gone (default false: a short CLI command
   * must not start training). The app and `lora-lab serve` set it.
   */
  resumeSweeps?: boolean;
  /**
   * Where this lab remembers the queue set on its Workers page (the app and `serve`:
   * remote/settings.ts queueFileFor); unset, a queue set there lasts for the process.
   * Ignored when `remote` is given (a --redis host keeps the queue it was given).
   */
  queueFile?: string | null;
}

/** A file or folder name inside the export folder: no separators, no leading dot. */
const SAFE_NAME = SAFE_FILE_NAME;


export class Lab implements LabApi {
  readonly store: Store;
  readonly manager: RunManager;
  readonly #listeners = new Set<(e: LabEvent) => void>();
  readonly #progress = new Map<number, RunProgress>();
  /** Other processes' changes to the database, as events (see outside-changes.ts). */
  readonly #outside: OutsideChanges;
  /** Runs whose interruption this process detected at start. */
  readonly recovered: number[];

  readonly weights: WeightsService;
  readonly exportDir: string;
  readonly #datasets: DatasetsService;
  readonly #analysis: AnalysisService;
  readonly #sweeps: SweepService;
  /** Data sets by id as runs and models name them (data sets never change, only go). */
  readonly #datasetRefs = new Map<number, DatasetRef | null>();

  /** The database file this Lab serves (for `lora-lab serve` to print). */
  get databaseFile(): string {
    return this.store.file;
  }

  readonly #queue: QueueService;

  constructor(store: Store, opts: LabOptions = {}) {
    this.store = store;
    this.weights = new WeightsService(store, opts.host ?? {});
    this.#analysis = new AnalysisService(store, (id) => this.#datasetRef(id));
    this.#datasets = new DatasetsService(store, (e) => {
      if (e.type === 'dataset-deleted') this.#datasetRefs.delete(e.id);
      this.#emit(e);
    });
    this.exportDir = opts.exportDir ?? join(store.file === ':memory:' ? tmpdir() : dirname(store.file), 'exports');
    this.manager = new RunManager(
      store,
      {
        runChanged: (id) => {
          const run = this.store.runs.find(id);
          if (run && !['queued', 'running'].includes(run.status)) this.#progress.delete(id);
          if (run) this.#emit({ type: 'run', run: this.#view(run) });
          if (run?.sweep) this.#sweeps.runChanged(run);
        },
        progress: (id, progress) => {
          this.#progress.set(id, progress);
          this.#emit({ type: 'progress', runId: id, progress });
        },
        metrics: (id, points) => {
          this.#emit({ type: 'metrics', runId: id, points });
          this.#sweeps.metrics(id, points);
        },
        modelCreated: (id) => this.#emit({ type: 'model', model: this.#modelView(id) }),
      },
      opts,
    );
    this.#outside = new OutsideChanges(
      store,
      {
        emit: (e) => this.#deliver(e),
        runView: (run) => this.#view(run),
        modelView: (id) => this.#modelView(id),
        adapterView: (id) => adapterView(this.store.adapters.get(id)),
        datasetView: (id) => this.#datasets.view(id),
        ownRun: (id) => this.manager.running.includes(id) || this.manager.queued.includes(id),
      },
      opts.outsideChangesMs ?? 500,
    );
    this.#queue = new QueueService(this.manager, opts.remote ?? null, opts.remote ? null : (opts.queueFile ?? null));
    this.#sweeps = new SweepService(store, this.manager, {
      emit: (e) => this.#emit(e),
      createRun: (input, link) => this.#createRun(input, link),
      runView: (run) => this.#view(run),
      datasetRef: (id) => this.#datasetRef(id),
      datasetShape: (id) => this.#datasets.shape(id),
    });
    this.recovered = opts.recover === false ? [] : this.manager.recover();
    // And while open: a process that owned a run can die at any time.
    if (opts.recover !== false) this.manager.watchOwners();
    // What exports killed mid-write left behind (their writers are dead; live ones' stay).
    sweepPartials(this.exportDir);
    // Sweeps whose process died: paused, and (in the app and serve) gone on with here.
    if (opts.recover !== false) this.#sweeps.recover(opts.resumeSweeps ?? false);
  }

  static open(file?: string, opts: LabOptions = {}): Lab {
    return new Lab(openStore(file, opts.fullCheck ? { fullCheck: true } : {}), opts);
  }

  async close(): Promise<void> {
    this.#outside.stop();
    this.#sweeps.close();
    await this.manager.shutdown();
    await this.#queue.close();
    this.store.close();
  }

  // ── runs ──────────────────────────────────────────────────────────────────────

  async listRuns(filter: RunFilter = {}): Promise<RunView[]> {
    return guard(() => this.store.runs.list(filter).map((r) => this.#view(r)));
  }

  async getRun(id: number): Promise<RunDetail> {
    return guard(() => {
      const run = this.#require(id);
      const metrics: Record<string, Series> = {};
      for (const key of this.store.metrics.keys(id)) metrics[key] = this.store.metrics.series(id, key);
      return { ...this.#view(run), evaluations: this.store.evaluations.get(id), metrics };
    });
  }

  async createRun(input: NewRunInput): Promise<RunView> {
    return guard(() => this.#createRun(input, null));
  }

  /** Checks, stores (with its sweep link) and queues a run; sweeps create theirs through here too. */
  #createRun(input: NewRunInput, sweep: RunSweepLink | null): RunView {
    const config = structuredClone(input.config);
    validateConfig(config, this.#datasets.shape(config.data));
    // Refuse what cannot fit before anything is stored or started.
    const tooBig = memoryProblem(trainerMemory(config, this.#datasets.memoryBytes(config.data)), machineMemory());
    if (tooBig) throw new LabError(tooBig);
    let baseModelId: number | null = null;
    if (isFineTune(config.kind)) {
      if (input.baseModelId === undefined || input.baseModelId === null) throw new LabError(`a ${RUN_KIND_LABELS[config.kind]} run needs a base model to fine-tune (baseModelId)`);
      const base = this.store.models.find(input.baseModelId);
      if (!base) throw new LabError(`model ${input.baseModelId} does not exist`, 404);
      if (base.sizes.join() !== config.sizes.join()) {
        throw new LabError(`model ${base.id} has layers ${base.sizes.join('→')}, the config asks for ${config.sizes.join('→')}`);
      }
      // Another data set than the base's is allowed when the shapes match (domain shift; the run says so).
      baseModelId = base.id;
    }
    const name = checkName(input.name ?? defaultName(config, this.#datasetRef(config.data)));
    const run = this.store.transaction(() => {
      const r = this.store.runs.create({ name, kind: config.kind, config, baseModelId, sweep });
      // Owned from its first committed moment: another process's recovery never sees it ownerless.
      this.store.runs.setOwner(r.id, OWNER);
      // A sweep's point and its run are committed together: a point never gets two runs.
      if (sweep) this.store.sweeps.attachRun(sweep, r.id);
      if (input.tags?.length) this.store.runs.setTags(r.id, checkTags(input.tags));
      if (input.notes) this.store.runs.setNotes(r.id, checkNotes(input.notes));
      return r;
    });
    this.manager.enqueue(run.id);
    const view = this.#view(this.store.runs.get(run.id));
    this.#emit({ type: 'run', run: view });
    return view;
  }

  /** Resolves when the run has reached a final status (for the CLI and tests). */
  async waitForRun(id: number): Promise<RunView> {
    return this.#view(await this.manager.wait(id));
  }

  async cancelRun(id: number): Promise<RunView> {
    return guard(() => {
      const run = this.#require(id);
      if (run.status !== 'queued' && run.status !== 'running') throw new LabError(`run ${id} is ${run.status}; only queued or running runs can be cancelled`, 409);
      if (!this.manager.running.includes(id) && !this.manager.queued.includes(id)) {
        // Its owner died: it is interrupted now, which is what the cancel asked for.
        if (this.manager.reapIfOrphaned(id)) return this.#view(this.store.runs.get(id));
        throw new LabError(`run ${id} is being trained by another LoRA Lab process (${this.store.runs.owner(id) ?? 'unknown'}); cancel it there`, 409);
      }
      this.manager.cancel(id);
      return this.#view(this.store.runs.get(id));
    });
  }

  async deleteRun(id: number): Promise<void> {
    guard(() => {
      const run = this.#require(id);
      // A run whose owning process died is interrupted on the spot, and may then go.
      const unfinished = run.status === 'queued' || run.status === 'running';
      if (unfinished && !this.manager.reapIfOrphaned(id)) throw new LabError(`run ${id} is ${run.status}; cancel it before deleting`, 409);
      this.store.runs.delete(id);
      this.#emit({ type: 'run-deleted', id });
      // Its adapter went with it (cascade), and its model.
      if (run.adapterId !== null) this.#emit({ type: 'adapter-deleted', id: run.adapterId });
      if (run.modelId !== null) this.#emit({ type: 'model-deleted', id: run.modelId });
    });
  }

  async renameRun(id: number, name: string): Promise<RunView> {
    return this.#update(id, () => this.store.runs.rename(id, checkName(name)));
  }

  async setTags(id: number, tags: string[]): Promise<RunView> {
    return this.#update(id, () => this.store.runs.setTags(id, checkTags(tags)));
  }

  async setNotes(id: number, notes: string): Promise<RunView> {
    return this.#update(id, () => this.store.runs.setNotes(id, checkNotes(notes)));
  }

  async compareRuns(ids: number[]): Promise<Comparison> {
    return guard(() => {
      const c = compareData(this.store, ids);
      return { ...c, runs: c.runs.map((r) => this.#view(r)) };
    });
  }

  // ── sweeps (sweep-service.ts) and groups (groups.ts) ──────────────────────────

  async createSweep(spec: SweepSpec): Promise<SweepView> {
    return guard(() => this.#sweeps.create(spec));
  }

  async listSweeps(): Promise<SweepView[]> {
    return guard(() => this.#sweeps.list());
  }

  async getSweep(id: number, objective?: string): Promise<SweepDetail> {
    return guard(() => this.#sweeps.detail(id, objective));
  }

  async cancelSweep(id: number): Promise<SweepView> {
    return guard(() => this.#sweeps.cancel(id));
  }

  async resumeSweep(id: number): Promise<SweepView> {
    return guard(() => this.#sweeps.resume(id));
  }

  async deleteSweep(id: number): Promise<void> {
    guard(() => this.#sweeps.delete(id));
  }

  /** Resolves when the sweep is no longer running here (completed, cancelled, failed or paused), for the CLI and tests. */
  async waitForSweep(id: number): Promise<SweepView> {
    return this.#sweeps.wait(id);
  }

  async groupRuns(req: GroupRequest): Promise<GroupTable> {
    return guard(() => groupRuns(this.store, req, (id) => this.#datasetRef(id)));
  }

  async compareGroups(req: GroupComparisonRequest): Promise<GroupComparison> {
    return guard(() => compareGroups(this.store, req, (id) => this.#datasetRef(id)));
  }

  // ── remote workers ───────────────────────────────────────────────────────────

  async listWorkers(): Promise<WorkersView> {
    return this.#queue.view();
  }

  async setQueue(req: QueueRequest): Promise<WorkersView> {
    return this.#queue.set(req);
  }

  /** At start (the app, `serve`): trains on the queue this lab remembers, if it can be reached; returns why not, or null. */
  connectRememberedQueue(): Promise<string | null> {
    return this.#queue.connectRemembered();
  }

  // ── models and adapters ──────────────────────────────────────────────────────

  async listModels(): Promise<ModelView[]> {
    return guard(() => this.store.models.list().map((m) => this.#modelView(m.id)));
  }

  async listAdapters(): Promise<AdapterView[]> {
    return guard(() => this.store.adapters.list().map((a) => adapterView(a)));
  }

  async presets(): Promise<Presets> {
    return { base: defaultConfig('base'), lora: defaultConfig('lora'), full: defaultConfig('full'), classicBase: classicPreset('base'), classicLora: classicPreset('lora') };
  }

  // ── data sets (datasets-service.ts) ─────────────────────────────────────────

  async listDatasets(): Promise<DatasetList> {
    return guard(() => this.#datasets.list());
  }

  async getDataset(id: number): Promise<DatasetView> {
    return guard(() => this.#datasets.view(id));
  }

  /**
   * `path`: a plain name inside the export folder, or (in-process callers: the CLI) any
   * path; the transports' schemas allow only the first. Progress comes as `task` events.
   */
  async importDataset(req: DatasetImportRequest): Promise<DatasetView> {
    return guardAsync(async () => {
      const { path, inFolder } = this.#target(req.path);
      // Through the transports only the export folder's own entries: a link there could point anywhere.
      if (inFolder && existsSync(path)) refuseLinks(path, req.path);
      const task = `import ${req.name ?? basename(req.path)}`;
      return this.#datasets.importFrom(path, req, (done, total, what) => this.#emit({ type: 'task', task, done, total, what }));
    });
  }

  async addBuiltinDataset(name: BuiltinDataset): Promise<DatasetView> {
    return guardAsync(() => this.#datasets.addBuiltin(name, (done, total, what) => this.#emit({ type: 'task', task: `add ${name}`, done, total, what })));
  }

  async deleteDataset(id: number): Promise<void> {
    guard(() => this.#datasets.delete(id));
  }

  async datasetSamples(id: number, split: SplitName, indices: number[]): Promise<DatasetSample[]> {
    return guard(() => this.#datasets.samples(id, split, indices));
  }

  async datasetLabels(id: number, split: SplitName): Promise<Uint8Array> {
    return guard(() => this.#datasets.labels(id, split));
  }

  // ── merge, export, import ────────────────────────────────────────────────────

  async previewMerge(req: MergeRequest): Promise<MergePreview> {
    return guardAsync(() => this.weights.previewMerge(req));
  }

  async saveMerge(req: MergeRequest & { name: string; output: 'model' | 'adapter' }): Promise<ModelView | AdapterView> {
    return guardAsync(async () => {
      const name = checkName(req.name);
      // The merge runs on a worker thread; only the store write happens on this one.
      const saved = await this.weights.saveMerge(req, name, req.output);
      return this.#announce(saved);
    });
  }

  // Kept previews: the logic is in previews.ts.
  async listMergePreviews(): Promise<MergePreviewView[]> {
    return guard(() => listPreviews(this.store));
  }

  async keepMergePreview(req: MergeRequest): Promise<MergePreviewView> {
    return guardAsync(async () => keepPreview(this.store, req, await this.weights.previewMerge(req)));
  }

  async saveMergePreview(id: number, name: string, output: 'model' | 'adapter'): Promise<{ preview: MergePreviewView; saved: ModelView | AdapterView }> {
    return guardAsync(() => savePreview(this.store, id, output, (req) => this.saveMerge({ ...req, name, output })));
  }

  async deleteMergePreview(id: number): Promise<void> {
    guard(() => deletePreview(this.store, id));
  }

  async exportWeights(req: ExportRequest): Promise<ExportResult> {
    return guardAsync(async () => {
      const { path, inFolder } = this.#target(req.fileName);
      if (inFolder) mkdirSync(this.exportDir, { recursive: true });
      const files = await this.weights.exportTo(req.target, req.format, path, {
        merged: req.merged ?? false,
        overwrite: req.overwrite ?? false,
        progress: (done, total, what) => this.#emit({ type: 'task', task: `export ${what}`, done, total }),
      });
      return { path, files };
    });
  }

  async importWeights(req: ImportRequest): Promise<ModelView | AdapterView> {
    return guardAsync(async () => {
      const { path, inFolder } = this.#target(req.fileName);
      // From the export folder only what is stored in it itself: links (in or out of it), pipes and devices are refused.
      // An absolute path is the local user's own choice (the CLI), read as given.
      if (inFolder) checkImportEntry(this.exportDir, req.fileName, req.kind === 'model' ? 'model' : 'adapter', [PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE]);
      const name = checkName(req.name ?? basename(path));
      const noFollow = inFolder;
      // Read and checked on a worker thread: a large file does not block this one.
      if (req.kind === 'model') return this.#announce({ kind: 'model', id: await this.weights.importModel(path, name, { noFollow, dataset: (sizes) => this.#datasets.fitting(sizes).id }) });
      if (req.baseModelId === undefined) throw new LabError('importing an adapter needs the model it was trained on (baseModelId)');
      return this.#announce({ kind: 'adapter', id: await this.weights.importAdapter(path, req.baseModelId, name, { noFollow }) });
    });
  }

  async listFolder(): Promise<{ folder: string; entries: FolderEntry[] }> {
    if (!existsSync(this.exportDir)) return { folder: this.exportDir, entries: [] };
    const entries = readdirSync(this.exportDir, { withFileTypes: true })
      .filter((d) => SAFE_NAME.test(d.name) && (d.isFile() || d.isDirectory()))
      .map((d) => {
        const st = lstatSync(join(this.exportDir, d.name));
        return { name: d.name, kind: d.isDirectory() ? ('folder' as const) : ('file' as const), bytes: st.size, modifiedAt: st.mtimeMs };
      })
      .sort((a, b) => b.modifiedAt - a.modifiedAt);
    return { folder: this.exportDir, entries };
  }

  async inspectAdapter(fileName: string): Promise<AdapterInspection> {
    // import-inspect.ts: the config and the safetensors header only, matched against every stored model.
    return guard(() => (this.#inFolder(fileName), inspectAdapter(this.exportDir, fileName, this.store.models.list())));
  }

  async evaluateModel(modelId: number, testLimit: number | null = null): Promise<EvalSummary> {
    return guardAsync(async () => {
      const { sizes, tensors } = this.weights.modelWeights(modelId);
      const data = this.weights.dataOf(modelId);
      const [e] = await this.weights.evaluate({ runId: `eval-model-${modelId}`, sizes, data, testLimit, models: [{ name: `model ${modelId}`, tensors }] });
      return evalSummary(e as NonNullable<typeof e>, this.weights.classesOf(modelId));
    });
  }

  async deleteModel(id: number): Promise<void> {
    guard(() => {
      this.store.models.delete(id);
      this.#emit({ type: 'model-deleted', id });
    });
  }

  async deleteAdapter(id: number): Promise<void> {
    guard(() => {
      const a = this.store.adapters.get(id);
      if (a.runId !== null) throw new LabError(`adapter ${id} belongs to run ${a.runId}: delete the run instead`, 409);
      this.store.adapters.delete(id);
      this.#emit({ type: 'adapter-deleted', id });
    });
  }

  async analyzeAdapter(req: AnalyzeRequest): Promise<AdapterAnalysis> {
    return guardAsync(() => this.#analysis.analyze(req));
  }

  async getWeights(req: WeightsRequest): Promise<WeightsView> {
    return guard(() => pageWeights(this.store, req, (id) => this.weights.modelWeights(id).tensors));
  }

  async forgetting(req: ForgettingRequest): Promise<ForgettingView> {
    return guard(() => forgettingView(this.store, req, { datasetRef: (id) => this.#datasetRef(id), testLabels: (id) => this.#datasets.labels(id, 'test') }));
  }

  #inFolder(fileName: string): string {
    if (typeof fileName !== 'string' || !SAFE_NAME.test(fileName)) throw new LabError(FILE_NAME_RULE);
    return join(this.exportDir, fileName);
  }

  /**
   * Where an export goes or an import comes from: a plain name is taken inside the export
   * folder, an absolute path as is. Only in-process callers (the CLI: the local user) can
   * give a path; the transports' schemas (contract/schemas.ts) accept names only.
   */
  #target(fileName: string): { path: string; inFolder: boolean } {
    if (typeof fileName === 'string' && isAbsolute(fileName) && !fileName.includes('\0')) return { path: resolve(fileName), inFolder: false };
    return { path: this.#inFolder(fileName), inFolder: true };
  }

  #announce(saved: { kind: 'model' | 'adapter'; id: number }): ModelView | AdapterView {
    if (saved.kind === 'model') {
      const view = this.#modelView(saved.id);
      this.#emit({ type: 'model', model: view });
      return view;
    }
    const view = adapterView(this.store.adapters.get(saved.id));
    this.#emit({ type: 'adapter', adapter: view });
    return view;
  }

  /**
   * Events for every change: this process's own, and (while anyone listens) those other
   * processes make to the same database file, within about `outsideChangesMs`.
   */
  subscribe(listener: (e: LabEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#outside.start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#outside.stop();
    };
  }

  // ── internals ────────────────────────────────────────────────────────────────

  /** This process's own change: told to listeners, and noted so it is not told again as an outside one. */
  #emit(e: LabEvent): void {
    this.#outside.seen(e);
    this.#deliver(e);
  }

  #deliver(e: LabEvent): void {
    // Another process may delete a data set and import another under its id's successor: never serve a stale name.
    if (e.type === 'dataset' || e.type === 'dataset-deleted') this.#datasetRefs.delete(e.type === 'dataset' ? e.dataset.id : e.id);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure must not break the run manager */
      }
    }
  }

  #require(id: number): StoredRun {
    if (!Number.isInteger(id)) throw new LabError(`run id must be an integer, got ${JSON.stringify(id)}`);
    const run = this.store.runs.find(id);
    if (!run) throw new LabError(`run ${id} does not exist`, 404);
    return run;
  }

  async #update(id: number, write: () => unknown): Promise<RunView> {
    return guard(() => {
      this.#require(id);
      write();
      const view = this.#view(this.store.runs.get(id));
      this.#emit({ type: 'run', run: view });
      return view;
    });
  }

  #view(run: StoredRun): RunView {
    // Live while it runs; for a run that stopped early (cancelled, failed, interrupted) how far it got.
    const live = run.status === 'running' || run.status === 'queued' ? (this.#progress.get(run.id) ?? (run.progress as RunProgress | null)) : run.status === 'completed' ? null : (run.progress as RunProgress | null);
    return runView(this.store, run, live ?? null, (id) => this.#datasetRef(id));
  }

  #modelView(id: number): ModelView {
    return modelView(this.store, id, (d) => this.#datasetRef(d));
  }

  #datasetRef(id: number): DatasetRef | null {
    if (!this.#datasetRefs.has(id)) this.#datasetRefs.set(id, datasetRef(this.store, id));
    return this.#datasetRefs.get(id) ?? null;
  }
}

