/**
 * What the compared runs' updates look like, side by side (issue 16, "also in
 * Compare"): each completed fine-tune (a LoRA run's adapter, a full fine-tune's
 * W − W0) analysed by LabApi.analyzeAdapter, one at a time so the first answers show
 * while the rest compute, with or without intruder dimensions. Base runs have no
 * update; unfinished runs are analysed once they complete (load() is called again).
 */
import type { AdapterAnalysis } from '../../src-main/contract/analysis.ts';
import { INTRUDER_LIMITS } from '../../src-main/contract/analysis.ts';
import type { RunView } from '../../src-main/contract/api.ts';
import { isFineTune } from '../../src-main/contract/config.ts';
import { errorText, lab } from './api.ts';

export type GeometryEntry =
  | { state: 'base' } // trained from scratch: nothing to take an update against
  | { state: 'unfinished' }
  | { state: 'unstored' } // completed, but its adapter (or model) is not stored: deleted
  | { state: 'waiting' | 'running' }
  | { state: 'done'; analysis: AdapterAnalysis }
  | { state: 'failed'; error: string };

export class CompareGeometryState {
  #entries = $state.raw<ReadonlyMap<number, GeometryEntry>>(new Map());
  #intruders = $state(false);
  /** Bumped when the setting changes: answers asked for under an older one are dropped. */
  #generation = 0;
  #working = false;

  get intruders(): boolean { return this.#intruders; }
  entry(runId: number): GeometryEntry | undefined { return this.#entries.get(runId); }
  /** Runs analysed or failed, of those that have an update. */
  get progress(): { done: number; total: number; running: number | null } {
    let done = 0;
    let total = 0;
    let running: number | null = null;
    for (const [id, e] of this.#entries) {
      if (e.state === 'base' || e.state === 'unfinished' || e.state === 'unstored') continue;
      total++;
      if (e.state === 'done' || e.state === 'failed') done++;
      if (e.state === 'running') running = id;
    }
    return { done, total, running };
  }
  /** The analyses so far, in the order of `runs`. */
  analyses(runs: readonly RunView[]): { run: RunView; analysis: AdapterAnalysis }[] {
    return runs.flatMap((run) => {
      const e = this.#entries.get(run.id);
      return e?.state === 'done' ? [{ run, analysis: e.analysis }] : [];
    });
  }

  /** Marks what each run needs and analyses what is new (a run that completed since, or everything after a settings change). */
  load(runs: readonly RunView[]): void {
    const next = new Map(this.#entries);
    for (const r of runs) {
      const had = next.get(r.id);
      if (!isFineTune(r.kind)) next.set(r.id, { state: 'base' });
      else if (r.status !== 'completed') next.set(r.id, { state: 'unfinished' });
      else if ((r.kind === 'lora' ? r.adapterId : r.modelId) === null) next.set(r.id, { state: 'unstored' });
      else if (!had || had.state === 'unfinished') next.set(r.id, { state: 'waiting' });
    }
    this.#entries = next;
    void this.#work();
  }

  setIntruders(on: boolean): void {
    if (on === this.#intruders) return;
    this.#intruders = on;
    this.#generation++;
    this.#entries = new Map([...this.#entries].map(([id, e]) => [id, e.state === 'base' || e.state === 'unfinished' || e.state === 'unstored' ? e : { state: 'waiting' }]));
    void this.#work();
  }

  async #work(): Promise<void> {
    if (this.#working) return;
    this.#working = true;
    try {
      for (;;) {
        const id = [...this.#entries].find(([, e]) => e.state === 'waiting')?.[0];
        if (id === undefined) return;
        const generation = this.#generation;
        this.#set(id, { state: 'running' });
        let result: GeometryEntry;
        try {
          const analysis = await lab.analyzeAdapter({
            target: { kind: 'run', id },
            intruders: this.#intruders ? { k: INTRUDER_LIMITS.defaultK, epsilon: INTRUDER_LIMITS.defaultEpsilon } : false,
          });
          result = { state: 'done', analysis };
        } catch (err) {
          result = { state: 'failed', error: errorText(err) };
        }
        // A settings change meanwhile already marked this run waiting again.
        if (generation === this.#generation) this.#set(id, result);
      }
    } finally {
      this.#working = false;
    }
  }

  #set(id: number, e: GeometryEntry): void {
    this.#entries = new Map(this.#entries).set(id, e);
  }
}
