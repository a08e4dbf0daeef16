/**
 * The Learning-against-forgetting page's state: one `forgetting` answer for the runs
 * (or the sweep) in the address, whether it is being fetched and what went wrong, and
 * whether the trajectories are drawn. Kept live: a change to one of its runs (it
 * finished, was renamed or deleted) or to the sweep reloads it, once per burst; so does
 * a reconnect.
 */
import type { LabEvent } from '../../src-main/contract/api.ts';
import type { ForgettingRequest, ForgettingRun, ForgettingView } from '../../src-main/contract/forgetting.ts';
import { errorText, followLab, lab } from './api.ts';
import { Coalesced } from './coalesce.ts';

/** A method as the legend lists it, with its place in the palette. */
export interface MethodKey {
  method: string;
  kind: ForgettingRun['kind'];
  /** Index into the chart palette. */
  color: number;
}

/**
 * The methods of these runs in a reading order — adapters by rank, then full fine-tunes —
 * each with its colour index: the scatter's points and legend share it.
 */
export function methodKeys(runs: readonly ForgettingRun[]): MethodKey[] {
  const seen = new Map<string, ForgettingRun>();
  for (const r of runs) if (!seen.has(r.method)) seen.set(r.method, r);
  const order = (r: ForgettingRun) => (r.kind === 'full' ? 1 : 0);
  return [...seen.values()]
    .sort((a, b) => order(a) - order(b) || (a.rank ?? 0) - (b.rank ?? 0) || a.method.localeCompare(b.method))
    .map((r, i) => ({ method: r.method, kind: r.kind, color: i }));
}

export class ForgettingState {
  readonly request: ForgettingRequest;
  #view = $state.raw<ForgettingView | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #showTrajectories = $state(true);
  /** A reload asked for while one was in flight: run once more after it. */
  #again = false;
  readonly #reloadSoon = new Coalesced(() => void this.load(), 400);

  /** `ids`: runs to set side by side; `sweep`: a sweep's runs (the Lab takes one of the two: the sweep when both are given). */
  constructor(ids: readonly number[], sweep: number | null) {
    this.request = sweep !== null ? { sweepId: sweep } : ids.length ? { runIds: [...ids] } : {};
  }

  /** Whether the address names anything to show. */
  get asked(): boolean { return this.request.runIds !== undefined || this.request.sweepId !== undefined; }
  get view(): ForgettingView | null { return this.#view; }
  get busy(): boolean { return this.#busy; }
  get error(): string | null { return this.#error; }
  get showTrajectories(): boolean { return this.#showTrajectories; }
  set showTrajectories(on: boolean) { this.#showTrajectories = on; }

  readonly methods: MethodKey[] = $derived(methodKeys(this.#view?.runs ?? []));

  start(): () => void {
    return followLab((e) => this.#onEvent(e), () => this.load(), () => this.#reloadSoon.cancel());
  }

  async load(): Promise<void> {
    if (!this.asked) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    try {
      this.#view = await lab.forgetting(this.request);
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    } finally {
      this.#busy = false;
    }
    if (this.#again) {
      this.#again = false;
      await this.load();
    }
  }

  /** A run this page is about: asked for, shown or skipped. */
  #concerns(runId: number): boolean {
    if (this.request.runIds?.includes(runId)) return true;
    const v = this.#view;
    return !!v && (v.runs.some((r) => r.runId === runId) || v.skipped.some((s) => s.runId === runId));
  }

  #onEvent(e: LabEvent): void {
    if (!this.asked) return;
    if (e.type === 'run' && this.#concerns(e.run.id)) this.#reloadSoon.ask();
    else if (e.type === 'run-deleted' && this.#concerns(e.id)) this.#reloadSoon.ask();
    else if (e.type === 'sweep' && e.sweep.id === this.request.sweepId) this.#reloadSoon.ask();
    else if (e.type === 'sweep-deleted' && e.id === this.request.sweepId) this.#reloadSoon.ask();
  }
}
