/**
 * The Models page: models and adapters with where each came from, kept live; the export
 * folder to import from; evaluations a person asks for; deletes and imports.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { AdapterView, EvalSummary, FolderEntry, ImportRequest, ModelView, RunView } from '../../src-main/contract/api.ts';
import { errorText, lab, onConnection } from './api.ts';
import { changesWeights } from './events.ts';

export interface ModelEvaluation {
  busy: boolean;
  result: EvalSummary | null;
  error: string | null;
}

export class ModelsState {
  #models = $state.raw<ModelView[]>([]);
  #adapters = $state.raw<AdapterView[]>([]);
  #runs = $state.raw<RunView[]>([]);
  #folder = $state.raw<{ folder: string; entries: FolderEntry[] } | null>(null);
  #folderError = $state<string | null>(null);
  #loading = $state(true);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setTimeout> | null = null;
  #folderTimer: ReturnType<typeof setTimeout> | null = null;
  /** Evaluations asked for on this page, by model id. */
  readonly evaluations = new SvelteMap<number, ModelEvaluation>();

  get models(): ModelView[] { return this.#models; }
  get adapters(): AdapterView[] { return this.#adapters; }
  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }
  get folder(): { folder: string; entries: FolderEntry[] } | null { return this.#folder; }
  get folderError(): string | null { return this.#folderError; }

  readonly #runNames = $derived(new Map(this.#runs.map((r) => [r.id, r.name])));
  readonly #modelNames = $derived(new Map(this.#models.map((m) => [m.id, m.name])));

  readonly #runsById = $derived(new Map(this.#runs.map((r) => [r.id, r])));

  /** A run as last loaded (for the status of runs that use a model). */
  run(id: number): RunView | undefined {
    return this.#runsById.get(id);
  }

  runName(id: number | null): string | null {
    return id === null ? null : (this.#runNames.get(id) ?? null);
  }

  modelName(id: number | null): string | null {
    return id === null ? null : (this.#modelNames.get(id) ?? null);
  }

  start(): () => void {
    const off = lab.subscribe((e) => {
      if (changesWeights(e)) {
        this.#schedule();
      }
      // Exports write into the folder this page lists (from here, the CLI or another window).
      if (e.type === 'task' && e.done >= e.total) this.#scheduleFolder();
    });
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.load();
    });
    void this.load();
    void this.loadFolder();
    return () => {
      off();
      offConn();
      if (this.#timer) clearTimeout(this.#timer);
      if (this.#folderTimer) clearTimeout(this.#folderTimer);
    };
  }

  async load(): Promise<void> {
    try {
      const [models, adapters, runs] = await Promise.all([lab.listModels(), lab.listAdapters(), lab.listRuns()]);
      this.#models = models;
      this.#adapters = adapters;
      this.#runs = runs;
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    } finally {
      this.#loading = false;
    }
  }

  async loadFolder(): Promise<void> {
    try {
      this.#folder = await lab.listFolder();
      this.#folderError = null;
    } catch (err) {
      this.#folderError = errorText(err);
    }
  }

  /** Evaluate a model on the whole test set; the outcome lands in `evaluations`. */
  async evaluate(id: number): Promise<void> {
    if (this.evaluations.get(id)?.busy) return;
    this.evaluations.set(id, { busy: true, result: this.evaluations.get(id)?.result ?? null, error: null });
    try {
      const result = await lab.evaluateModel(id);
      this.evaluations.set(id, { busy: false, result, error: null });
    } catch (err) {
      this.evaluations.set(id, { busy: false, result: null, error: errorText(err) });
    }
  }

  dismissEvaluation(id: number): void {
    this.evaluations.delete(id);
  }

  /** Deletes; a refusal (others depend on it) is thrown on with the server's reason. */
  async deleteModel(id: number): Promise<void> {
    await lab.deleteModel(id);
    this.#models = this.#models.filter((m) => m.id !== id);
    this.evaluations.delete(id);
  }

  async deleteAdapter(id: number): Promise<void> {
    await lab.deleteAdapter(id);
    this.#adapters = this.#adapters.filter((a) => a.id !== id);
  }

  async import(req: ImportRequest): Promise<ModelView | AdapterView> {
    const view = await lab.importWeights(req);
    await this.load();
    return view;
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.load();
    }, 200);
  }

  #scheduleFolder(): void {
    if (this.#folderTimer) return;
    this.#folderTimer = setTimeout(() => {
      this.#folderTimer = null;
      void this.loadFolder();
    }, 200);
  }
}
