/**
 * The Workers page's state: LabApi.listWorkers read every few seconds while the page is
 * open (heartbeats live in Redis, not in the lab's events), with what went wrong, and
 * LabApi.setQueue to change where runs train.
 */
import type { QueueRequest, WorkersView } from '../../src-main/contract/workers.ts';
import { errorText, lab } from './api.ts';

const POLL_MS = 2000;

export class WorkersState {
  #view = $state.raw<WorkersView | null>(null);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;

  get view(): WorkersView | null { return this.#view; }
  get error(): string | null { return this.#error; }

  /** Starts polling; returns the stop. */
  start(): () => void {
    void this.load();
    this.#timer = setInterval(() => void this.load(), POLL_MS);
    return () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = null;
    };
  }

  /** Where runs train from now on (the lab connects first, and throws why it could not). */
  async setQueue(req: QueueRequest): Promise<void> {
    this.#view = await lab.setQueue(req);
    this.#error = null;
  }

  async load(): Promise<void> {
    try {
      this.#view = await lab.listWorkers();
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    }
  }
}
