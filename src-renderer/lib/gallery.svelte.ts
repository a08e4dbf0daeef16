/**
 * The misclassified-digits gallery. An evaluation stores the predicted class of every
 * test image it saw; the true labels come with the images from `testImages` (500 per
 * call), fetched once per page session and shared by every run. For a fine-tune the
 * before/after predictions tell which errors the adapter fixed and which it introduced.
 */
import type { EvaluationView } from '../../src-main/lab/api.ts';
import { errorText, lab } from './api.ts';

const CHUNK = 500;

/** Test-set labels and pixels, loaded in order and kept for the session. */
class TestSet {
  readonly labels: number[] = [];
  readonly #pixels = new Map<number, Uint8Array>();
  #loading: Promise<void> | null = null;
  #loaded = $state(0);

  /** How many images from index 0 have known labels. */
  get loaded(): number {
    return this.#loaded;
  }

  pixels(index: number): Uint8Array | undefined {
    return this.#pixels.get(index);
  }

  /** Load labels (and pixels) for images [0, n). Concurrent callers share the work. */
  async ensure(n: number): Promise<void> {
    while (this.#loaded < n) {
      if (!this.#loading) {
        const from = this.#loaded;
        const indices = Array.from({ length: Math.min(CHUNK, n - from) }, (_, i) => from + i);
        this.#loading = lab.testImages(indices).then(
          (images) => {
            for (const img of images) {
              this.labels[img.index] = img.label;
              this.#pixels.set(img.index, img.pixels);
            }
            this.#loaded = from + images.length;
          },
        ).finally(() => (this.#loading = null));
      }
      await this.#loading;
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
  get scanned(): number { return Math.min(testSet.loaded, this.total); }
  get done(): boolean { return this.scanned >= this.total; }

  /** Every evaluated image that is interesting in some mode, with its category. */
  readonly #items: { item: GalleryItem; wrong: boolean; fixed: boolean; introduced: boolean }[] = $derived.by(() => {
    const after = this.#after;
    if (!after) return [];
    const n = this.scanned;
    const before = this.#before;
    const out = [];
    for (let i = 0; i < n; i++) {
      const label = testSet.labels[i] as number;
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
      await testSet.ensure(this.total);
    } catch (err) {
      this.#error = `Could not load the test images: ${errorText(err)}`;
    }
  }
}
