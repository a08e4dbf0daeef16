/**
 * Runs: one row per training (base) or fine-tuning (LoRA) run, with its full config,
 * lifecycle (see run-status.ts), what it produced, and the person's tags and notes.
 */
import type { Statement } from 'better-sqlite3';
import { toJson } from './codec.ts';
import type { Db } from './database.ts';
import { DependencyError, NotFoundError, StoreError, TransitionError, hasDependents } from './errors.ts';
import type { ModelsRepo } from './models.ts';
import type { RunFilter } from './run-filter.ts';
import { buildRunQuery } from './run-filter.ts';
import type { FinishOptions, NewRun, RunRow, StoredRun } from './run-row.ts';
import { cleanTags, toRun } from './run-row.ts';
import type { FinalStatus, RunStatus } from './run-status.ts';
import { checkTransition, interruptedMessage, isFinal, isRunStatus } from './run-status.ts';

export type { RunFilter, ParamValue } from './run-filter.ts';
export type { FinalStatus, RunStatus } from './run-status.ts';
export type { FinishOptions, NewRun, StoredRun } from './run-row.ts';

export class RunsRepo {
  readonly #db: Db;
  readonly #models: ModelsRepo;
  readonly #queries = new Map<string, Statement<unknown[], RunRow>>();
  readonly #s;

