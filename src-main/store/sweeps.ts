/**
 * Sweeps and their points × seeds (sweep_runs): the persistent queue. A sweep_runs row
 * is `pending` until its run is created and linked (attachRun, in the run's creating
 * transaction); from then on it follows its run. A linked row is never given another
 * run: no point is run twice.
 */
import type { RunConfig } from '../contract/config.ts';
import type { RunSweepLink } from '../contract/records.ts';
import type { ParamValue, SweepRunState, SweepSpec, SweepStatus } from '../contract/sweep.ts';
import { SWEEP_RUN_STATES } from '../contract/sweep.ts';
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';
import { StoreError, TransitionError } from './errors.ts';

export interface StoredSweep {
  id: number;
  name: string;
  spec: SweepSpec;
  /** The starting config with the overrides applied. */
  config: RunConfig;
  baseModelId: number | null;
  status: SweepStatus;
  owner: string | null;
  createdAt: number;
  finishedAt: number | null;
  error: string | null;
}

export interface StoredSweepRun {
  sweepId: number;
  point: number;
  seedIndex: number;
  params: Record<string, ParamValue>;
  seed: number;
  runId: number | null;
  state: SweepRunState;
  attempts: number;
  position: number;
  /** ASHA: rung step (as a string key) → the metric's value there. */
  rungs: Record<string, number>;
}

export interface NewSweep {
  name: string;
  spec: SweepSpec;
  config: RunConfig;
  baseModelId: number | null;
  owner: string | null;
  /** In start order. */
  runs: { point: number; seedIndex: number; params: Record<string, ParamValue>; seed: number }[];
}

interface SweepRow {
  id: number;
  name: string;
  spec: string;
  config: string;
  base_model_id: number | null;
  status: SweepStatus;
  owner: string | null;
  created_at: number;
  finished_at: number | null;
  error: string | null;
}

interface SweepRunRow {
  sweep_id: number;
  point: number;
  seed_index: number;
  params: string;
  seed: number;
  run_id: number | null;
  state: SweepRunState;
  attempts: number;
  position: number;
  rungs: string;
}

const toSweep = (r: SweepRow): StoredSweep => ({
  id: r.id,
  name: r.name,
  spec: fromJson<SweepSpec>(r.spec) as SweepSpec,
  config: fromJson<RunConfig>(r.config) as RunConfig,
  baseModelId: r.base_model_id,
  status: r.status,
  owner: r.owner,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  error: r.error,
});

const toSweepRun = (r: SweepRunRow): StoredSweepRun => ({
  sweepId: r.sweep_id,
  point: r.point,
  seedIndex: r.seed_index,
  params: fromJson<Record<string, ParamValue>>(r.params) ?? {},
  seed: r.seed,
  runId: r.run_id,
  state: r.state,
  attempts: r.attempts,
  position: r.position,
  rungs: fromJson<Record<string, number>>(r.rungs) ?? {},
});

export type SweepStateCounts = Record<SweepRunState, number>;

export class SweepsRepo {
  readonly #db: Db;
  readonly #s;

