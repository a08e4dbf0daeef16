/**
 * The misclassified-digits gallery. An evaluation stores the predicted class of every
 * test image it saw; the true labels come from `testLabels` (all 10,000 in one call),
 * fetched once per page session and shared by every run, and the pixels of only the
 * tiles on screen from `testImages`. For a fine-tune the before/after predictions tell
 * which errors the adapter fixed and which it introduced.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { EvaluationView } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';

/** `testImages` answers at most this many images per call. */
const CHUNK = 500;

/** Test-set labels (all) and pixels (those shown), kept for the session. */
class TestSet {
  #labels = $state.raw<Uint8Array | null>(null);
  readonly #pixels = new SvelteMap<number, Uint8Array>();
  readonly #asked = new Set<number>();
  #loading: Promise<void> | null = null;

  /** Every test label in test-set order, once loaded. */
  get labels(): Uint8Array | null {
    return this.#labels;
  }

  pixels(index: number): Uint8Array | undefined {
    return this.#pixels.get(index);
  }

  /** Load the labels. Concurrent callers share the one call. */
  async ensureLabels(): Promise<void> {
    if (this.#labels) return;
    this.#loading ??= lab.testLabels().then(
      (labels) => {
        this.#labels = labels;
      },
      (err: unknown) => {
        this.#loading = null;
        throw err;
      },
    );
    await this.#loading;
  }

  /** Load the pixels of these images (those not already loaded or on their way). */
  async ensurePixels(indices: readonly number[]): Promise<void> {
    const missing = indices.filter((i) => !this.#asked.has(i));
    for (const i of missing) this.#asked.add(i);
    for (let k = 0; k < missing.length; k += CHUNK) {
      const part = missing.slice(k, k + CHUNK);
      try {
        for (const img of await lab.testImages(part)) this.#pixels.set(img.index, img.pixels);
      } catch (err) {
        for (const i of part) this.#asked.delete(i);
        throw err;
      }
    }
  }
}

export const testSet = new TestSet();

export type GalleryMode = 'wrong' | 'fixed' | 'introduced';

export interface GalleryItem {
  index: number;
  label: number;
  predicted: number;
  /** The prediction before fine-tuning (LoRA runs). */
  before: number | null;
}

const PAGE = 48;

export class GalleryState {
  readonly #after: Uint8Array | null;
  readonly #before: Uint8Array | null;
  readonly total: number;
  #mode = $state<GalleryMode>('wrong');
  #digit = $state<number | null>(null);
  #limit = $state(PAGE);
  #error = $state<string | null>(null);

  constructor(evaluations: { before?: EvaluationView; after?: EvaluationView }) {
    this.#after = evaluations.after?.predictions ?? null;
    // Only a fine-tune's "before" is the same network before training; a base run's has none.
    this.#before = evaluations.after && evaluations.before ? evaluations.before.predictions : null;
    this.total = this.#after?.length ?? 0;
  }

  get comparesBefore(): boolean { return this.#before !== null; }
  get mode(): GalleryMode { return this.#mode; }
  get digit(): number | null { return this.#digit; }
  get error(): string | null { return this.#error; }
  /** The labels are in: every category below is complete. */
  get done(): boolean { return testSet.labels !== null; }

  /** Every evaluated image that is interesting in some mode, with its category. */
  readonly #items: { item: GalleryItem; wrong: boolean; fixed: boolean; introduced: boolean }[] = $derived.by(() => {
    const after = this.#after;
    const labels = testSet.labels;
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

  /** counts[mode][digit]; index 10 is every digit. */
  readonly counts: Record<GalleryMode, number[]> = $derived.by(() => {
    const c: Record<GalleryMode, number[]> = { wrong: new Array(11).fill(0), fixed: new Array(11).fill(0), introduced: new Array(11).fill(0) };
    for (const x of this.#items) {
      for (const m of ['wrong', 'fixed', 'introduced'] as const) {
        if (x[m]) {
          c[m][x.item.label]!++;
          c[m][10]!++;
        }
      }
    }
    return c;
  });

  readonly #matching: GalleryItem[] = $derived(
    this.#items.filter((x) => x[this.#mode] && (this.#digit === null || x.item.label === this.#digit)).map((x) => x.item),
  );

  get visible(): GalleryItem[] { return this.#matching.slice(0, this.#limit); }
  get matching(): number { return this.#matching.length; }

  pixels(index: number): Uint8Array | undefined {
    return testSet.pixels(index);
  }

  setMode(m: GalleryMode): void {
    this.#mode = m;
    this.#limit = PAGE;
  }

  setDigit(d: number | null): void {
    this.#digit = d;
    this.#limit = PAGE;
  }

  showMore(): void {
    this.#limit += PAGE * 2;
  }

  async load(): Promise<void> {
    try {
      await testSet.ensureLabels();
    } catch (err) {
      this.#error = `Could not load the test labels: ${errorText(err)}`;
    }
  }

  /** Fetch the pixels of the tiles on screen. */
  async loadPixels(indices: readonly number[]): Promise<void> {
    try {
      await testSet.ensurePixels(indices);
    } catch (err) {
      this.#error = `Could not load the test images: ${errorText(err)}`;
    }
  }
}
