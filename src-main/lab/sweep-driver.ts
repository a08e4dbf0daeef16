/**
 * The sweep driver: trains the runs of the sweeps this process drives. It keeps at most
 * `concurrency` runs of a sweep in the run manager, creates the next pending point's run
 * when one ends, prunes with ASHA, notices a cancel another process wrote, and adopts a
 * sweep whose process died (its interrupted runs are trained again, attempt counted).
 * The queue is the sweep_runs table, so nothing here is needed to go on after a crash.
 */
import { LabError } from '../contract/api.ts';
import { isFineTune } from '../contract/config.ts';
import type { MetricPoint } from '../contract/protocol.ts';
import type { RunSweepLink } from '../contract/records.ts';
import type { RunStatus } from '../contract/run-status.ts';
import { applyParams, pointLabel } from '../contract/sweep-points.ts';
import type { SweepRunState } from '../contract/sweep.ts';
import type { StoredRun } from '../store/runs.ts';
import type { StoredSweep, StoredSweepRun } from '../store/sweeps.ts';
import type { Store } from '../store/store.ts';
import { Asha, ashaOptions } from './asha.ts';
import { OWNER, type RunManager, ownerAlive } from './run-manager.ts';
import { MAX_NAME } from './run-name.ts';
import type { SweepHost } from './sweep-service.ts';

/** Sweeps driven by this process, per database file: an OWNER of ours that none drives was left by an earlier process with our PID. */
const drivenInProcess = new Map<string, Set<number>>();

/** How often the driver looks at its sweeps' status (a cancel from another process) and for sweeps whose process died (ms). */
const POLL_MS = 1000;

const RUN_TO_STATE: Record<RunStatus, SweepRunState> = {
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  // Only a run this process stopped itself can end so while it drives the sweep.
  interrupted: 'cancelled',
};

const isFinal = (s: RunStatus) => s !== 'queued' && s !== 'running';
const keyOf = (l: { point: number; seedIndex: number }) => `${l.point}/${l.seedIndex}`;
const linkOf = (sr: StoredSweepRun): RunSweepLink => ({ sweepId: sr.sweepId, point: sr.point, seedIndex: sr.seedIndex });

