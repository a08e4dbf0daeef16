/**
 * A bound on how many trainer processes short jobs (evaluations, merge previews) may
 * run at once; the rest wait their turn in order. Each trainer costs a few hundred MB
 * and a core, so twenty clicks (or twenty API calls) must not start twenty of them.
 * Training runs have their own bound (the run manager's concurrency).
 */
export class TrainerSlots {
  readonly #size: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('a trainer slot pool needs at least one slot');
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  /** Slots in use now. */
  get busy(): number {
    return this.#busy;
  }

  /** Jobs waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `job` once a slot is free; the slot is released however the job ends. */
  async use<T>(job: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await job();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#busy < this.#size) {
      this.#busy++;
      return Promise.resolve();
    }
    // The releasing job hands its slot straight to the next in line (busy stays the same).
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#busy--;
  }
}

/**
 * The one pool of this process: evaluations and previews from every Lab share it, since
 * memory and cores are the machine's, not one database's.
 */
export const EVALUATION_SLOTS = 2;
export const evaluationSlots = new TrainerSlots(EVALUATION_SLOTS);
