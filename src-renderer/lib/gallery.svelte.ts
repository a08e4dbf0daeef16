/**
 * The misclassified-samples gallery. An evaluation stores the predicted class of every
 * test sample it saw (in test-split order); the true labels come from `datasetLabels`
 * (the whole test split in one call), fetched once per data set and page session and
 * shared by every run on it, and the values of only the tiles on screen from
 * `datasetSamples`. For a fine-tune the before/after predictions tell which errors the
 * fine-tune (its adapter, or every weight) fixed and which it introduced.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { DatasetRef, EvaluationView } from '../../src-main/contract/api.ts';
import { MAX_SAMPLES_PER_CALL, MNIST_DATASET_ID, samplesPerCall } from '../../src-main/contract/dataset.ts';
import { errorText, lab } from './api.ts';
import { classNames } from './classes.ts';

/** One data set's test labels (all) and sample values (those shown), kept for the session. */
class TestSplit {
  readonly id: number;
  #labels = $state.raw<Uint8Array | null>(null);
  /** Grey images where 0 is the background (MNIST-style: built-ins and IDX files), drawn in the theme's colours. */
  #ink = $state(false);
  readonly #values = new SvelteMap<number, number[]>();
  readonly #asked = new Set<number>();
  #loading: Promise<void> | null = null;
  /** Samples per datasetSamples call: 500, fewer for large samples. */
  #perCall = MAX_SAMPLES_PER_CALL;

  constructor(id: number) {
    this.id = id;
    this.#ink = id === MNIST_DATASET_ID;
  }

