/**
 * The Sweeps page's state: every sweep, kept live by `sweep` events (a row is replaced
 * in place), and each sweep's best point so far (the objective over its best point's
 * completed runs), read from its detail: once at load, and again, coalesced, when a
 * sweep's counts change.
 */
import type { LabEvent } from '../../src-main/contract/api.ts';
import type { Stat } from '../../src-main/contract/groups.ts';
import type { SweepView } from '../../src-main/contract/sweep.ts';
import { errorText, lab, onConnection } from './api.ts';
import { Coalesced } from './coalesce.ts';

export interface BestSoFar {
  params: Record<string, string | number | boolean | null>;
  objective: Stat;
}

export const ACTIVE_SWEEP = (s: SweepView): boolean => s.status === 'running';

export class SweepsState {
  #sweeps = $state.raw<SweepView[]>([]);
  #best = $state.raw<ReadonlyMap<number, BestSoFar | null>>(new Map());
  #loading = $state(true);
  #error = $state<string | null>(null);
  readonly #dirty = new Set<number>();
  readonly #refreshBest = new Coalesced(() => void this.#loadBest([...this.#dirty]), 800);
  #seq = 0;

  /** Newest first. */
  readonly rows: SweepView[] = $derived([...this.#sweeps].sort((a, b) => b.createdAt - a.createdAt || b.id - a.id));

  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }
  best(id: number): BestSoFar | null { return this.#best.get(id) ?? null; }

  start(): () => void {
    const off = lab.subscribe((e) => this.#onEvent(e));
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.reload();
    });
    void this.reload();
    return () => {
      off();
      offConn();
      this.#refreshBest.cancel();
    };
  }

  async reload(): Promise<void> {
    const seq = ++this.#seq;
    try {
      const list = await lab.listSweeps();
      if (seq !== this.#seq) return;
      this.#sweeps = list;
      this.#error = null;
      void this.#loadBest(list.map((s) => s.id));
    } catch (err) {
      if (seq === this.#seq) this.#error = errorText(err);
    } finally {
      if (seq === this.#seq) this.#loading = false;
    }
  }

  async cancel(id: number): Promise<void> {
    this.#put(await lab.cancelSweep(id));
  }

  async resume(id: number): Promise<void> {
    this.#put(await lab.resumeSweep(id));
  }

  async remove(id: number): Promise<void> {
    await lab.deleteSweep(id);
    this.#drop(id);
  }

  /** Details of these sweeps, for their best point (one failing does not hide the others). */
  async #loadBest(ids: number[]): Promise<void> {
    for (const id of ids) this.#dirty.delete(id);
    const got = await Promise.allSettled(ids.map((id) => lab.getSweep(id)));
    const next = new Map(this.#best);
    got.forEach((r, i) => {
      const id = ids[i] as number;
      if (r.status === 'fulfilled') next.set(id, r.value.best ? { params: r.value.best.params, objective: r.value.best.objective } : null);
    });
    this.#best = next;
  }

  #put(s: SweepView): void {
    const i = this.#sweeps.findIndex((x) => x.id === s.id);
    this.#sweeps = i >= 0 ? this.#sweeps.with(i, s) : [...this.#sweeps, s];
    this.#dirty.add(s.id);
    this.#refreshBest.ask();
  }

  #drop(id: number): void {
    this.#sweeps = this.#sweeps.filter((s) => s.id !== id);
    const next = new Map(this.#best);
    next.delete(id);
    this.#best = next;
  }

  #onEvent(e: LabEvent): void {
    if (e.type === 'sweep') this.#put(e.sweep);
    else if (e.type === 'sweep-deleted') this.#drop(e.id);
  }
}
