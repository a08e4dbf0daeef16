/**
 * The Lab service: the one owner of the store and the run manager, implementing
 * LabApi. Transports (Electron IPC, web-mode HTTP, the CLI) call it and nothing else.
 */
import { type Store, openStore } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import type { StoredAdapter } from '../store/adapters.ts';
import { classicPreset, defaultConfig, validateConfig } from '../contract/config.ts';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { machineMemory } from '../util/machine.ts';
import { dirname, join } from 'node:path';
import { WeightsService } from './weights-service.ts';
import { checkImportEntry } from './export-folder.ts';
import { inspectAdapter } from './import-inspect.ts';
import { sweepPartials } from './files.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../weights/peft.ts';
import type {
  AdapterInspection,
  EvalSummary, ExportRequest, ExportResult, FolderEntry, ImportRequest, MergePreview, MergeRequest,
  AdapterView, Comparison, DigitImage, EvaluationView, LabApi, MergePreviewView, LabEvent, ModelView, NewRunInput, Presets, RunDetail, RunFilter, RunProgress, RunView, Series,
} from '../contract/api.ts';
import { LabError } from '../contract/api.ts';
import { IMAGE_SIZE, loadMnist } from '../data/mnist.ts';
import { checkName, checkNotes, checkTags, defaultName, guard, guardAsync } from './checks.ts';
import { compareData } from './compare.ts';
import { deletePreview, keepPreview, listPreviews, savePreview } from './previews.ts';
import { OWNER, RunManager, type RunManagerOptions } from './run-manager.ts';
import { OutsideChanges } from './outside-changes.ts';
import { memoryProblem, trainerMemory } from '../trainer/memory.ts';

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
}

