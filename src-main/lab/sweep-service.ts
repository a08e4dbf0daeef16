/**
 * Sweeps: the Lab's face of them (create, list, detail, cancel, resume, delete, wait)
 * over the persistent queue (store/sweeps.ts) and the driver that trains its runs
 * through the run manager (sweep-driver.ts: concurrency, ASHA, adopting a sweep whose
 * process died).
 */
import * as v from 'valibot';
import type { DatasetRef, LabEvent, NewRunInput, RunView } from '../contract/api.ts';
import { LabError } from '../contract/api.ts';
import type { DataShape } from '../contract/config.ts';
import type { MetricPoint } from '../contract/protocol.ts';
import type { RunSweepLink } from '../contract/records.ts';
import { expandSweep } from '../contract/sweep-points.ts';
import { type SweepDetail, type SweepSpec, type SweepView, sweepSpecSchema } from '../contract/sweep.ts';
import type { StoredRun } from '../store/runs.ts';
import type { StoredSweep } from '../store/sweeps.ts';
import type { Store } from '../store/store.ts';
import { checkName } from './checks.ts';
import { OWNER, type RunManager } from './run-manager.ts';
import { SweepDriver } from './sweep-driver.ts';
import { sweepDetail, sweepPaths, sweepView } from './sweep-detail.ts';
import { resolveStart } from './sweep-start.ts';

/** What the sweep service needs of the Lab around it. */
export interface SweepHost {
  emit(e: LabEvent): void;
  /** Lab's own run creation (checks, store, queue), with the sweep link written in the same transaction. */
  createRun(input: NewRunInput, link: RunSweepLink): RunView;
  runView(run: StoredRun): RunView;
  datasetRef(id: number): DatasetRef | null;
  datasetShape(id: number): DataShape | null;
}

/** A spec that cannot run: every problem, one line each (the message joins them with "; "). */
export class SweepSpecError extends LabError {
  override name = 'SweepSpecError';
  constructor(readonly issues: string[]) {
    super(`invalid sweep: ${issues.join('; ')}`, 400);
  }
}

export class SweepService {
  readonly #store: Store;
  readonly #host: SweepHost;
  readonly #driver: SweepDriver;

  constructor(store: Store, manager: RunManager, host: SweepHost) {
    this.#store = store;
    this.#host = host;
    this.#driver = new SweepDriver(store, manager, host, (id) => this.#emit(id));
  }

  create(spec: SweepSpec): SweepView {
    const parsed = v.safeParse(sweepSpecSchema, spec);
    if (!parsed.success) {
      throw new SweepSpecError(parsed.issues.map((i) => `${v.getDotPath(i) ?? 'spec'}: ${i.message}`));
    }
    const start = resolveStart(this.#store, parsed.output);
    const plan = expandSweep(parsed.output, start.config, (id) => this.#host.datasetShape(id));
    const issues = [...start.issues, ...plan.issues];
    if (issues.length) throw new SweepSpecError(issues);
    const paths = sweepPaths(parsed.output);
    const name = checkName(parsed.output.name?.trim() || `sweep of ${paths.length ? paths.join(' × ') : 'seeds'}`);
    const sweep = this.#store.sweeps.create({
      name,
      spec: parsed.output,
      config: plan.config,
      baseModelId: start.baseModelId,
      owner: OWNER,
      runs: plan.runs.map((r) => ({ point: r.point, seedIndex: r.seedIndex, params: r.params, seed: r.seed })),
    });
    this.#driver.take(sweep.id);
    this.#emit(sweep.id);
    this.#driver.drive(sweep.id);
    return this.#view(this.#store.sweeps.get(sweep.id));
  }

  list(): SweepView[] {
    return this.#store.sweeps.list().map((s) => this.#view(s));
  }

