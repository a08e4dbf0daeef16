/**
 * One call of `fn`, `ms` after the first of any number of asks in that time: a burst of
 * Lab events (a run's progress, an import's tasks) becomes one reload.
 */
export class Coalesced {
  readonly #fn: () => void;
  readonly #ms: number;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(fn: () => void, ms: number) {
    this.#fn = fn;
    this.#ms = ms;
  }

  ask(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#fn();
    }, this.#ms);
  }

  /** Drops a call asked for and not made yet (when the page goes). */
  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
