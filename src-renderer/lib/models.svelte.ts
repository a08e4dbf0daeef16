/**
 * The Models page: models and adapters with where each came from, kept live; the export
 * folder to import from; evaluations a person asks for; deletes and imports.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { AdapterView, EvalSummary, ImportRequest, LabEvent, ModelView, RunView } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';
import { changesWeights } from './events.ts';
import { LiveLists } from './live-lists.svelte.ts';

export interface ModelEvaluation {
  busy: boolean;
  result: EvalSummary | null;
  error: string | null;
}

export class ModelsState extends LiveLists {
  #models = $state.raw<ModelView[]>([]);
  #adapters = $state.raw<AdapterView[]>([]);
  #runs = $state.raw<RunView[]>([]);
  /** Evaluations asked for on this page, by model id. */
  readonly evaluations = new SvelteMap<number, ModelEvaluation>();

  get models(): ModelView[] { return this.#models; }
  get adapters(): AdapterView[] { return this.#adapters; }

  readonly #modelNames = $derived(new Map(this.#models.map((m) => [m.id, m.name])));
  readonly #runsById = $derived(new Map(this.#runs.map((r) => [r.id, r])));

  /** A run as last loaded (for the status of runs that use a model). */
  run(id: number): RunView | undefined {
    return this.#runsById.get(id);
  }

  runName(id: number | null): string | null {
    return id === null ? null : (this.#runsById.get(id)?.name ?? null);
  }

  modelName(id: number | null): string | null {
    return id === null ? null : (this.#modelNames.get(id) ?? null);
  }

  protected onEvent(e: LabEvent): void {
    if (changesWeights(e)) this.scheduleLoad();
  }

  protected async fetch(): Promise<void> {
    const [models, adapters, runs] = await Promise.all([lab.listModels(), lab.listAdapters(), lab.listRuns()]);
    this.#models = models;
    this.#adapters = adapters;
    this.#runs = runs;
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
}