  constructor(db: Db) {
    this.#db = db;
    const p = <A extends unknown[] | object, R = never>(sql: string) => db.prepare<A, R>(sql);
    this.#s = {
      insert: p<[string, string, string, number | null, string | null, number]>(
        `INSERT INTO sweeps (name, spec, config, base_model_id, status, owner, created_at) VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      ),
      insertRun: p<[number, number, number, string, number, number]>(
        'INSERT INTO sweep_runs (sweep_id, point, seed_index, params, seed, position) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      get: p<[number], SweepRow>('SELECT * FROM sweeps WHERE id = ?'),
      list: p<[], SweepRow>('SELECT * FROM sweeps ORDER BY id DESC'),
      withStatus: p<[string], SweepRow>('SELECT * FROM sweeps WHERE status = ? ORDER BY id'),
      runs: p<[number], SweepRunRow>('SELECT * FROM sweep_runs WHERE sweep_id = ? ORDER BY position'),
      run: p<[number, number, number], SweepRunRow>('SELECT * FROM sweep_runs WHERE sweep_id = ? AND point = ? AND seed_index = ?'),
      byRunId: p<[number], SweepRunRow>('SELECT * FROM sweep_runs WHERE run_id = ?'),
      nextPending: p<[number], SweepRunRow>(`SELECT * FROM sweep_runs WHERE sweep_id = ? AND state = 'pending' ORDER BY position LIMIT 1`),
      attach: p<[number, number, number, number]>(
        `UPDATE sweep_runs SET run_id = ?, state = 'queued', attempts = attempts + 1
         WHERE sweep_id = ? AND point = ? AND seed_index = ? AND state = 'pending' AND run_id IS NULL`,
      ),
      setState: p<[string, number, number, number]>('UPDATE sweep_runs SET state = ? WHERE sweep_id = ? AND point = ? AND seed_index = ?'),
      addAttempt: p<[number, number, number]>('UPDATE sweep_runs SET attempts = attempts + 1 WHERE sweep_id = ? AND point = ? AND seed_index = ?'),
      setRungs: p<[string, number, number, number]>('UPDATE sweep_runs SET rungs = ? WHERE sweep_id = ? AND point = ? AND seed_index = ?'),
      cancelPending: p<[number]>(`UPDATE sweep_runs SET state = 'cancelled' WHERE sweep_id = ? AND state = 'pending'`),
      counts: p<[number], { state: SweepRunState; n: number }>('SELECT state, count(*) AS n FROM sweep_runs WHERE sweep_id = ? GROUP BY state'),
      points: p<[number], { n: number }>('SELECT count(DISTINCT point) AS n FROM sweep_runs WHERE sweep_id = ?'),
      status: p<[string, string | null, number | null, string | null, number]>(
        'UPDATE sweeps SET status = ?, owner = ?, finished_at = ?, error = ? WHERE id = ?',
      ),
      claim: p<[string, number, string | null]>(
        `UPDATE sweeps SET status = 'running', owner = ?, finished_at = NULL, error = NULL
         WHERE id = ? AND (status = 'paused' OR (status = 'running' AND owner IS ?))`,
      ),
      unlinkRuns: p<[number]>('UPDATE runs SET sweep_id = NULL, sweep_point = NULL, sweep_seed_index = NULL WHERE sweep_id = ?'),
      delete: p<[number]>('DELETE FROM sweeps WHERE id = ?'),
    };
  }

  /** The sweep with all its (point, seed) rows, pending, in one transaction; status running, owned by `owner`. */
  create(s: NewSweep): StoredSweep {
    return this.#db.transaction(() => {
      const info = this.#s.insert.run(s.name, toJson(s.spec), toJson(s.config), s.baseModelId, s.owner, Date.now());
      const id = Number(info.lastInsertRowid);
      s.runs.forEach((r, i) => this.#s.insertRun.run(id, r.point, r.seedIndex, toJson(r.params), r.seed, i));
      return this.get(id);
    })();
  }

  find(id: number): StoredSweep | undefined {
    const row = this.#s.get.get(id);
    return row && toSweep(row);
  }

  get(id: number): StoredSweep {
    const found = this.find(id);
    if (!found) throw new StoreError(`sweep ${id} does not exist`);
    return found;
  }

  /** Newest first. */
  list(): StoredSweep[] {
    return this.#s.list.all().map(toSweep);
  }

  withStatus(status: SweepStatus): StoredSweep[] {
    return this.#s.withStatus.all(status).map(toSweep);
  }

  /** Its (point, seed) rows in start order. */
  runs(sweepId: number): StoredSweepRun[] {
    return this.#s.runs.all(sweepId).map(toSweepRun);
  }

  run(link: RunSweepLink): StoredSweepRun | undefined {
    const row = this.#s.run.get(link.sweepId, link.point, link.seedIndex);
    return row && toSweepRun(row);
  }

  byRunId(runId: number): StoredSweepRun | undefined {
    const row = this.#s.byRunId.get(runId);
    return row && toSweepRun(row);
  }

  nextPending(sweepId: number): StoredSweepRun | undefined {
    const row = this.#s.nextPending.get(sweepId);
    return row && toSweepRun(row);
  }

  /**
   * Links a pending (point, seed) to the run that trains it (inside the run's creating
   * transaction): state queued, attempt 1. A row that has (or had) a run is refused.
   */
  attachRun(link: RunSweepLink, runId: number): void {
    if (this.#s.attach.run(runId, link.sweepId, link.point, link.seedIndex).changes === 1) return;
    const row = this.run(link);
    const where = `sweep ${link.sweepId} point ${link.point} seed ${link.seedIndex}`;
    if (!row) throw new StoreError(`${where} does not exist`);
    throw new TransitionError(`${where} already has a run (${row.runId === null ? 'deleted' : `run ${row.runId}`}, ${row.state}): a point is never run twice`);
  }

  setState(link: RunSweepLink, state: SweepRunState): void {
    if (!(SWEEP_RUN_STATES as readonly string[]).includes(state)) throw new StoreError(`unknown sweep run state ${JSON.stringify(state)}`);
    this.#s.setState.run(state, link.sweepId, link.point, link.seedIndex);
  }

  /** Its run is started again (its process died while it trained). */
  addAttempt(link: RunSweepLink): void {
    this.#s.addAttempt.run(link.sweepId, link.point, link.seedIndex);
  }

  setRungs(link: RunSweepLink, rungs: Record<string, number>): void {
    this.#s.setRungs.run(toJson(rungs), link.sweepId, link.point, link.seedIndex);
  }

  /** Pending rows → cancelled; returns how many. */
  cancelPending(sweepId: number): number {
    return this.#s.cancelPending.run(sweepId).changes;
  }

  counts(sweepId: number): SweepStateCounts {
    const out = Object.fromEntries(SWEEP_RUN_STATES.map((s) => [s, 0])) as SweepStateCounts;
    for (const r of this.#s.counts.all(sweepId)) out[r.state] = r.n;
    return out;
  }

  pointCount(sweepId: number): number {
    return this.#s.points.get(sweepId)?.n ?? 0;
  }

  /** A new status; a final one (completed, cancelled, failed) records when, and running keeps its owner. */
  setStatus(id: number, status: SweepStatus, opts: { owner?: string | null; error?: string | null } = {}): StoredSweep {
    const cur = this.get(id);
    const final = status === 'completed' || status === 'cancelled' || status === 'failed';
    const owner = opts.owner !== undefined ? opts.owner : status === 'paused' ? null : cur.owner;
    this.#s.status.run(status, owner, final ? (cur.finishedAt ?? Date.now()) : null, opts.error !== undefined ? opts.error : cur.error, id);
    return this.get(id);
  }

  /**
   * This process drives it from now on (status running, owner set), if it is paused or
   * still running under `deadOwner` (the owner seen gone): two processes adopting the
   * same sweep at once cannot both win. False when another got there first.
   */
  claim(id: number, owner: string, deadOwner: string | null): boolean {
    return this.#s.claim.run(owner, id, deadOwner).changes === 1;
  }

  /** The sweep and its rows; its runs stay, unlinked. */
  delete(id: number): void {
    this.#db.transaction(() => {
      this.get(id);
      this.#s.unlinkRuns.run(id);
      this.#s.delete.run(id);
    })();
  }
}