  /** Every test label in split order, once loaded. */
  get labels(): Uint8Array | null { return this.#labels; }
  get ink(): boolean { return this.#ink; }

  values(index: number): number[] | undefined {
    return this.#values.get(index);
  }

  /** Load the labels (and where the data set came from). Concurrent callers share the one call. */
  async ensureLabels(): Promise<void> {
    if (this.#labels) return;
    this.#loading ??= Promise.all([lab.datasetLabels(this.id, 'test'), lab.getDataset(this.id).catch(() => null)]).then(
      ([labels, view]) => {
        if (view) {
          this.#ink = view.source === 'builtin' || view.source === 'idx';
          this.#perCall = samplesPerCall(view.inputSize);
        }
        this.#labels = labels;
      },
      (err: unknown) => {
        this.#loading = null;
        throw err;
      },
    );
    await this.#loading;
  }

  /** Load the values of these samples (those not already loaded or on their way). */
  async ensureValues(indices: readonly number[]): Promise<void> {
    const missing = indices.filter((i) => !this.#asked.has(i));
    for (const i of missing) this.#asked.add(i);
    for (let k = 0; k < missing.length; k += this.#perCall) {
      const part = missing.slice(k, k + this.#perCall);
      try {
        for (const s of await lab.datasetSamples(this.id, 'test', part)) this.#values.set(s.index, s.values);
      } catch (err) {
        for (const i of part) this.#asked.delete(i);
        throw err;
      }
    }
  }
}

const splits = new Map<number, TestSplit>();
let watching = false;

/** The test split of data set `id`, shared by every gallery on it (dropped when the data set is deleted). */
export function testSplit(id: number): TestSplit {
  if (!watching) {
    watching = true;
    lab.subscribe((e) => {
      if (e.type === 'dataset-deleted') splits.delete(e.id);
    });
  }
  let s = splits.get(id);
  if (!s) {
    s = new TestSplit(id);
    splits.set(id, s);
  }
  return s;
}

export type GalleryMode = 'wrong' | 'fixed' | 'introduced';

export interface GalleryItem {
  index: number;
  label: number;
  predicted: number;
  /** The prediction before fine-tuning (LoRA and full fine-tunes). */
  before: number | null;
}

export interface GalleryCounts {
  /** Per true class. */
  perClass: number[];
  all: number;
}

const PAGE = 48;

export class GalleryState {
  readonly #after: Uint8Array | null;
  readonly #before: Uint8Array | null;
  readonly #split: TestSplit;
  readonly total: number;
  /** The data set the run is evaluated on (its kind, shape and class names). */
  readonly dataset: DatasetRef | null;
  /** Class names, index = label. */
  readonly classes: string[];
  #mode = $state<GalleryMode>('wrong');
  #cls = $state<number | null>(null);
  #limit = $state(PAGE);
  #error = $state<string | null>(null);

  constructor(evaluations: { before?: EvaluationView; after?: EvaluationView }, dataset: DatasetRef | null, datasetId: number) {
    this.#after = evaluations.after?.predictions ?? null;
    // Only a fine-tune's "before" is the same network before training; a base run's has none.
    this.#before = evaluations.after && evaluations.before ? evaluations.before.predictions : null;
    this.total = this.#after?.length ?? 0;
    this.dataset = dataset;
    this.classes = classNames(dataset, dataset?.classes.length ?? evaluations.after?.countPerClass.length ?? 0);
    this.#split = testSplit(datasetId);
  }

  get comparesBefore(): boolean { return this.#before !== null; }
  get mode(): GalleryMode { return this.#mode; }
  /** The true class shown (null: every class). */
  get cls(): number | null { return this.#cls; }
  get error(): string | null { return this.#error; }
  /** The labels are in: every category below is complete. */
  get done(): boolean { return this.#split.labels !== null; }
  /** Grey images drawn as ink on the theme's background (0 = background). */
  get ink(): boolean { return this.#split.ink; }

  /** Every evaluated sample that is interesting in some mode, with its category. */
  readonly #items: { item: GalleryItem; wrong: boolean; fixed: boolean; introduced: boolean }[] = $derived.by(() => {
    const after = this.#after;
    const labels = this.#split.labels;
    if (!after || !labels) return [];
    const n = Math.min(after.length, labels.length);
    const before = this.#before;
    const out = [];
    for (let i = 0; i < n; i++) {
      const label = labels[i] as number;
      const p = after[i] as number;
      const b = before ? (before[i] as number) : null;
      const wrong = p !== label;
      const fixed = b !== null && b !== label && !wrong;
      const introduced = b !== null && b === label && wrong;
      if (wrong || fixed) out.push({ item: { index: i, label, predicted: p, before: b }, wrong, fixed, introduced });
    }
    return out;
  });

  /** How many samples each mode holds, per true class and in all. */
  readonly counts: Record<GalleryMode, GalleryCounts> = $derived.by(() => {
    const n = this.classes.length;
    const make = (): GalleryCounts => ({ perClass: new Array<number>(n).fill(0), all: 0 });
    const c: Record<GalleryMode, GalleryCounts> = { wrong: make(), fixed: make(), introduced: make() };
    for (const x of this.#items) {
      for (const m of ['wrong', 'fixed', 'introduced'] as const) {
        if (x[m]) {
          c[m].perClass[x.item.label] = (c[m].perClass[x.item.label] ?? 0) + 1;
          c[m].all++;
        }
      }
    }
    return c;
  });

  readonly #matching: GalleryItem[] = $derived(
    this.#items.filter((x) => x[this.#mode] && (this.#cls === null || x.item.label === this.#cls)).map((x) => x.item),
  );

  get visible(): GalleryItem[] { return this.#matching.slice(0, this.#limit); }
  get matching(): number { return this.#matching.length; }

  /** A class by name (its index when the data set names no such class). */
  name(c: number): string {
    return this.classes[c] ?? String(c);
  }

  values(index: number): number[] | undefined {
    return this.#split.values(index);
  }

  setMode(m: GalleryMode): void {
    this.#mode = m;
    this.#limit = PAGE;
  }

  setClass(c: number | null): void {
    this.#cls = c;
    this.#limit = PAGE;
  }

  showMore(): void {
    this.#limit += PAGE * 2;
  }

  async load(): Promise<void> {
    try {
      await this.#split.ensureLabels();
    } catch (err) {
      this.#error = `Could not load the test labels: ${errorText(err)}`;
    }
  }

  /** Fetch the values of the tiles on screen. */
  async loadValues(indices: readonly number[]): Promise<void> {
    try {
      await this.#split.ensureValues(indices);
    } catch (err) {
      this.#error = `Could not load the test samples: ${errorText(err)}`;
    }
  }
}