  constructor(db: Db, models: ModelsRepo) {
    this.#db = db;
    this.#models = models;
    const p = <A extends unknown[] | object, R = never>(sql: string) => db.prepare<A, R>(sql);
    this.#s = {
      insert: p<[string, string, string, string, number | null, number | null, number, number | null, number | null, number | null, number | null, number | null]>(
        `INSERT INTO runs (name, kind, status, config, base_model_id, dataset_id, created_at, started_at, finished_at, sweep_id, sweep_point, sweep_seed_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: p<[number], RunRow>('SELECT * FROM runs WHERE id = ?'),
      status: p<[number], { status: RunStatus }>('SELECT status FROM runs WHERE id = ?'),
      running: p<[string | null, string | null, number, number]>(
        `UPDATE runs SET status = 'running', backend = ?, device = ?, started_at = ? WHERE id = ?`,
      ),
      finish: p<{ id: number; status: string; now: number; error: string | null; exitReason: string | null; summary: string | null; model: number | null; adapter: number | null }>(
        `UPDATE runs SET status = :status, finished_at = :now, error = :error, exit_reason = :exitReason,
           summary = coalesce(:summary, summary), model_id = coalesce(:model, model_id),
           adapter_id = coalesce(:adapter, adapter_id)
         WHERE id = :id`,
      ),
      requeue: p<[number, number]>(
        `UPDATE runs SET status = 'queued', attempt = attempt + ?, started_at = NULL, finished_at = NULL, error = NULL, exit_reason = NULL,
           summary = NULL, progress = NULL, backend = NULL, device = NULL, owner = NULL WHERE id = ?`,
      ),
      clearMetrics: p<[number]>('DELETE FROM metrics WHERE run_id = ?'),
      placement: p<[string, string, number]>(`UPDATE runs SET backend = ?, device = ? WHERE id = ? AND status = 'running'`),
      nextAttempt: p<[number]>(`UPDATE runs SET attempt = attempt + 1, progress = NULL WHERE id = ? AND status = 'running'`),
      clearEvaluations: p<[number]>('DELETE FROM evaluations WHERE run_id = ?'),
      progress: p<[string, number]>('UPDATE runs SET progress = ? WHERE id = ?'),
      setError: p<[string | null, number]>('UPDATE runs SET error = ? WHERE id = ?'),
      rename: p<[string, number]>('UPDATE runs SET name = ? WHERE id = ?'),
      tags: p<[string, number]>('UPDATE runs SET tags = ? WHERE id = ?'),
      notes: p<[string, number]>('UPDATE runs SET notes = ? WHERE id = ?'),
      link: p<[number | null, number | null, number]>(
        'UPDATE runs SET model_id = coalesce(?, model_id), adapter_id = coalesce(?, adapter_id) WHERE id = ?',
      ),
      delete: p<[number]>('DELETE FROM runs WHERE id = ?'),
      deleteModel: p<[number]>('DELETE FROM models WHERE id = ?'),
      unfinished: p<[], { id: number; status: RunStatus }>(
        `SELECT id, status FROM runs WHERE status IN ('running', 'queued') ORDER BY id`,
      ),
      owner: p<[number], { owner: string | null }>('SELECT owner FROM runs WHERE id = ?'),
      setOwner: p<[string | null, number]>('UPDATE runs SET owner = ? WHERE id = ?'),
      interrupt: p<[number, string, number]>(`UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?`),
    };
  }

  create(run: NewRun): StoredRun {
    const status = run.status ?? 'queued';
    if (!isRunStatus(status)) throw new StoreError(`unknown run status ${JSON.stringify(status)}`);
    if (run.config.kind !== run.kind) throw new StoreError(`run kind ${run.kind} does not match its config (kind ${run.config.kind})`);
    const now = Date.now();
    const started = status === 'queued' ? null : now;
    const finished = isFinal(status) ? now : null;
    const data = Number.isInteger(run.config.data) ? run.config.data : null;
    const link = run.sweep ?? null;
    const info = this.#s.insert.run(run.name, run.kind, status, toJson(run.config), run.baseModelId ?? null, data, now, started, finished, link?.sweepId ?? null, link?.point ?? null, link?.seedIndex ?? null);
    return this.get(Number(info.lastInsertRowid));
  }

  /** The run, or undefined when there is none with that id. */
  find(id: number): StoredRun | undefined {
    const row = this.#s.get.get(id);
    return row && toRun(row);
  }

  /** The run; a missing one is a NotFoundError. */
  get(id: number): StoredRun {
    const found = this.find(id);
    if (!found) throw new NotFoundError('run', id);
    return found;
  }

  /** Newest first. */
  list(filter: RunFilter = {}): StoredRun[] {
    const { sql, args } = buildRunQuery(filter);
    let stmt = this.#queries.get(sql);
    if (!stmt) this.#queries.set(sql, (stmt = this.#db.prepare<unknown[], RunRow>(sql)));
    return stmt.all(...args).map(toRun);
  }

  /** queued → running, recording where it runs. */
  markRunning(id: number, backend: string, device: string): StoredRun {
    return this.#transition(id, 'running', () => this.#s.running.run(backend, device, Date.now(), id));
  }

  /** A final status with its error, summary and outputs, all in one write. */
  finish(id: number, status: FinalStatus, options: FinishOptions = {}): StoredRun {
    if (!isFinal(status)) throw new StoreError(`finish needs a final status, got ${JSON.stringify(status)}`);
    return this.#transition(id, status, () =>
      this.#s.finish.run({
        id,
        status,
        now: Date.now(),
        error: options.error ?? null,
        exitReason: options.exitReason ?? null,
        summary: options.summary ? toJson(options.summary) : null,
        model: options.modelId ?? null,
        adapter: options.adapterId ?? null,
      }),
    );
  }

  /**
   * interrupted → queued, as a fresh attempt: times, error, summary, progress and the
   * previous attempt's metrics and evaluations are cleared (the trainer starts over).
   * `newAttempt` (default true) counts it as attempt + 1; a run that was only queued
   * when its process died never started, so a sweep requeues it as the same attempt.
   */
  requeue(id: number, newAttempt = true): StoredRun {
    return this.#transition(id, 'queued', () => {
      this.#s.clearMetrics.run(id);
      this.#s.clearEvaluations.run(id);
      this.#s.requeue.run(newAttempt ? 1 : 0, id);
    });
  }

  /** Where a running run trains now (a remote run's new attempt is on another worker). */
  setPlacement(id: number, backend: string, device: string): void {
    this.#s.placement.run(backend, device, id);
  }

  /**
   * A running run that starts over elsewhere (a remote worker died and another took it
   * up): the next attempt, its predecessor's metrics, evaluations and progress dropped
   * in the same transaction, the run still running.
   */
  nextAttempt(id: number): StoredRun {
    return this.#db.transaction(() => {
      this.#s.clearMetrics.run(id);
      this.#s.clearEvaluations.run(id);
      this.#mustChange(id, this.#s.nextAttempt.run(id).changes);
      return this.get(id);
    })();
  }

  /** Sets a final run's error text after the fact (a sweep's pruned run says why it stopped). */
  setError(id: number, error: string | null): void {
    this.#mustChange(id, this.#s.setError.run(error, id).changes);
  }

  /**
   * Start-up recovery: every `running` or `queued` run (or only those of `ids`, e.g.
   * the ones whose owner process is gone) → `interrupted`. Returns the ids changed.
   */
  markInterrupted(ids?: readonly number[]): number[] {
    return this.#db.transaction(() => {
      const now = Date.now();
      const only = ids && new Set(ids);
      const runs = this.#s.unfinished.all().filter((r) => !only || only.has(r.id));
      for (const r of runs) this.#s.interrupt.run(now, interruptedMessage(r.status), r.id);
      return runs.map((r) => r.id);
    })();
  }

  /** Marks the run as this process's (`host/pid`), so other processes leave it alone. */
  setOwner(id: number, owner: string | null): void {
    this.#mustChange(id, this.#s.setOwner.run(owner, id).changes);
  }

  owner(id: number): string | null {
    const row = this.#s.owner.get(id);
    if (!row) throw new NotFoundError('run', id);
    return row.owner;
  }

  setProgress(id: number, progress: unknown): void {
    this.#mustChange(id, this.#s.progress.run(toJson(progress), id).changes);
  }

  /** Records what the run produced before it finishes (the weights arrive before `done`). */
  link(id: number, outputs: { modelId?: number; adapterId?: number }): void {
    this.#mustChange(id, this.#s.link.run(outputs.modelId ?? null, outputs.adapterId ?? null, id).changes);
  }

  rename(id: number, name: string): void {
    if (name.trim() === '') throw new StoreError('a run name cannot be empty');
    this.#mustChange(id, this.#s.rename.run(name.trim(), id).changes);
  }

  setTags(id: number, tags: readonly string[]): string[] {
    const clean = cleanTags(tags);
    this.#mustChange(id, this.#s.tags.run(toJson(clean), id).changes);
    return clean;
  }

  setNotes(id: number, notes: string): void {
    this.#mustChange(id, this.#s.notes.run(notes, id).changes);
  }

  /**
   * Deletes the run with its metrics, evaluations and adapter (cascades), and the model
   * it produced — unless other runs, adapters or models use that model, in which case
   * nothing is deleted and a DependencyError lists them. A running run must be
   * cancelled first: its trainer is still writing.
   */
  delete(id: number): void {
    this.#db.transaction(() => {
      const run = this.get(id);
      if (run.status === 'running') throw new TransitionError(`run ${id} is running; cancel it before deleting it`);
      const modelId = run.modelId;
      if (modelId !== null) {
        const deps = this.#models.dependents(modelId);
        if (hasDependents(deps)) {
          throw new DependencyError({ id: modelId, name: this.#models.get(modelId).name }, deps);
        }
      }
      this.#s.delete.run(id);
      if (modelId !== null) this.#s.deleteModel.run(modelId);
    })();
  }

  #transition(id: number, to: RunStatus, write: () => unknown): StoredRun {
    return this.#db.transaction(() => {
      const row = this.#s.status.get(id);
      if (!row) throw new NotFoundError('run', id);
      checkTransition(id, row.status, to);
      write();
      return this.get(id);
    })();
  }

  #mustChange(id: number, changes: number): void {
    if (changes === 0) throw new NotFoundError('run', id);
  }
}
