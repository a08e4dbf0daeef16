/**
 * Changes other processes make to the database (a `lora-lab train` or `tag` beside the
 * app or `serve`), turned into the same LabEvents the Lab emits for its own changes.
 *
 * A timer asks SQLite's `PRAGMA data_version`, which changes only when ANOTHER
 * connection has committed: idle, a tick costs one pragma, and this process's own
 * writes never look like outside ones. When it changed, a snapshot of runs, models and
 * adapters (a short fingerprint per row) is diffed against the last one, and the runs
 * another process trains have their new progress and metric points read. The Lab folds
 * its own events into the snapshot (`seen`), so a diff never repeats them.
 *
 * Two speeds, so thousands of runs stay cheap while another process trains (it commits
 * metric points every half second): every tick reads only what the indexes find at once
 * — runs queued or running (now or at the last look), runs newer than the newest known,
 * the row count (a deletion), models and adapters (few rows) — and the whole runs table
 * (renames, tags, notes of any run) at most every FULL_SCAN_MS, or sooner when the count
 * says a run was deleted; never more often than keeps that scan under ~5% of the time.
 */
import type { Statement } from 'better-sqlite3';
import type { Store } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import type { MetricPoint } from '../contract/protocol.ts';
import type { AdapterView, LabEvent, ModelView, RunProgress, RunView } from '../contract/api.ts';
import type { DatasetView } from '../contract/dataset.ts';

export interface OutsideHooks {
  /** Deliver an event to the Lab's listeners (not folded back through `seen`). */
  emit(e: LabEvent): void;
  runView(run: StoredRun): RunView;
  modelView(id: number): ModelView;
  adapterView(id: number): AdapterView;
  datasetView(id: number): DatasetView;
  /** A run this process trains or has queued: its progress and metrics are already its own events. */
  ownRun(id: number): boolean;
}

interface RunMark {
  /** Everything a RunView shows that can change, as one string (progress aside). */
  f: string;
  active: boolean;
  /** The progress column while running, as stored (JSON text). */
  p: string | null;
}

/** [id, fingerprint, active (0/1), progress text while running] */
type RunRow = [number, string, 0 | 1, string | null];

interface NameRow {
  id: number;
  name: string;
}

const RUN_COLUMNS = `id,
  json_array(name, status, tags, notes, base_model_id, model_id, adapter_id, error, started_at, finished_at, backend, device, summary IS NULL),
  status IN ('running', 'queued'),
  CASE WHEN status = 'running' THEN progress END`;

/** The whole runs table is diffed at most this often (ms), and sooner when a run was deleted. */
const FULL_SCAN_MS = 1000;
/** …and never more often than 20× its own last duration (≤ 5% of the time, with tens of thousands of runs). */
const FULL_SCAN_SHARE = 20;

/** Points read per run and tick at most: a run first seen mid-way is caught up over a few ticks. */
const MAX_POINTS = 20_000;
const FROM_START = Number.MIN_SAFE_INTEGER;

export class OutsideChanges {
  readonly #store: Store;
  readonly #hooks: OutsideHooks;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #version: number | null = null;
  /** null until a baseline has been read (a failed read is retried on the next tick). */
  #runs: Map<number, RunMark> | null = null;
  #models = new Map<number, string>();
  #adapters = new Map<number, string>();
  #datasets = new Map<number, string>();
  /** Runs another process trains: per metric key, the last step already told. */
  #metricsFrom = new Map<number, Map<string, number>>();
  /** Something was committed since the last full scan of the runs table. */
  #runsOwed = false;
  #s: Statements | null = null;
  /** A run had more new points than one tick reads: look again next tick even if nothing was committed. */
  #more = false;
  /** The highest run id in the snapshot: newer rows are new runs, found through the primary key. */
  #maxId = 0;
  /** When the next diff of the whole runs table is due (performance.now ms). */
  #nextFull = 0;

  constructor(store: Store, hooks: OutsideHooks, intervalMs = 500) {
    this.#store = store;
    this.#hooks = hooks;
    this.#intervalMs = intervalMs;
  }

