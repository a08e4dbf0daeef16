/**
 * Sweeps: expanding a spec into points, the persistent queue, driving runs through the
 * run manager, ASHA pruning, resume and cancel. (Skeleton: the sweep work fills it in.)
 */
import type { DatasetRef, LabEvent, NewRunInput, RunView } from '../contract/api.ts';
import type { DataShape } from '../contract/config.ts';
import type { MetricPoint } from '../contract/protocol.ts';
import type { RunSweepLink } from '../contract/records.ts';
import type { SweepDetail, SweepSpec, SweepView } from '../contract/sweep.ts';
import type { StoredRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import type { RunManager } from './run-manager.ts';

/** What the sweep service needs of the Lab around it. */
export interface SweepHost {
  emit(e: LabEvent): void;
  /** Lab's own run creation (checks, store, queue), with the sweep link written in the same transaction. */
  createRun(input: NewRunInput, link: RunSweepLink): RunView;
  runView(run: StoredRun): RunView;
  datasetRef(id: number): DatasetRef | null;
  datasetShape(id: number): DataShape | null;
}

export class SweepService {
  readonly #store: Store;
  readonly #manager: RunManager;
  readonly #host: SweepHost;

  constructor(store: Store, manager: RunManager, host: SweepHost) {
    this.#store = store;
    this.#manager = manager;
    this.#host = host;
  }

  #todo(): never {
    void this.#store;
    void this.#manager;
    void this.#host;
    throw new Error('not implemented yet');
  }

  create(spec: SweepSpec): SweepView {
    void spec;
    return this.#todo();
  }

  list(): SweepView[] {
    return [];
  }

  detail(id: number, objective?: string): SweepDetail {
    void id;
    void objective;
    return this.#todo();
  }

  cancel(id: number): SweepView {
    void id;
    return this.#todo();
  }

  resume(id: number): SweepView {
    void id;
    return this.#todo();
  }

  delete(id: number): void {
    void id;
    this.#todo();
  }

  wait(id: number): Promise<SweepView> {
    void id;
    return Promise.reject(new Error('not implemented yet'));
  }

  /** A run of a sweep changed (Lab's runChanged): schedule what comes next. */
  runChanged(run: StoredRun): void {
    void run;
  }

  /** Metric points of a running run (for pruning). */
  metrics(runId: number, points: MetricPoint[]): void {
    void runId;
    void points;
  }

  /** At open: sweeps whose process is gone become paused; with `resume`, this process goes on with them. */
  recover(resume: boolean): void {
    void resume;
  }

  close(): void {}
}
