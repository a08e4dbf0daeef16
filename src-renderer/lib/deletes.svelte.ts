/**
 * Delete with undo, as a delayed delete: the run disappears from every list at once and
 * an "Undo" toast shows for UNDO_MS; only when it expires is `deleteRun` called. Undo
 * simply forgets the request. If the page is closed meanwhile, pending deletes are sent
 * then (the user did confirm them).
 */
import { SvelteSet } from 'svelte/reactivity';
import type { RunView } from '../../src-main/lab/api.ts';
import { errorText, lab } from './api.ts';
import { toasts } from './toasts.svelte.ts';

export const UNDO_MS = 8000;

class PendingDeletes {
  /** Runs hidden because their delete is pending. */
  readonly hidden = new SvelteSet<number>();
  readonly #batches = new Map<number, { ids: number[]; names: string[] }>();

  constructor() {
    if (typeof window !== 'undefined') window.addEventListener('pagehide', () => this.flush());
  }

  isHidden(id: number): boolean {
    return this.hidden.has(id);
  }

  /** Hide the runs now and delete them when the undo window closes. */
  schedule(runs: Pick<RunView, 'id' | 'name'>[]): void {
    if (runs.length === 0) return;
    const ids = runs.map((r) => r.id);
    for (const id of ids) this.hidden.add(id);
    const text = runs.length === 1 ? `Deleted “${runs[0]!.name}”.` : `Deleted ${runs.length} runs.`;
    let toastId = 0;
    toastId = toasts.show(text, {
      timeoutMs: UNDO_MS,
      action: { label: 'Undo', run: () => this.#undo(toastId) },
      onExpire: () => void this.#commit(toastId),
    });
    this.#batches.set(toastId, { ids, names: runs.map((r) => r.name) });
  }

  #undo(toastId: number): void {
    const batch = this.#batches.get(toastId);
    this.#batches.delete(toastId);
    toasts.dismiss(toastId);
    for (const id of batch?.ids ?? []) this.hidden.delete(id);
  }

  async #commit(toastId: number): Promise<void> {
    const batch = this.#batches.get(toastId);
    this.#batches.delete(toastId);
    if (!batch) return;
    const failures: string[] = [];
    for (const [i, id] of batch.ids.entries()) {
      try {
        await lab.deleteRun(id);
      } catch (err) {
        failures.push(`Could not delete “${batch.names[i]}”: ${errorText(err)}`);
      }
      this.hidden.delete(id);
    }
    for (const f of failures) toasts.error(f);
  }

  /** Send every pending delete now (the page is going away). */
  flush(): void {
    for (const toastId of [...this.#batches.keys()]) {
      toasts.dismiss(toastId);
      void this.#commit(toastId);
    }
  }
}

export const pendingDeletes = new PendingDeletes();
