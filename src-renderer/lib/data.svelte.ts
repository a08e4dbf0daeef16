/**
 * The Data page: the lab's data sets with their counts and what uses them, the
 * built-ins not added yet, the exchange folder to import from, progress of imports and
 * additions (`task` events), and a few test samples per class for the selected set.
 * Kept live: data sets, runs and models arriving or going elsewhere reload the list.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { LabEvent, RunView } from '../../src-main/contract/api.ts';
import { type BuiltinDataset, type DatasetImportRequest, type DatasetList, type DatasetSample, type DatasetView, samplesPerCall } from '../../src-main/contract/dataset.ts';
import { errorText, lab } from './api.ts';
import { chunk, pickPerClass } from './datasets.ts';
import { changesDatasets } from './events.ts';
import { LiveLists } from './live-lists.svelte.ts';

/** Samples per class in the grid, and the classes shown before "show all". */
export const SAMPLES_PER_CLASS = 8;
export const CLASSES_SHOWN = 24;
export interface TaskProgress {
  done: number;
  total: number;
  what: string;
}

/** The grid of one data set: sample indices per class (test split), and the samples loaded. */
export class SampleGridState {
  perClass = $state.raw<number[][] | null>(null);
  readonly samples = new SvelteMap<number, DatasetSample>();
  /** Classes whose samples are loaded, from the first. */
  shownClasses = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);
}

/** The task name the Lab gives an import's progress events (lab.ts importDataset). */
export const importTask = (req: Pick<DatasetImportRequest, 'path' | 'name'>) => `import ${req.name ?? req.path}`;
export const builtinTask = (name: BuiltinDataset) => `add ${name}`;

export class DataState extends LiveLists {
  #list = $state.raw<DatasetList | null>(null);
  #runs = $state.raw<RunView[]>([]);
  /** Progress of imports and built-in additions, by task name, while they run. */
  readonly tasks = new SvelteMap<string, TaskProgress>();
  /** Built-ins being added here, with the error if adding failed. */
  readonly adding = new SvelteMap<BuiltinDataset, { busy: boolean; error: string | null }>();
  readonly #grids = new SvelteMap<number, SampleGridState>();

  get datasets(): DatasetView[] { return this.#list?.datasets ?? []; }
  get builtins(): DatasetList['builtins'] { return this.#list?.builtins ?? []; }

  readonly #runsById = $derived(new Map(this.#runs.map((r) => [r.id, r])));

  dataset(id: number | null): DatasetView | null {
    return id === null ? null : (this.datasets.find((d) => d.id === id) ?? null);
  }

  /** A run's status as last loaded (for "cancel it first" beside runs that use a data set). */
  runStatus(id: number): RunView['status'] | null {
    return this.#runsById.get(id)?.status ?? null;
  }

  grid(id: number): SampleGridState | undefined {
    return this.#grids.get(id);
  }

  protected onEvent(e: LabEvent): void {
    if (e.type === 'task') {
      // A finished task's bar goes back to waiting: what follows (storing) has no count.
      if (e.done < e.total) this.tasks.set(e.task, { done: e.done, total: e.total, what: e.what ?? '' });
      else this.tasks.delete(e.task);
    }
    if (e.type === 'dataset-deleted') this.#grids.delete(e.id);
    if (changesDatasets(e)) this.scheduleLoad();
  }

  protected async fetch(): Promise<void> {
    const [list, runs] = await Promise.all([lab.listDatasets(), lab.listRuns()]);
    this.#list = list;
    this.#runs = runs;
  }

  /** Import from the exchange folder; throws the Lab's message (nothing is stored then). */
  async import(req: DatasetImportRequest): Promise<DatasetView> {
    const task = importTask(req);
    this.tasks.delete(task);
    try {
      const view = await lab.importDataset(req);
      await this.load();
      return view;
    } finally {
      this.tasks.delete(task);
    }
  }

  async addBuiltin(name: BuiltinDataset): Promise<DatasetView | null> {
    if (this.adding.get(name)?.busy) return null;
    this.adding.set(name, { busy: true, error: null });
    const task = builtinTask(name);
    try {
      const view = await lab.addBuiltinDataset(name);
      await this.load();
      this.adding.delete(name);
      return view;
    } catch (err) {
      this.adding.set(name, { busy: false, error: errorText(err) });
      return null;
    } finally {
      this.tasks.delete(task);
    }
  }

  /** Deletes; a refusal (runs or models use it) is thrown on with the Lab's reason. */
  async delete(id: number): Promise<void> {
    await lab.deleteDataset(id);
    this.#grids.delete(id);
    await this.load();
  }

  /**
   * The grid's samples: the test labels once, then SAMPLES_PER_CLASS samples of each of
   * the first `classes` classes (more when asked again with a larger number).
   */
  async loadSamples(id: number, classes = CLASSES_SHOWN): Promise<void> {
    let grid = this.#grids.get(id);
    if (!grid) {
      grid = new SampleGridState();
      this.#grids.set(id, grid);
    }
    if (grid.loading || (grid.perClass && grid.shownClasses >= Math.min(classes, grid.perClass.length))) return;
    grid.loading = true;
    grid.error = null;
    try {
      if (!grid.perClass) {
        const d = this.dataset(id) ?? (await lab.getDataset(id));
        grid.perClass = pickPerClass(await lab.datasetLabels(id, 'test'), d.classes.length, SAMPLES_PER_CLASS);
      }
      const upto = Math.min(classes, grid.perClass.length);
      const d = this.dataset(id) ?? (await lab.getDataset(id));
      for (const part of chunk(grid.perClass.slice(grid.shownClasses, upto).flat(), samplesPerCall(d.inputSize))) {
        for (const s of await lab.datasetSamples(id, 'test', part)) grid.samples.set(s.index, s);
      }
      grid.shownClasses = upto;
    } catch (err) {
      grid.error = errorText(err);
    } finally {
      grid.loading = false;
    }
  }
}
