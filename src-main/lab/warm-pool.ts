/**
 * Warm trainers: processes that finished a run cleanly and wait for the next one. A
 * sweep's runs then pay process start, TF.js's backend and the data set's loading once
 * per trainer instead of once per run (about 3 of a classic fine-tune's 5 s). An idle
 * trainer exits after `idleMs` (an unref'd timer: it never holds the process open) or
 * when the pool is closed; one that died while idle is dropped, never handed out.
 */
import type { TrainerHost } from '../trainer/host.ts';

interface Idle {
  host: TrainerHost;
  /** Its last run's memory estimate (bytes): an idle trainer still holds it. */
  memory: number;
  timer: NodeJS.Timeout;
}

export class WarmPool {
  readonly #idleMs: number;
  /** Oldest first. */
  #idle: Idle[] = [];

  /** `idleMs` ≤ 0 keeps no trainer: every run gets a fresh process. */
  constructor(idleMs: number) {
    this.#idleMs = idleMs;
  }

  /** Bytes the idle trainers are estimated to hold. */
  get memory(): number {
    this.#prune();
    return this.#idle.reduce((sum, t) => sum + t.memory, 0);
  }

  get size(): number {
    this.#prune();
    return this.#idle.length;
  }

  /** The idle trainers' process ids (diagnostics and tests). */
  get pids(): number[] {
    this.#prune();
    return this.#idle.map((t) => t.host.pid).filter((p): p is number => p !== undefined);
  }

  /**
   * Keep a trainer whose job has settled, or close it when it cannot take another job
   * (it crashed, was killed, failed in a way that ends it). Beyond `max` idle ones, the
   * oldest is closed.
   */
  put(host: TrainerHost, memory: number, max: number): void {
    if (!host.reusable || this.#idleMs <= 0 || max < 1) {
      void host.close();
      return;
    }
    const timer = setTimeout(() => this.#retire(host), this.#idleMs);
    timer.unref();
    this.#idle.push({ host, memory, timer });
    while (this.#idle.length > max) this.#retire((this.#idle[0] as Idle).host);
  }

  /** An idle trainer for the next run, preferring one that holds the run's base already; null when none. */
  take(baseKey: string | null): { host: TrainerHost; memory: number } | null {
    this.#prune();
    const pick = (baseKey !== null ? this.#idle.findLast((t) => t.host.baseKey === baseKey) : undefined) ?? this.#idle.at(-1);
    if (!pick) return null;
    clearTimeout(pick.timer);
    this.#idle = this.#idle.filter((t) => t !== pick);
    return { host: pick.host, memory: pick.memory };
  }

  /** Close the oldest idle trainer (to make room in the memory budget); false when none is left. */
  retireOldest(): boolean {
    this.#prune();
    const oldest = this.#idle[0];
    if (!oldest) return false;
    this.#retire(oldest.host);
    return true;
  }

  /** Close every idle trainer and wait for them to exit (killed after `timeoutMs`). */
  async closeAll(timeoutMs = 5000): Promise<void> {
    const all = this.#idle.splice(0);
    for (const t of all) clearTimeout(t.timer);
    await Promise.all(all.map((t) => t.host.close(timeoutMs)));
  }

  #retire(host: TrainerHost): void {
    const t = this.#idle.find((i) => i.host === host);
    if (!t) return;
    clearTimeout(t.timer);
    this.#idle = this.#idle.filter((i) => i !== t);
    void host.close();
  }

  /** Drops trainers that died while idle (killed from outside, out of memory …). */
  #prune(): void {
    for (const t of this.#idle.filter((i) => !i.host.reusable)) {
      clearTimeout(t.timer);
      void t.host.close();
    }
    this.#idle = this.#idle.filter((i) => i.host.reusable);
  }
}
