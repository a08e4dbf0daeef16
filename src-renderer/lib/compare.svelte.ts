/**
 * The Compare page: one `compareRuns` answer (parameters, metrics, evaluations,
 * summaries), kept live while any of the runs trains, plus the view settings
 * (only-differences, smoothing, x axis), and the runs grouped by the classes they are
 * evaluated on (per-class figures line up within a group only).
 */
import type { Comparison, LabEvent, RunView, Series } from '../../src-main/contract/api.ts';
import { errorText, followLab, lab } from './api.ts';
import { Coalesced } from './coalesce.ts';
import { classNames, groupByClasses } from './classes.ts';
import { runLength } from './compare-summary.ts';
import { estimateStepsPerEpoch } from './estimates.ts';
import { appendPoints } from './run.svelte.ts';
import { type XAxis, type XContext, defaultXAxis } from './series.ts';

export class CompareState {
  readonly ids: number[];
  #data = $state.raw<Comparison | null>(null);
  #candidates = $state.raw<RunView[] | null>(null);
  #error = $state<string | null>(null);
  #onlyDiff = $state(true);
  #smoothing = $state(0.6);
  /** The x axis picked by hand; until then `defaultXAxis` of the runs' lengths. */
  #xAxis = $state<XAxis | null>(null);
  readonly #reloadSoon = new Coalesced(() => void this.load(), 300);

  constructor(ids: number[]) {
    this.ids = ids;
  }

  get data(): Comparison | null { return this.#data; }
  /** With fewer than two runs asked for: the runs one could pick. */
  get candidates(): RunView[] | null { return this.#candidates; }
  get error(): string | null { return this.#error; }
  get onlyDiff(): boolean { return this.#onlyDiff; }
  get smoothing(): number { return this.#smoothing; }
  get xAxis(): XAxis { return this.#xAxis ?? defaultXAxis(this.lengths); }
  /** Whether the axis was chosen for these runs (their lengths differ wildly) rather than by hand. */
  get xAxisAuto(): boolean { return this.#xAxis === null; }

  setOnlyDiff(on: boolean): void { this.#onlyDiff = on; }
  setSmoothing(w: number): void { this.#smoothing = Math.min(0.99, Math.max(0, w)); }
  setXAxis(x: XAxis): void { this.#xAxis = x; }

  readonly params = $derived(this.#data ? this.#data.params.filter((p) => !this.#onlyDiff || p.differs) : []);
  readonly differing: number = $derived(this.#data ? this.#data.params.filter((p) => p.differs).length : 0);

  /** Metric keys in a reading order: training loss first, then validation, then test. */
  readonly metricKeys: string[] = $derived.by(() => {
    const keys = Object.keys(this.#data?.metrics ?? {});
    const rank = (k: string) => (k.startsWith('train/') ? 0 : k.startsWith('val/') ? 1 : k.startsWith('test/') ? 2 : 3);
    return keys.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  });

  /** The data sets of these runs, in first-seen order, with the runs (indices) on each. */
  readonly datasets: { id: number; name: string; runs: number[] }[] = $derived.by(() => {
    const out: { id: number; name: string; runs: number[] }[] = [];
    (this.#data?.runs ?? []).forEach((r, i) => {
      const id = r.dataset?.id ?? r.config.data;
      const g = out.find((d) => d.id === id);
      if (g) g.runs.push(i);
      else out.push({ id, name: r.dataset?.name ?? `data set #${id}`, runs: [i] });
    });
    return out;
  });

  /**
   * Runs grouped by their class names (index = class): per-class charts and tables are
   * drawn per group, never across class lists that do not match.
   */
  readonly classGroups: { classes: string[]; runs: number[]; datasetNames: string[] }[] = $derived.by(() => {
    const data = this.#data;
    if (!data) return [];
    const classesOf = (i: number) => {
      const r = data.runs[i];
      const n = r?.dataset?.classes.length ?? data.evaluations[i]?.after?.countPerClass.length ?? 0;
      return classNames(r?.dataset, n);
    };
    return groupByClasses(data.runs.map((_, i) => i), classesOf).map((g) => ({
      classes: [...(g.classes ?? [])],
      runs: g.items,
      datasetNames: [...new Set(g.items.map((i) => data.runs[i]?.dataset?.name ?? `data set #${data.runs[i]?.config.data}`))],
    }));
  });

  /** Per run: its length in steps (see runLength). */
  readonly lengths: number[] = $derived((this.#data?.runs ?? []).map((r, i) => runLength(r, this.#data?.metrics['train/loss']?.[i])));

  /** Per run: how steps map to epochs, when it started, and its length (for % of each run). */
  readonly xContexts: XContext[] = $derived(
    (this.#data?.runs ?? []).map((r, i) => ({
      stepsPerEpoch: r.summary?.stepsPerEpoch ?? estimateStepsPerEpoch(r.config),
      startedAt: r.startedAt,
      totalSteps: this.lengths[i] ?? null,
    })),
  );

  start(): () => void {
    return followLab((e) => this.#onEvent(e), () => this.load(), () => this.#reloadSoon.cancel());
  }

  async load(): Promise<void> {
    try {
      if (this.ids.length < 2) {
        this.#candidates = await lab.listRuns();
        return;
      }
      this.#data = await lab.compareRuns(this.ids);
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    }
  }

  #onEvent(e: LabEvent): void {
    const data = this.#data;
    if (!data) {
      if (this.#candidates && (e.type === 'run' || e.type === 'run-deleted')) this.#reloadSoon.ask();
      return;
    }
    if (e.type === 'metrics') {
      const i = this.ids.indexOf(e.runId);
      if (i < 0) return;
      // Extend that run's series in place of a full reload; summaries refresh when it finishes.
      const own: Record<string, Series> = {};
      for (const [k, per] of Object.entries(data.metrics)) if (per[i]) own[k] = per[i];
      const next = appendPoints(own, e.points);
      const metrics = { ...data.metrics };
      for (const [k, s] of Object.entries(next)) {
        const per = metrics[k] ? [...metrics[k]] : this.ids.map(() => null);
        per[i] = s;
        metrics[k] = per;
      }
      this.#data = { ...data, metrics };
    } else if (e.type === 'run' && this.ids.includes(e.run.id)) {
      const i = this.ids.indexOf(e.run.id);
      const old = data.runs[i];
      this.#data = { ...data, runs: data.runs.with(i, e.run) };
      if (old && old.status !== e.run.status) this.#reloadSoon.ask();
    } else if (e.type === 'progress' && this.ids.includes(e.runId)) {
      const i = this.ids.indexOf(e.runId);
      const r = data.runs[i];
      if (r) this.#data = { ...data, runs: data.runs.with(i, { ...r, progress: e.progress }) };
    } else if (e.type === 'run-deleted' && this.ids.includes(e.id)) {
      this.#error = `Run ${e.id} was deleted.`;
    }
  }
}
