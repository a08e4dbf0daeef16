/** The Models page: models and adapters with where each came from, kept live. */
import type { AdapterView, ModelView, RunView } from '../../src-main/lab/api.ts';
import { errorText, lab, onConnection } from './api.ts';

export class ModelsState {
  #models = $state.raw<ModelView[]>([]);
  #adapters = $state.raw<AdapterView[]>([]);
  #runs = $state.raw<RunView[]>([]);
  #loading = $state(true);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setTimeout> | null = null;

  get models(): ModelView[] { return this.#models; }
  get adapters(): AdapterView[] { return this.#adapters; }
  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }

  readonly #runNames = $derived(new Map(this.#runs.map((r) => [r.id, r.name])));
  readonly #modelNames = $derived(new Map(this.#models.map((m) => [m.id, m.name])));

  runName(id: number | null): string | null {
    return id === null ? null : (this.#runNames.get(id) ?? null);
  }

  modelName(id: number | null): string | null {
    return id === null ? null : (this.#modelNames.get(id) ?? null);
  }

  start(): () => void {
    const off = lab.subscribe((e) => {
      if (e.type === 'model' || e.type === 'model-deleted' || e.type === 'run-deleted' || (e.type === 'run' && e.run.status === 'completed')) this.#schedule();
    });
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.load();
    });
    void this.load();
    return () => {
      off();
      offConn();
      if (this.#timer) clearTimeout(this.#timer);
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

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.load();
    }, 200);
  }
}
