/**
 * The Sweep page's state: the sweep's detail for the chosen objective (GROUP_FIGURES
 * key), reloaded, coalesced, on its `sweep` events and its runs' `run` events; live
 * steps of its running runs from `progress` events; and the brushes of the
 * parallel-coordinates plot, which filter the lines and the points table.
 */
import { GROUP_FIGURES, type GroupView } from '../../src-main/contract/groups.ts';
import type { LabEvent, RunProgress } from '../../src-main/contract/api.ts';
import type { SweepDetail } from '../../src-main/contract/sweep.ts';
import { errorText, lab, onConnection } from './api.ts';
import { Coalesced } from './coalesce.ts';
import { type Brush, type PcAxis, type PcLine, axesOf, brushed, linesOf } from './parallel-coords.ts';

export type Figure = (typeof GROUP_FIGURES)[number];

export function figureOf(key: string): Figure | null {
  return GROUP_FIGURES.find((f) => f.key === key) ?? null;
}

/** A group's point values as one key, to match groups with points whatever the key order. */
export function paramsKey(params: Record<string, unknown>, paths: readonly string[]): string {
  return JSON.stringify(paths.map((p) => params[p] ?? null));
}

export class SweepState {
  readonly id: number;
  #detail = $state.raw<SweepDetail | null>(null);
  #objective = $state<string | null>(null);
  #brushes = $state.raw<Record<string, Brush>>({});
  #progress = $state.raw<ReadonlyMap<number, RunProgress>>(new Map());
  #loading = $state(true);
  #error = $state<string | null>(null);
  #seq = 0;
  readonly #reload = new Coalesced(() => void this.load(), 400);

  constructor(id: number) {
    this.id = id;
  }

  get detail(): SweepDetail | null { return this.#detail; }
  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }
  get brushes(): Readonly<Record<string, Brush>> { return this.#brushes; }
  get anyBrush(): boolean { return Object.keys(this.#brushes).length > 0; }
  /** The objective shown: the one picked, else the sweep's own. */
  get objectiveKey(): string { return this.#objective ?? this.#detail?.objective.figure ?? 'accuracy'; }
  readonly objective: Figure | null = $derived(figureOf(this.objectiveKey));

  /** Live step of a running run (progress events are more recent than the detail). */
  progressOf(runId: number | null): RunProgress | null {
    return runId === null ? null : (this.#progress.get(runId) ?? null);
  }

  readonly lines: PcLine[] = $derived(this.#detail ? linesOf(this.#detail.pointList, this.objectiveKey) : []);
  readonly axes: PcAxis[] = $derived.by(() => {
    const d = this.#detail;
    if (!d) return [];
    const f = this.objective;
    return axesOf(d.paths, d.pointList, this.lines, { key: this.objectiveKey, label: f?.label ?? this.objectiveKey, ...(f ? { unit: f.unit === 'fraction' ? 'fraction 0–1' : f.unit } : {}), better: f?.better ?? d.objective.better });
  });
  readonly visibleLines: PcLine[] = $derived(brushed(this.lines, this.axes, this.#brushes));
  /** The group rows (one per point) the brushes let through: a point with a run inside every brush. */
  readonly visibleGroups: GroupView[] = $derived.by(() => {
    const d = this.#detail;
    if (!d) return [];
    if (!this.anyBrush) return d.groups;
    const runs = new Set(this.visibleLines.map((l) => l.runId));
    return d.groups.filter((g) => g.completedIds.some((id) => runs.has(id)));
  });

  start(): () => void {
    const off = lab.subscribe((e) => this.#onEvent(e));
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.load();
    });
    void this.load();
    return () => {
      off();
      offConn();
      this.#reload.cancel();
    };
  }

  async load(): Promise<void> {
    const seq = ++this.#seq;
    try {
      const d = await lab.getSweep(this.id, this.#objective ?? undefined);
      if (seq !== this.#seq) return;
      this.#detail = d;
      this.#error = null;
      // Progress of runs no longer running is stale.
      const running = new Set(d.pointList.flatMap((p) => p.runs.filter((r) => r.state === 'running' && r.runId !== null).map((r) => r.runId as number)));
      this.#progress = new Map([...this.#progress].filter(([id]) => running.has(id)));
    } catch (err) {
      if (seq === this.#seq) this.#error = errorText(err);
    } finally {
      if (seq === this.#seq) this.#loading = false;
    }
  }

  setObjective(key: string): void {
    if (key === this.objectiveKey) return;
    this.#objective = key;
    // The objective axis is rebuilt: its brush meant another figure.
    const figures = new Set<string>(GROUP_FIGURES.map((f) => f.key));
    this.#brushes = Object.fromEntries(Object.entries(this.#brushes).filter(([k]) => !figures.has(k)));
    void this.load();
  }

  setBrush(key: string, b: Brush | null): void {
    const { [key]: _old, ...rest } = this.#brushes;
    void _old;
    this.#brushes = b ? { ...rest, [key]: b } : rest;
  }

  clearBrushes(): void {
    this.#brushes = {};
  }

  async cancel(): Promise<void> {
    await lab.cancelSweep(this.id);
    await this.load();
  }

  async resume(): Promise<void> {
    await lab.resumeSweep(this.id);
    await this.load();
  }

  #ownsRun(runId: number): boolean {
    return this.#detail?.pointList.some((p) => p.runs.some((r) => r.runId === runId)) ?? false;
  }

  #onEvent(e: LabEvent): void {
    if (e.type === 'sweep' && e.sweep.id === this.id) this.#reload.ask();
    else if (e.type === 'sweep-deleted' && e.id === this.id) this.#error = 'This sweep was deleted.';
    else if (e.type === 'run' && e.run.sweep?.sweepId === this.id) this.#reload.ask();
    else if (e.type === 'progress' && this.#ownsRun(e.runId)) {
      const next = new Map(this.#progress);
      next.set(e.runId, e.progress);
      this.#progress = next;
    }
  }
}