  /** Take a baseline and start watching (again); the timer never keeps the process alive. */
  start(): void {
    // An in-memory database has no other connection to watch.
    if (this.#timer || this.#intervalMs <= 0 || this.#store.file === ':memory:') return;
    this.#runs = null;
    this.#metricsFrom.clear();
    this.#safely(() => this.#baseline());
    this.#timer = setInterval(() => this.#safely(() => this.check()), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#runs = null;
    this.#more = false;
    this.#runsOwed = false;
    this.#metricsFrom.clear();
  }

  /** One look (the timer's tick; public so a caller can look now). */
  check(): void {
    if (!this.#timer || this.#store.damaged || !this.#store.db.open) return;
    if (!this.#runs) return this.#baseline();
    const version = this.#dataVersion();
    // A full scan left for later (rate-limited) is still owed when nothing new was committed.
    const owed = this.#runsOwed && performance.now() >= this.#nextFull;
    if (version === this.#version && !this.#more && !owed) return;
    // #diff changes nothing until it has read everything: a failed read leaves the old
    // snapshot and version, so the next tick tries the same diff again.
    const events = this.#store.transaction(() => this.#diff());
    this.#version = version;
    for (const e of events) this.#hooks.emit(e);
  }

  /**
   * An event this process emitted for its own change: fold it into the snapshot so the
   * next diff does not tell it again. Never throws (it runs inside the Lab's #emit).
   */
  seen(e: LabEvent): void {
    if (!this.#runs) return;
    const runs = this.#runs;
    this.#safely(() => {
      const s = this.#statements();
      switch (e.type) {
        case 'run': {
          const row = s.run.get(e.run.id);
          if (row) {
            runs.set(row[0], mark(row));
            this.#maxId = Math.max(this.#maxId, row[0]);
          }
          if (e.run.modelId !== null) this.#refresh(this.#models, s.model, e.run.modelId);
          if (e.run.adapterId !== null) this.#refresh(this.#adapters, s.adapter, e.run.adapterId);
          break;
        }
        case 'run-deleted':
          runs.delete(e.id);
          this.#metricsFrom.delete(e.id);
          break;
        case 'model':
          this.#models.set(e.model.id, e.model.name);
          break;
        case 'model-deleted':
          this.#models.delete(e.id);
          break;
        case 'adapter':
          this.#adapters.set(e.adapter.id, e.adapter.name);
          break;
        case 'adapter-deleted':
          this.#adapters.delete(e.id);
          break;
        case 'dataset':
          this.#datasets.set(e.dataset.id, e.dataset.name);
          break;
        case 'dataset-deleted':
          this.#datasets.delete(e.id);
          break;
        default:
          break;
      }
    });
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch {
      /* a busy, closed or damaged database: the next tick (or a fresh baseline) tries again */
    }
  }

  #refresh(map: Map<number, string>, stmt: Statement<[number], NameRow>, id: number): void {
    const row = stmt.get(id);
    if (row) map.set(id, row.name);
  }

  #dataVersion(): number {
    return this.#store.db.pragma('data_version', { simple: true }) as number;
  }

  #statements(): Statements {
    return (this.#s ??= prepare(this.#store));
  }

  /** The snapshot as it is now, telling nothing; runs trained elsewhere are followed from their last stored point. */
  #baseline(): void {
    const version = this.#dataVersion();
    const s = this.#statements();
    this.#store.transaction(() => {
      const runs = this.#allRuns(s);
      this.#models = new Map(s.models.all().map((r) => [r.id, r.name]));
      this.#adapters = new Map(s.adapters.all().map((r) => [r.id, r.name]));
      this.#datasets = new Map(s.datasets.all().map((r) => [r.id, r.name]));
      this.#metricsFrom.clear();
      for (const [id, m] of runs) {
        if (m.active && !this.#hooks.ownRun(id)) this.#metricsFrom.set(id, this.#lastSteps(id));
      }
      this.#runs = runs;
      this.#maxId = maxKey(runs);
    });
    this.#version = version;
    this.#runsOwed = false;
  }

  /** Every run's mark, timing the scan to space out the next one. */
  #allRuns(s: Statements): Map<number, RunMark> {
    const t = performance.now();
    const runs = new Map<number, RunMark>();
    for (const row of s.runs.all()) runs.set(row[0], mark(row));
    const now = performance.now();
    this.#nextFull = now + Math.max(FULL_SCAN_MS, FULL_SCAN_SHARE * (now - t));
    return runs;
  }

  /** Read inside one transaction (one consistent snapshot); returns the events, in the order the Lab would emit them. */
  #diff(): LabEvent[] {
    const s = this.#statements();
    const before = this.#runs as Map<number, RunMark>;
    const from = new Map([...this.#metricsFrom].map(([id, keys]) => [id, new Map(keys)]));
    const more = { value: false };
    const newer = s.newer.all(this.#maxId);
    // Fewer rows than the snapshot plus the new ones: a run was deleted, which only a full scan finds.
    const full = performance.now() >= this.#nextFull || s.count.get() !== before.size + newer.length;
    // The runs whose rows are read this time: all of them, or those the indexes find at once.
    let after: Map<number, RunMark>;
    if (full) after = this.#allRuns(s);
    else {
      after = new Map();
      for (const row of s.active.all()) after.set(row[0], mark(row));
      for (const row of newer) after.set(row[0], mark(row));
      for (const [id, m] of before) {
        if (!m.active || after.has(id)) continue;
        const row = s.run.get(id); // it stopped, or went
        if (row) after.set(id, mark(row));
      }
    }
    const models = new Map(s.models.all().map((r) => [r.id, r.name]));
    const adapters = new Map(s.adapters.all().map((r) => [r.id, r.name]));
    const datasets = new Map(s.datasets.all().map((r) => [r.id, r.name]));

    const added: LabEvent[] = [];
    const live: LabEvent[] = [];
    const gone: LabEvent[] = [];
    // New data sets, models and adapters first: a run that finished elsewhere points at them.
    for (const [id, name] of datasets) {
      if (this.#datasets.get(id) !== name) added.push({ type: 'dataset', dataset: this.#hooks.datasetView(id) });
    }
    for (const [id, name] of models) {
      if (this.#models.get(id) !== name) added.push({ type: 'model', model: this.#hooks.modelView(id) });
    }
    for (const [id, name] of adapters) {
      if (this.#adapters.get(id) !== name) added.push({ type: 'adapter', adapter: this.#hooks.adapterView(id) });
    }
    for (const [id, now] of after) {
      const was = before.get(id);
      // Only runs queued or running (now or at the last look) can have live data, and only another process's are told here.
      const foreign = (now.active || was?.active === true) && !this.#hooks.ownRun(id);
      // Points first, then progress, then the run: a page that reloads on the final status has them all.
      if (foreign) {
        const points = this.#newPoints(id, s, from, more);
        if (points.length) live.push({ type: 'metrics', runId: id, points });
      }
      if (!now.active) from.delete(id);
      if (foreign && now.p !== null && now.p !== (was?.p ?? null)) {
        const progress = parseProgress(now.p);
        if (progress) live.push({ type: 'progress', runId: id, progress });
      }
      if (!was || was.f !== now.f) {
        const run = this.#store.runs.find(id);
        if (run) live.push({ type: 'run', run: this.#hooks.runView(run) });
      }
    }
    // Gone: any run a full scan no longer finds, or an active one whose row went.
    for (const [id, m] of before) {
      if (after.has(id) || (!full && !m.active)) continue;
      gone.push({ type: 'run-deleted', id });
      from.delete(id);
    }
    for (const id of this.#adapters.keys()) if (!adapters.has(id)) gone.push({ type: 'adapter-deleted', id });
    for (const id of this.#models.keys()) if (!models.has(id)) gone.push({ type: 'model-deleted', id });
    for (const id of this.#datasets.keys()) if (!datasets.has(id)) gone.push({ type: 'dataset-deleted', id });

    if (full) this.#runs = after;
    else {
      for (const [id, m] of after) before.set(id, m);
      for (const e of gone) if (e.type === 'run-deleted') before.delete(e.id);
    }
    this.#runsOwed = !full;
    this.#maxId = Math.max(this.#maxId, maxKey(after));
    this.#models = models;
    this.#adapters = adapters;
    this.#datasets = datasets;
    this.#metricsFrom = from;
    this.#more = more.value;
    return [...added, ...live, ...gone];
  }

  /** Points of a run trained elsewhere stored since the last look (all of them for a run first seen now). */
  #newPoints(runId: number, s: Statements, told: Map<number, Map<string, number>>, more: { value: boolean }): MetricPoint[] {
    let from = told.get(runId);
    if (!from) told.set(runId, (from = new Map()));
    const points: MetricPoint[] = [];
    for (const [key, last] of this.#lastSteps(runId)) {
      const after = from.get(key) ?? FROM_START;
      if (last <= after) continue;
      const rows = s.points.all(runId, key, after, MAX_POINTS);
      for (const r of rows) points.push({ key, step: r.step, value: r.value ?? NaN, time: r.time });
      const end = rows[rows.length - 1];
      if (end) from.set(key, end.step);
      if (rows.length === MAX_POINTS) more.value = true;
    }
    return points;
  }

  /** Per metric key of the run, its last stored step (a few index seeks, whatever the number of points). */
  #lastSteps(runId: number): Map<string, number> {
    const m = this.#store.metrics;
    const steps = new Map<string, number>();
    for (const key of m.keys(runId)) {
      const last = m.last(runId, key);
      if (last) steps.set(key, last.step);
    }
    return steps;
  }
}

type Statements = ReturnType<typeof prepare>;

function prepare(store: Store) {
  const p = <A extends unknown[], R>(sql: string) => store.db.prepare<A, R>(sql);
  return {
    runs: p<[], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs`).raw(),
    run: p<[number], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).raw(),
    // Through the runs_status index and the primary key: a few rows, whatever the table's size.
    active: p<[], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE status IN ('running', 'queued')`).raw(),
    newer: p<[number], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id > ?`).raw(),
    count: p<[], number>('SELECT count(*) FROM runs').pluck(),
    models: p<[], NameRow>('SELECT id, name FROM models'),
    model: p<[number], NameRow>('SELECT id, name FROM models WHERE id = ?'),
    adapters: p<[], NameRow>('SELECT id, name FROM adapters'),
    adapter: p<[number], NameRow>('SELECT id, name FROM adapters WHERE id = ?'),
    datasets: p<[], NameRow>('SELECT id, name FROM datasets'),
    points: p<[number, string, number, number], { step: number; value: number | null; time: number }>(
      'SELECT step, value, time FROM metrics WHERE run_id = ? AND key = ? AND step > ? ORDER BY step LIMIT ?',
    ),
  };
}

function mark([, f, active, p]: RunRow): RunMark {
  return { f, active: active === 1, p };
}

function maxKey(m: Map<number, unknown>): number {
  let max = 0;
  for (const id of m.keys()) if (id > max) max = id;
  return max;
}

function parseProgress(text: string): RunProgress | null {
  try {
    const p = JSON.parse(text) as RunProgress | null;
    return p && typeof p === 'object' && typeof p.step === 'number' ? p : null;
  } catch {
    return null;
  }
}