  detail(id: number, objective?: string): SweepDetail {
    return sweepDetail(this.#store, this.#require(id), this.#driver.drives(id), this.#host, objective);
  }

  /**
   * Pending points are cancelled, queued runs cancelled, running ones stopped cleanly.
   * A sweep another live process drives is marked cancelled in the database; that
   * process's driver sees it within a second and stops its runs.
   */
  cancel(id: number): SweepView {
    const sweep = this.#require(id);
    if (sweep.status !== 'running' && sweep.status !== 'paused') throw new LabError(`sweep ${id} is ${sweep.status}; only a running or paused sweep can be cancelled`, 409);
    this.#store.transaction(() => {
      this.#store.sweeps.setStatus(id, 'cancelled');
      this.#store.sweeps.cancelPending(id);
    });
    if (this.#driver.drives(id)) this.#driver.drive(id);
    else if (sweep.status === 'paused' || !this.#driver.liveElsewhere(sweep)) this.#driver.settleOrphans(id);
    this.#emit(id);
    return this.#view(this.#store.sweeps.get(id));
  }

  /** Goes on with a paused sweep (or one whose process died) in this process. */
  resume(id: number): SweepView {
    const sweep = this.#require(id);
    if (this.#driver.drives(id)) return this.#view(sweep);
    if (sweep.status === 'running' && this.#driver.liveElsewhere(sweep)) {
      throw new LabError(`sweep ${id} is being driven by another LoRA Lab process (${sweep.owner ?? 'unknown'}); resume or cancel it there`, 409);
    }
    if (sweep.status !== 'paused' && sweep.status !== 'running') throw new LabError(`sweep ${id} is ${sweep.status}; only a paused sweep can be resumed`, 409);
    if (!this.#driver.adopt(sweep)) throw new LabError(`sweep ${id} was resumed by another LoRA Lab process just now`, 409);
    return this.#view(this.#store.sweeps.get(id));
  }

  delete(id: number): void {
    const sweep = this.#require(id);
    if (sweep.status === 'running' && (this.#driver.drives(id) || this.#driver.liveElsewhere(sweep))) {
      throw new LabError(`sweep ${id} is running; cancel it before deleting it`, 409);
    }
    if (this.#driver.drives(id)) throw new LabError(`sweep ${id} still has runs stopping; delete it once they have`, 409);
    this.#store.sweeps.delete(id);
    this.#host.emit({ type: 'sweep-deleted', id });
  }

  /** Resolves once this process no longer drives the sweep (completed, cancelled, failed or paused). */
  wait(id: number): Promise<SweepView> {
    try {
      this.#require(id);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.#driver.wait(id).then(() => this.#view(this.#store.sweeps.get(id)));
  }

  /** A run of a sweep changed (Lab's runChanged): its row follows, and what comes next is scheduled. */
  runChanged(run: StoredRun): void {
    this.#driver.runChanged(run);
  }

  /** Metric points of a running run (ASHA). */
  metrics(runId: number, points: MetricPoint[]): void {
    this.#driver.metrics(runId, points);
  }

  /** At open: sweeps whose process is gone become paused; with `resume`, this process goes on with them. */
  recover(resume: boolean): void {
    this.#driver.recover(resume);
  }

  /** Closing: the sweeps this process drives are paused with their queue as it is. */
  close(): void {
    this.#driver.close();
  }

  #require(id: number): StoredSweep {
    if (!Number.isInteger(id)) throw new LabError(`sweep id must be an integer, got ${JSON.stringify(id)}`);
    const sweep = this.#store.sweeps.find(id);
    if (!sweep) throw new LabError(`sweep ${id} does not exist`, 404);
    return sweep;
  }

  #view(sweep: StoredSweep): SweepView {
    return sweepView(this.#store, sweep, this.#driver.drives(sweep.id));
  }

  #emit(id: number): void {
    const sweep = this.#store.sweeps.find(id);
    if (sweep) this.#host.emit({ type: 'sweep', sweep: this.#view(sweep) });
  }
}
