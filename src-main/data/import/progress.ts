/** Progress for long imports: at most about one call per 1 % of the work, plus the last. */
export type ProgressFn = (done: number, total: number, what: string) => void;

export class Progress {
  readonly #fn: ProgressFn | undefined;
  readonly #total: number;
  readonly #what: string;
  readonly #step: number;
  #next = 0;
  #ended = false;

  constructor(fn: ProgressFn | undefined, total: number, what: string) {
    this.#fn = fn;
    this.#total = total;
    this.#what = what;
    this.#step = Math.max(1, Math.floor(total / 100));
  }

  /** Report `done` if it crossed the next 1 % mark (or is the end). */
  update(done: number): void {
    if (!this.#fn || (done < this.#next && done < this.#total)) return;
    this.#next = done + this.#step;
    if (done >= this.#total) this.#ended = true;
    this.#fn(Math.min(done, this.#total), this.#total, this.#what);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#fn?.(this.#total, this.#total, this.#what);
  }
}