export class SweepDriver {
  readonly #store: Store;
  readonly #manager: RunManager & { ensureConcurrency?: (n: number) => void };
  readonly #host: SweepHost;
  readonly #emit: (sweepId: number) => void;
  readonly #driven = new Set<number>();
  /** Runs of driven sweeps that the manager holds (queued or running), by run id. */
  readonly #links = new Map<number, RunSweepLink>();
  readonly #asha = new Map<number, Asha>();
  /** Why ASHA stopped a run, written on the run once it has stopped. */
  readonly #pruned = new Map<number, string>();
  readonly #cancelAsked = new Set<number>();
  readonly #waiters = new Map<number, (() => void)[]>();
  readonly #busy = new Set<number>();
  readonly #again = new Set<number>();
  #resume = false;
  #closing = false;
  #ticks = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(store: Store, manager: RunManager, host: SweepHost, emit: (sweepId: number) => void) {
    this.#store = store;
    this.#manager = manager;
    this.#host = host;
    this.#emit = emit;
    this.#timer = setInterval(() => this.#poll(), POLL_MS);
    this.#timer.unref();
  }

  drives(id: number): boolean {
    return this.#driven.has(id);
  }

  /** True when a live process other than this driver drives it. */
  liveElsewhere(sweep: StoredSweep): boolean {
    if (this.#driven.has(sweep.id) || sweep.owner === null) return false;
    if (sweep.owner === OWNER) return drivenInProcess.get(this.#store.file)?.has(sweep.id) ?? false;
    return ownerAlive(sweep.owner);
  }

  /** This process drives it from now on (its ASHA history loaded). */
  take(id: number): void {
    this.#driven.add(id);
    let set = drivenInProcess.get(this.#store.file);
    if (!set) drivenInProcess.set(this.#store.file, (set = new Set()));
    set.add(id);
    const sweep = this.#store.sweeps.get(id);
    if (sweep.spec.prune) {
      const asha = new Asha(ashaOptions(sweep.spec.prune, sweep.config));
      for (const sr of this.#store.sweeps.runs(id)) asha.load(keyOf(sr), sr.rungs);
      this.#asha.set(id, asha);
    }
  }

  wait(id: number): Promise<void> {
    if (!this.#driven.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.set(id, [...(this.#waiters.get(id) ?? []), resolve]));
  }

  /** Schedules what comes next for the sweep (re-entrant calls fold into one more pass). */
  drive(id: number): void {
    if (this.#closing || !this.#driven.has(id)) return;
    if (this.#busy.has(id)) {
      this.#again.add(id);
      return;
    }
    this.#busy.add(id);
    try {
      do {
        this.#again.delete(id);
        this.#step(id);
      } while (this.#again.has(id) && this.#driven.has(id));
    } finally {
      this.#busy.delete(id);
    }
  }

  #active(id: number): number[] {
    return [...this.#links].filter(([, l]) => l.sweepId === id).map(([runId]) => runId);
  }

  #step(id: number): void {
    const sweep = this.#store.sweeps.find(id);
    if (!sweep) return this.#release(id);
    if (sweep.status !== 'running') {
      // Cancelled (here or by another process), failed or paused: stop what is left.
      if (sweep.status === 'cancelled') {
        if (this.#store.sweeps.cancelPending(id) > 0) this.#emit(id);
        for (const runId of this.#active(id)) {
          if (this.#cancelAsked.has(runId)) continue;
          this.#cancelAsked.add(runId);
          this.#manager.cancel(runId);
        }
      }
      if (this.#active(id).length === 0) this.#release(id);
      return;
    }
    const concurrency = sweep.spec.concurrency ?? 1;
    if (typeof this.#manager.ensureConcurrency === 'function') this.#manager.ensureConcurrency(concurrency);
    let active = this.#active(id).length;
    while (active < concurrency) {
      const next = this.#store.sweeps.nextPending(id);
      if (!next) break;
      try {
        this.#startRun(sweep, next);
      } catch (err) {
        const why = `the run of point ${next.point} (seed ${next.seed}) could not be created: ${(err as Error).message}`;
        this.#store.sweeps.setStatus(id, 'failed', { error: why });
        this.#emit(id);
        if (this.#active(id).length === 0) this.#release(id);
        return;
      }
      active++;
    }
    if (active === 0 && !this.#store.sweeps.nextPending(id)) {
      this.#store.sweeps.setStatus(id, 'completed');
      this.#emit(id);
      this.#release(id);
    }
  }

  #startRun(sweep: StoredSweep, sr: StoredSweepRun): void {
    const config = applyParams(sweep.config, sr.params);
    config.seed = sr.seed;
    if (isFineTune(config.kind) && sweep.baseModelId === null) {
      const was = sweep.spec.start.kind === 'finetune' ? ` ${sweep.spec.start.baseModelId}` : '';
      throw new LabError(`its base model${was} was deleted`, 409);
    }
    const label = pointLabel(sr.params);
    const name = `${sweep.name} · ${label ? `${label} · ` : ''}seed ${sr.seed}`.slice(0, MAX_NAME);
    const tags = [...(sweep.spec.tags ?? []).slice(0, 49), `sweep:${sweep.id}`];
    const view = this.#host.createRun({ name, config, baseModelId: sweep.baseModelId, tags }, linkOf(sr));
    if (isFinal(view.status)) return;
    this.#links.set(view.id, linkOf(sr));
  }

  runChanged(run: StoredRun): void {
    const link = run.sweep;
    if (!link || this.#closing || !this.#driven.has(link.sweepId)) return;
    try {
      const sr = this.#store.sweeps.run(link);
      if (!sr || sr.runId !== run.id) return;
      let state = RUN_TO_STATE[run.status];
      // A run ASHA stopped stays pruned while it stops and once it has; one that finished first counts as completed.
      if (sr.state === 'pruned' && run.status !== 'completed' && run.status !== 'failed') state = 'pruned';
      if (state === 'pruned' && isFinal(run.status)) {
        const why = this.#pruned.get(run.id);
        if (why && run.error !== why) {
          this.#store.runs.setError(run.id, why);
          this.#host.emit({ type: 'run', run: this.#host.runView(this.#store.runs.get(run.id)) });
        }
      }
      if (state !== sr.state) this.#store.sweeps.setState(link, state);
      if (isFinal(run.status)) {
        this.#links.delete(run.id);
        this.#pruned.delete(run.id);
        this.#cancelAsked.delete(run.id);
      }
      this.#emit(link.sweepId);
      if (isFinal(run.status)) this.drive(link.sweepId);
    } catch (err) {
      this.#note(link.sweepId, err);
    }
  }

  /** Metric points of a run: ASHA records its rungs and may stop it. Never throws into the run manager. */
  metrics(runId: number, points: MetricPoint[]): void {
    const link = this.#links.get(runId);
    const asha = link && this.#asha.get(link.sweepId);
    if (!link || !asha || this.#pruned.has(runId)) return;
    try {
      const seen = asha.observe(keyOf(link), points);
      if (Object.keys(seen.recorded).length === 0) return;
      const sr = this.#store.sweeps.run(link);
      if (!sr) return;
      this.#store.sweeps.setRungs(link, { ...sr.rungs, ...seen.recorded });
      if (!seen.stop || (sr.state !== 'queued' && sr.state !== 'running')) return;
      this.#store.sweeps.setState(link, 'pruned');
      this.#pruned.set(runId, seen.stop.message);
      this.#cancelAsked.add(runId);
      this.#manager.cancel(runId);
      this.#emit(link.sweepId);
    } catch (err) {
      this.#note(link.sweepId, err);
    }
  }

  /** Settles the rows of a sweep nobody drives (cancelled while paused): their runs are left as they ended. */
  settleOrphans(id: number): void {
    for (const sr of this.#store.sweeps.runs(id)) {
      if (sr.state !== 'queued' && sr.state !== 'running') continue;
      const run = sr.runId === null ? undefined : this.#store.runs.find(sr.runId);
      if (run && !isFinal(run.status)) this.#manager.reapIfOrphaned(run.id);
      const now = run && this.#store.runs.find(run.id);
      this.#store.sweeps.setState(linkOf(sr), now && now.status === 'completed' ? 'completed' : now?.status === 'failed' ? 'failed' : 'cancelled');
    }
  }

  /**
   * Goes on with a paused sweep, or one whose owner died: its runs left interrupted are
   * queued again (metrics and evaluations of the dead attempt deleted; attempt + 1 when
   * the run had started, the same attempt when it was only queued); pending points go on.
   */
  adopt(sweep: StoredSweep): boolean {
    const deadOwner = sweep.status === 'running' ? sweep.owner : null;
    if (!this.#store.sweeps.claim(sweep.id, OWNER, deadOwner)) return false;
    this.take(sweep.id);
    const asha = this.#asha.get(sweep.id);
    for (const sr of this.#store.sweeps.runs(sweep.id)) {
      if (sr.state !== 'queued' && sr.state !== 'running') continue;
      const link = linkOf(sr);
      let run = sr.runId === null ? undefined : this.#store.runs.find(sr.runId);
      if (!run) {
        this.#store.sweeps.setState(link, 'cancelled'); // its run was deleted
        continue;
      }
      const held = this.#manager.running.includes(run.id) || this.#manager.queued.includes(run.id);
      if (!isFinal(run.status) && !held && this.#manager.reapIfOrphaned(run.id)) run = this.#store.runs.get(run.id);
      if (run.status === 'interrupted') {
        const started = run.startedAt !== null;
        const id = run.id;
        this.#store.transaction(() => {
          this.#store.runs.requeue(id, started);
          this.#store.runs.setOwner(id, OWNER);
          if (started) this.#store.sweeps.addAttempt(link);
          this.#store.sweeps.setState(link, 'queued');
          this.#store.sweeps.setRungs(link, {});
        });
        asha?.forget(keyOf(link));
        this.#links.set(id, link);
        this.#manager.enqueue(id);
        this.#host.emit({ type: 'run', run: this.#host.runView(this.#store.runs.get(id)) });
      } else if (held) {
        this.#links.set(run.id, link);
      } else if (isFinal(run.status)) {
        this.#store.sweeps.setState(link, RUN_TO_STATE[run.status]);
      }
    }
    this.#emit(sweep.id);
    this.drive(sweep.id);
    return true;
  }

  /** Sweeps whose driving process is gone become paused; with `resume`, this process adopts every paused one. */
  recover(resume: boolean): void {
    this.#resume = resume;
    for (const sweep of this.#store.sweeps.withStatus('running')) {
      if (this.#driven.has(sweep.id) || this.liveElsewhere(sweep)) continue;
      this.#store.sweeps.setStatus(sweep.id, 'paused', { owner: null });
      this.#emit(sweep.id);
    }
    if (resume) for (const sweep of this.#store.sweeps.withStatus('paused')) this.adopt(sweep);
  }

  /** Pauses the sweeps this process drives; their runs not yet started are marked interrupted, to be queued again on resume. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#timer);
    for (const id of [...this.#driven]) {
      try {
        if (this.#store.sweeps.find(id)?.status === 'running') this.#store.sweeps.setStatus(id, 'paused', { owner: null });
        const waiting = this.#active(id).filter((runId) => this.#manager.queued.includes(runId));
        if (waiting.length) this.#store.runs.markInterrupted(waiting);
        this.#emit(id);
      } catch {
        /* a damaged or unwritable database: closing goes on; the next open pauses it */
      }
      this.#release(id);
    }
  }

  #poll(): void {
    if (this.#closing) return;
    try {
      for (const id of [...this.#driven]) {
        const status = this.#store.sweeps.find(id)?.status;
        if (status !== 'running') this.drive(id);
      }
      // Every few seconds: a sweep whose process died while this one is open (a killed CLI beside the app).
      if (++this.#ticks % 3 === 0) this.recover(this.#resume);
    } catch {
      /* the database is busy right now: the next tick looks again */
    }
  }

  /** A failure of the driver itself is written on the sweep rather than breaking the run it came from. */
  #note(sweepId: number, err: unknown): void {
    try {
      this.#store.sweeps.setStatus(sweepId, this.#store.sweeps.get(sweepId).status, { error: `sweep driver: ${(err as Error).message}` });
    } catch {
      /* nothing more to do */
    }
  }

  #release(id: number): void {
    this.#driven.delete(id);
    drivenInProcess.get(this.#store.file)?.delete(id);
    this.#asha.delete(id);
    for (const w of this.#waiters.get(id) ?? []) w();
    this.#waiters.delete(id);
  }
}
