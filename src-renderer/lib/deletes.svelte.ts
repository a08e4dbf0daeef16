/**
 * Delete with undo, as a delayed delete: the run disappears from every list at once and
 * an "Undo" toast shows for UNDO_MS; only when it expires is `deleteRun` called. Undo
 * simply forgets the request. If the page is closed meanwhile, pending deletes are sent
 * then (the user did confirm them).
 *
 * Only deletes the Lab will accept are scheduled: `planRunDeletes` finds, before the
 * dialog offers "Delete", what would make the Lab refuse (other runs, adapters or models
 * using a run's model), so the dialog says so up front instead of a delete that first
 * seems to succeed and then comes back.
 */
import { SvelteSet } from 'svelte/reactivity';
import type { ModelView, NamedRef, RunView } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';
import { toasts } from './toasts.svelte.ts';

export const UNDO_MS = 8000;

type RunRef = Pick<RunView, 'id' | 'name' | 'modelId' | 'baseModelId'>;

/** A run in the way: its status is null when the run list did not hold it (made meanwhile). */
export type DependentRun = NamedRef & { status: RunView['status'] | null };

/** Why one of the runs asked for cannot go: what uses the model it produced. */
export interface RunBlocker {
  run: RunView;
  model: NamedRef;
  /** Runs fine-tuned from the model that are not being deleted too. */
  runs: DependentRun[];
  /** Adapters on the model that no run being deleted (or listed in `runs`) takes with it. */
  adapters: (NamedRef & { runId: number | null })[];
  /** Models derived from it (merged, imported onto it). */
  models: NamedRef[];
}

export interface RunDeletePlan {
  /** Runs that can go, in an order the Lab accepts (runs before the base runs they use). */
  runs: RunView[];
  blockers: RunBlocker[];
  /**
   * The runs asked for plus the runs in the way, when deleting those too clears every
   * blocker (nothing else in the way, none of them queued or running); otherwise null.
   */
  withDependents: RunView[] | null;
}

export const isActive = (r: { status: RunView['status'] | null }) => r.status === 'running' || r.status === 'queued';

/** Runs fine-tuned from another run's model go first: the Lab refuses the other order. */
export function deleteOrder<T extends RunRef>(runs: T[]): T[] {
  const models = new Set(runs.map((r) => r.modelId));
  const first = (r: T) => (r.baseModelId !== null && models.has(r.baseModelId) ? 0 : 1);
  return [...runs].sort((a, b) => first(a) - first(b));
}

/** What deleting `targets` would run into, from the current runs and models. */
export function planRunDeletes(targets: RunView[], allRuns: RunView[], models: ModelView[]): RunDeletePlan {
  const going = new Set(targets.map((r) => r.id));
  const byId = new Map(allRuns.map((r) => [r.id, r]));
  const blockers: RunBlocker[] = [];
  for (const run of targets) {
    const model = run.modelId === null ? undefined : models.find((m) => m.id === run.modelId);
    if (!model) continue;
    const runs = model.usedBy.runs.filter((r) => !going.has(r.id)).map((r) => ({ ...r, status: byId.get(r.id)?.status ?? null }));
    const listed = new Set([...going, ...runs.map((r) => r.id)]);
    const adapters = model.usedBy.adapters.filter((a) => a.runId === null || !listed.has(a.runId));
    if (runs.length + adapters.length + model.usedBy.models.length === 0) continue;
    blockers.push({ run, model: { id: model.id, name: model.name }, runs, adapters, models: model.usedBy.models });
  }
  const extra = [...new Set(blockers.flatMap((b) => b.runs.map((r) => r.id)))].map((id) => byId.get(id));
  const clearable =
    blockers.length > 0 &&
    blockers.every((b) => b.adapters.length === 0 && b.models.length === 0 && b.runs.every((r) => r.status !== null && !isActive(r)));
  return {
    runs: blockers.length ? [] : deleteOrder(targets),
    blockers,
    withDependents: clearable ? [...targets, ...extra.filter((r) => r !== undefined)] : null,
  };
}

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
  schedule(list: RunRef[]): void {
    if (list.length === 0) return;
    const runs = deleteOrder(list);
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