/** A file or folder name inside the export folder: no separators, no leading dot. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._ ()+-]{0,127}$/;


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

  constructor(store: Store, opts: LabOptions = {}) {
    this.store = store;
    this.weights = new WeightsService(store, opts.host ?? {});
    this.exportDir = opts.exportDir ?? join(store.file === ':memory:' ? tmpdir() : dirname(store.file), 'exports');
    this.manager = new RunManager(
      store,
      {
        runChanged: (id) => {
          const run = this.store.runs.find(id);
          if (run && !['queued', 'running'].includes(run.status)) this.#progress.delete(id);
          if (run) this.#emit({ type: 'run', run: this.#view(run) });
        },
        progress: (id, progress) => {
          this.#progress.set(id, progress);
          this.#emit({ type: 'progress', runId: id, progress });
        },
        metrics: (id, points) => this.#emit({ type: 'metrics', runId: id, points }),
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
        ownRun: (id) => this.manager.running.includes(id) || this.manager.queued.includes(id),
      },
      opts.outsideChangesMs ?? 500,
    );
    this.recovered = opts.recover === false ? [] : this.manager.recover();
    // And while open: a process that owned a run can die at any time.
    if (opts.recover !== false) this.manager.watchOwners();
    // What exports killed mid-write left behind (their writers are dead; live ones' stay).
    sweepPartials(this.exportDir);
  }

  static open(file?: string, opts: LabOptions = {}): Lab {
    return new Lab(openStore(file, opts.fullCheck ? { fullCheck: true } : {}), opts);
  }

  async close(): Promise<void> {
    this.#outside.stop();
    await this.manager.shutdown();
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
    return guard(() => {
      const config = validateConfig(structuredClone(input.config));
      // Refuse what cannot fit before anything is stored or started.
      const tooBig = memoryProblem(trainerMemory(config), machineMemory());
      if (tooBig) throw new LabError(tooBig);
      let baseModelId: number | null = null;
      if (config.kind === 'lora') {
        if (input.baseModelId === undefined || input.baseModelId === null) throw new LabError('a LoRA run needs a base model to fine-tune (baseModelId)');
        const base = this.store.models.find(input.baseModelId);
        if (!base) throw new LabError(`model ${input.baseModelId} does not exist`, 404);
        if (base.sizes.join() !== config.sizes.join()) {
          throw new LabError(`model ${base.id} has layers ${base.sizes.join('→')}, the config asks for ${config.sizes.join('→')}`);
        }
        baseModelId = base.id;
      }
      const name = checkName(input.name ?? defaultName(config));
      const run = this.store.transaction(() => {
        const r = this.store.runs.create({ name, kind: config.kind, config, baseModelId });
        // Owned from its first committed moment: another process's recovery never sees it ownerless.
        this.store.runs.setOwner(r.id, OWNER);
        if (input.tags?.length) this.store.runs.setTags(r.id, checkTags(input.tags));
        if (input.notes) this.store.runs.setNotes(r.id, checkNotes(input.notes));
        return r;
      });
      this.manager.enqueue(run.id);
      const view = this.#view(this.store.runs.get(run.id));
      this.#emit({ type: 'run', run: view });
      return view;
    });
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

  // ── models and adapters ──────────────────────────────────────────────────────

  async listModels(): Promise<ModelView[]> {
    return guard(() => this.store.models.list().map((m) => this.#modelView(m.id)));
  }

  async listAdapters(): Promise<AdapterView[]> {
    return guard(() => this.store.adapters.list().map((a) => adapterView(a)));
  }

  async presets(): Promise<Presets> {
    return { base: defaultConfig('base'), lora: defaultConfig('lora'), classicBase: classicPreset('base'), classicLora: classicPreset('lora') };
  }

  async testImages(indices: number[]): Promise<DigitImage[]> {
    if (!Array.isArray(indices) || indices.length > 500) throw new LabError('ask for at most 500 images at a time');
    const test = loadMnist('test');
    return indices.map((index) => {
      if (!Number.isInteger(index) || index < 0 || index >= test.count) throw new LabError(`test image ${index} does not exist (0–${test.count - 1})`);
      return { index, label: test.labels[index] as number, pixels: test.images.slice(index * IMAGE_SIZE, (index + 1) * IMAGE_SIZE) };
    });
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
      const path = this.#inFolder(req.fileName);
      mkdirSync(this.exportDir, { recursive: true });
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
      const path = this.#inFolder(req.fileName);
      // Only what is stored in the folder itself: links (in or out of it), pipes and devices are refused.
      checkImportEntry(this.exportDir, req.fileName, req.kind === 'model' ? 'model' : 'adapter', [PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE]);
      const name = checkName(req.name ?? req.fileName);
      // Read and checked on a worker thread: a large file does not block this one.
      if (req.kind === 'model') return this.#announce({ kind: 'model', id: await this.weights.importModel(path, name, { noFollow: true }) });
      if (req.baseModelId === undefined) throw new LabError('importing an adapter needs the model it was trained on (baseModelId)');
      return this.#announce({ kind: 'adapter', id: await this.weights.importAdapter(path, req.baseModelId, name, { noFollow: true }) });
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
      const [e] = await this.weights.evaluate({ runId: `eval-model-${modelId}`, sizes, testLimit, models: [{ name: `model ${modelId}`, tensors }] });
      const r = e as NonNullable<typeof e>;
      return { accuracy: r.accuracy, loss: r.loss, total: r.total, wrongPerClass: r.wrongPerClass, countPerClass: r.countPerClass };
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

  #inFolder(fileName: string): string {
    if (typeof fileName !== 'string' || !SAFE_NAME.test(fileName)) {
      throw new LabError('a file name is letters, digits, spaces and . _ - ( ) +, without folders, and does not start with a dot');
    }
    return join(this.exportDir, fileName);
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

  async testLabels(): Promise<Uint8Array> {
    return loadMnist('test').labels.slice();
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
    const ev = this.store.evaluations.get(run.id);
    const focus = run.config.digits && run.config.digits.length < 10 ? run.config.digits : null;
    const wrongOn = (e: EvaluationView | undefined) => (e && focus ? focus.reduce((s, d) => s + (e.wrongPerClass[d] ?? 0), 0) : null);
    // The digits outside the focus: accuracy there (fraction) and how many images that is.
    const otherOn = (e: EvaluationView | undefined) => {
      if (!e || !focus) return null;
      let wrong = 0;
      let n = 0;
      e.countPerClass.forEach((c, d) => {
        if (focus.includes(d)) return;
        wrong += e.wrongPerClass[d] ?? 0;
        n += c;
      });
      return n > 0 ? { accuracy: 1 - wrong / n, n } : null;
    };
    const otherAfter = otherOn(ev.after);
    // Live while it runs; for a run that stopped early (cancelled, failed, interrupted) how far it got.
    const live = run.status === 'running' || run.status === 'queued' ? (this.#progress.get(run.id) ?? (run.progress as RunProgress | null)) : run.status === 'completed' ? null : (run.progress as RunProgress | null);
    return {
      id: run.id,
      name: run.name,
      kind: run.kind,
      status: run.status,
      config: run.config,
      baseModelId: run.baseModelId,
      modelId: run.modelId,
      adapterId: run.adapterId,
      backend: run.backend,
      device: run.device,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      error: run.error,
      tags: run.tags,
      notes: run.notes,
      summary: run.summary,
      progress: live ?? null,
      accuracy: ev.after?.accuracy ?? null,
      focusWrong: wrongOn(ev.after),
      focusWrongBefore: wrongOn(ev.before),
      otherAccuracy: otherAfter?.accuracy ?? null,
      otherAccuracyBefore: otherOn(ev.before)?.accuracy ?? null,
      otherCount: otherAfter?.n ?? null,
    };
  }

  #modelView(id: number): ModelView {
    const m = this.store.models.get(id);
    const d = this.store.models.dependents(id);
    const adapters = d.adapters.map((a) => ({ ...a, runId: this.store.adapters.find(a.id)?.runId ?? null }));
    return { ...m, dependents: { runs: d.runs.length, adapters: d.adapters.length, models: d.models.length }, usedBy: { runs: d.runs, adapters, models: d.models } };
  }
}

function adapterView({ id, name, runId, baseModelId, info, origin, createdAt }: StoredAdapter): AdapterView {
  return { id, name, runId, baseModelId, info, origin, createdAt };
}
