/**
 * The Runs page's group view: the runs in scope (the selection, or every filtered run)
 * grouped by the Lab (`groupRuns`), by its default keys (config minus the seed) or the
 * paths picked; groups picked for Compare; rows opened to their per-class counts. The
 * switch and the picked paths outlive the page (back from Compare, still grouped).
 */
import { SvelteSet } from 'svelte/reactivity';
import type { GroupTable, GroupView } from '../../src-main/contract/groups.ts';
import { errorText, lab } from './api.ts';
import { Coalesced } from './coalesce.ts';
import { href } from './router.svelte.ts';

/** Kept across visits of the Runs page in one session. */
class GroupSettings {
  on = $state(false);
  /** null: the Lab's default (every differing path but the seed). */
  by = $state<string[] | null>(null);
}
export const groupSettings = new GroupSettings();

export class GroupsState {
  #table = $state.raw<GroupTable | null>(null);
  #error = $state<string | null>(null);
  #loading = $state(false);
  /** The scope asked for last, and its signature (ids and statuses: a run that completes changes the groups). */
  #ids: number[] = [];
  #signature = '';
  #seq = 0;
  readonly selected = new SvelteSet<string>();
  readonly expanded = new SvelteSet<string>();
  readonly #reloadSoon = new Coalesced(() => void this.load(), 300);

  get table(): GroupTable | null { return this.#table; }
  get error(): string | null { return this.#error; }
  get loading(): boolean { return this.#loading; }
  get by(): string[] | null { return groupSettings.by; }

  /** The groups picked for Compare, in table order. */
  readonly picked: GroupView[] = $derived((this.#table?.groups ?? []).filter((g) => this.selected.has(g.key)));

  /** Compare's address for the picked groups (their completed runs); null below two groups. */
  readonly compareHref: string | null = $derived(
    this.picked.length >= 2 ? href.compareGroups(this.picked.map((g) => (g.completedIds.length ? g.completedIds : g.runIds))) : null,
  );

  /** Follow the runs in scope; reloads (soon) when they or their statuses change. */
  setScope(scope: readonly { id: number; status: string }[]): void {
    // Oldest first, whatever the table's sort: groups come in the order of their first run.
    const runs = [...scope].sort((a, b) => a.id - b.id);
    const signature = runs.map((r) => `${r.id}:${r.status}`).join(',');
    if (signature === this.#signature) return;
    const first = this.#signature === '';
    this.#signature = signature;
    this.#ids = runs.map((r) => r.id);
    if (first) void this.load();
    else this.#reloadSoon.ask();
  }

  setBy(paths: string[] | null): void {
    groupSettings.by = paths && paths.length ? [...paths] : null;
    this.selected.clear();
    void this.load();
  }

  toggle(key: string): void {
    if (this.selected.has(key)) this.selected.delete(key);
    else this.selected.add(key);
  }

  toggleExpanded(key: string): void {
    if (this.expanded.has(key)) this.expanded.delete(key);
    else this.expanded.add(key);
  }

  async load(): Promise<void> {
    const seq = ++this.#seq;
    const ids = this.#ids;
    if (ids.length === 0) {
      this.#table = null;
      this.#error = null;
      return;
    }
    this.#loading = true;
    try {
      const by = groupSettings.by;
      const table = await lab.groupRuns({ runIds: ids, ...(by ? { by } : {}) });
      if (seq !== this.#seq) return;
      this.#table = table;
      this.#error = null;
      const keys = new Set(table.groups.map((g) => g.key));
      for (const k of [...this.selected]) if (!keys.has(k)) this.selected.delete(k);
    } catch (err) {
      if (seq === this.#seq) this.#error = errorText(err);
    } finally {
      if (seq === this.#seq) this.#loading = false;
    }
  }

  stop(): void {
    this.#reloadSoon.cancel();
  }
}
