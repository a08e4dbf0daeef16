/**
 * One run's page: its detail (config, evaluations, metrics), live progress and metric
 * points from events, and the edits a person makes there.
 */
import type { LabEvent, ModelView, RunDetail, RunProgress, Series } from '../../src-main/contract/api.ts';
import type { MetricPoint } from '../../src-main/contract/protocol.ts';
import { errorText, lab, onConnection } from './api.ts';

const ACTIVE = new Set(['queued', 'running']);

/** Append points to per-key series, skipping steps already there (events can repeat stored points). */
export function appendPoints(metrics: Record<string, Series>, points: readonly MetricPoint[]): Record<string, Series> {
  const out = { ...metrics };
  const copied = new Set<string>();
  for (const p of points) {
    let s = out[p.key];
    if (!copied.has(p.key)) {
      // Copy each touched series once: the old object may still be on screen.
      s = s ? { steps: [...s.steps], values: [...s.values], times: [...s.times] } : { steps: [], values: [], times: [] };
      out[p.key] = s;
      copied.add(p.key);
    }
    const last = s!.steps.length ? (s!.steps[s!.steps.length - 1] as number) : -Infinity;
    if (p.step <= last) continue;
    s!.steps.push(p.step);
    s!.values.push(p.value);
    s!.times.push(p.time);
  }
  return out;
}

export class RunState {
  readonly id: number;
  #run = $state.raw<RunDetail | null>(null);
  #progress = $state.raw<RunProgress | null>(null);
  #metrics = $state.raw<Record<string, Series>>({});
  #models = $state.raw<ModelView[]>([]);
  #error = $state<string | null>(null);
  #busy = $state(false);
  /** Loads in flight (the first, a reconnect's, the one after the run finishes): what is shown may be behind. */
  #loads = $state(0);
  /** Only the newest load's answer is applied (an older one may describe the run before it finished). */
  #loadSeq = 0;
  /** Metric points that arrived while a load was in flight, newer than what it may return. */
  #buffer: MetricPoint[] | null = [];

  constructor(id: number) {
    this.id = id;
  }

  get run(): RunDetail | null { return this.#run; }
  get progress(): RunProgress | null { return this.#progress; }
  get metrics(): Record<string, Series> { return this.#metrics; }
  get error(): string | null { return this.#error; }
  get busy(): boolean { return this.#busy; }
  /**
   * A load is in flight: the page may lag the run (it just finished and its evaluations
   * are on their way). Empty states ("No evaluation") must wait for it, not guess.
   */
  get loading(): boolean { return this.#loads > 0; }
  get active(): boolean { return this.#run !== null && ACTIVE.has(this.#run.status); }

  get baseModel(): ModelView | null {
    const id = this.#run?.baseModelId;
    return id === null || id === undefined ? null : (this.#models.find((m) => m.id === id) ?? null);
  }

  /** The model this run produced (a base run's weights). */
  get producedModel(): ModelView | null {
    const id = this.#run?.modelId;
    return id === null || id === undefined ? null : (this.#models.find((m) => m.id === id) ?? null);
  }

  start(): () => void {
    const offEvents = lab.subscribe((e) => this.#onEvent(e));
    let immediate = true;
    const offConn = onConnection((c, reconnected) => {
      // Events missed while the stream was down — or before it first opened, if the
      // run had already loaded by then — are caught up by loading again.
      if (reconnected || (c === 'open' && !immediate && this.#run !== null)) void this.load();
    });
    immediate = false;
    void this.load();
    return () => {
      offEvents();
      offConn();
    };
  }

  async load(): Promise<void> {
    const seq = ++this.#loadSeq;
    this.#buffer ??= [];
    this.#loads++;
    try {
      const [run, models] = await Promise.all([lab.getRun(this.id), lab.listModels()]);
      if (seq !== this.#loadSeq) return; // a newer load is on its way
      this.#run = run;
      this.#models = models;
      this.#progress = run.progress;
      // Points that arrived while loading and are newer than the stored ones.
      this.#metrics = appendPoints(run.metrics, this.#buffer ?? []);
      this.#buffer = null;
      this.#error = null;
    } catch (err) {
      if (seq === this.#loadSeq) this.#error = errorText(err);
    } finally {
      this.#loads--;
    }
  }

  async cancel(): Promise<void> {
    await this.#do(async () => {
      this.#run = { ...this.#run!, ...(await lab.cancelRun(this.id)) };
    });
  }

  async rename(name: string): Promise<void> {
    await this.#do(async () => {
      this.#run = { ...this.#run!, ...(await lab.renameRun(this.id, name)) };
    });
  }

  async setTags(tags: string[]): Promise<void> {
    await this.#do(async () => {
      this.#run = { ...this.#run!, ...(await lab.setTags(this.id, tags)) };
    });
  }

  async setNotes(notes: string): Promise<void> {
    await this.#do(async () => {
      this.#run = { ...this.#run!, ...(await lab.setNotes(this.id, notes)) };
    });
  }

  /** Runs an edit; failures are thrown on to the caller (which shows them) after `busy` clears. */
  async #do(fn: () => Promise<void>): Promise<void> {
    this.#busy = true;
    try {
      await fn();
    } finally {
      this.#busy = false;
    }
  }

  #onEvent(e: LabEvent): void {
    if (e.type === 'metrics' && e.runId === this.id) {
      if (this.#buffer) this.#buffer.push(...e.points);
      else this.#metrics = appendPoints(this.#metrics, e.points);
    } else if (e.type === 'progress' && e.runId === this.id) {
      this.#progress = e.progress;
    } else if (e.type === 'run' && e.run.id === this.id) {
      if (!this.#run) {
        // Changed while the first load was in flight: its answer may predate this.
        void this.load();
        return;
      }
      const was = this.#run.status;
      this.#run = { ...this.#run, ...e.run };
      if (!ACTIVE.has(e.run.status)) this.#progress = null;
      // Finished: evaluations and the final metrics are in the store now.
      if (was !== e.run.status && !ACTIVE.has(e.run.status)) void this.load();
    } else if (e.type === 'run-deleted' && e.id === this.id) {
      this.#error = 'This run was deleted.';
      this.#run = null;
    } else if (e.type === 'model' || e.type === 'model-deleted') {
      void lab.listModels().then((m) => (this.#models = m), () => undefined);
    }
  }
}
