/**
 * Compare with groups (#/compare?groups=1,2;3,4): one `compareGroups` answer (each
 * group's figures, its curves as mean with band and members, and for two groups the
 * tests), the runs themselves (names, focus classes), and the view settings (band as
 * ± one std or the 95% CI of the mean; member runs shown or not). Reloads when a run of
 * a group changes status or goes.
 */
import type { LabEvent, RunView } from '../../src-main/contract/api.ts';
import type { GroupComparison } from '../../src-main/contract/groups.ts';
import { errorText, followLab, lab } from './api.ts';
import { Coalesced } from './coalesce.ts';
import type { BandMode } from './group-bands.ts';
import { groupLetter } from './group-format.ts';

export class CompareGroupsState {
  readonly groups: number[][];
  readonly #ids: Set<number>;
  #data = $state.raw<GroupComparison | null>(null);
  #runs = $state.raw<Map<number, RunView>>(new Map());
  #error = $state<string | null>(null);
  #band = $state<BandMode>('std');
  #members = $state(true);
  readonly #reloadSoon = new Coalesced(() => void this.load(), 400);
  #seq = 0;

  constructor(groups: number[][]) {
    this.groups = groups;
    this.#ids = new Set(groups.flat());
  }

  get data(): GroupComparison | null { return this.#data; }
  get error(): string | null { return this.#error; }
  get band(): BandMode { return this.#band; }
  get members(): boolean { return this.#members; }
  setBand(b: BandMode): void { this.#band = b; }
  setMembers(on: boolean): void { this.#members = on; }

  /** Every run id of every group, for "compare as runs". */
  get allIds(): number[] { return [...this.#ids]; }

  /** "group A" … as the page names the groups. */
  name(i: number): string {
    return `group ${groupLetter(i)}`;
  }

  /** Metric keys with a curve in some group, training first, then validation, then test. */
  readonly metricKeys: string[] = $derived.by(() => {
    const series = this.#data?.series ?? {};
    const rank = (k: string) => (k.startsWith('train/') ? 0 : k.startsWith('val/') ? 1 : k.startsWith('test/') ? 2 : 3);
    return Object.keys(series)
      .filter((k) => (series[k] ?? []).some((s) => (s?.steps.length ?? 0) > 1))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  });

  /** A group's focus classes (indices): those of its first run that has any. */
  focusClasses(i: number): number[] {
    const g = this.#data?.groups[i];
    for (const id of g?.runIds ?? this.groups[i] ?? []) {
      const c = this.#runs.get(id)?.config.classes;
      if (c?.length) return [...c];
    }
    return [];
  }

  run(id: number): RunView | undefined {
    return this.#runs.get(id);
  }

  start(): () => void {
    return followLab((e) => this.#onEvent(e), () => this.load(), () => this.#reloadSoon.cancel());
  }

  async load(): Promise<void> {
    const seq = ++this.#seq;
    try {
      const [data, runs] = await Promise.all([lab.compareGroups({ groups: this.groups.map((runIds) => ({ runIds })) }), lab.listRuns()]);
      if (seq !== this.#seq) return;
      this.#data = data;
      this.#runs = new Map(runs.filter((r) => this.#ids.has(r.id)).map((r) => [r.id, r]));
      this.#error = null;
    } catch (err) {
      if (seq === this.#seq) this.#error = errorText(err);
    }
  }

  #onEvent(e: LabEvent): void {
    if (e.type === 'run' && this.#ids.has(e.run.id)) {
      if (this.#runs.get(e.run.id)?.status !== e.run.status) this.#reloadSoon.ask();
    } else if (e.type === 'run-deleted' && this.#ids.has(e.id)) {
      this.#reloadSoon.ask();
    }
  }
}
