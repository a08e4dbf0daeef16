/**
 * The run manager: a queue of runs, one trainer process per running run, and the only
 * path by which trainer output reaches the database. Metrics are buffered and written
 * in batched transactions; a run's results (weights, evaluations, final status) are
 * written in one transaction, so a crash never leaves half a result.
 *
 * A trainer that finished its run cleanly waits warm (warm-pool.ts) and takes the next
 * queued run; it holds that run's base model already (sent once per trainer), and a LoRA
 * run whose base was evaluated on the same test set by an earlier run copies that
 * `before` evaluation instead of computing it again.
 */
import { hostname } from 'node:os';
import { pidAlive } from '../util/pid.ts';
import { machineMemory } from '../util/machine.ts';
import { RUN_MEMORY_FRACTION, trainerMemory } from '../contract/memory.ts';
import type { Store } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import { TrainerHost, type HostOptions, type RunOutcome } from '../trainer/host.ts';
import type { MetricPoint, TrainerMessage } from '../contract/protocol.ts';
import type { RunProgress } from '../contract/api.ts';
import type { TrainerExitReason } from '../contract/exit-reasons.ts';
import { dataSource } from './datasets-service.ts';
import { WarmPool } from './warm-pool.ts';
import { baseKeyOf, trainJobFor } from './run-job.ts';
import type { RemoteDispatcher, RemoteTrainer } from '../remote/dispatcher.ts';

export interface RunManagerOptions {
  /** Runs trained at the same time (default 1). */
  concurrency?: number;
  /** How trainers are started and watched (Electron passes its utility-process spawner). */
  host?: HostOptions;
  /** Metric points are written at least this often (ms, default 500). */
  metricFlushMs?: number;
  /** Live progress is written to the run row at most this often (ms, default 1000). */
  progressWriteMs?: number;
  /** How often `watchOwners` looks for runs whose owning process has died (ms, default 3000). */
  ownerCheckMs?: number;
  /**
   * Bytes the trainers running at once may plan to use together (their `trainerMemory`
   * estimates), default half the machine's memory, the same share one run may take: a
   * queued run waits while starting it would pass that. A run always starts when none
   * is running (createRun refused it already if it cannot fit alone).
   */
  memoryBudget?: number;
  /** How long a trainer waits warm for the next run before it exits (ms, default 60 s; 0: a fresh process per run). */
  warmIdleMs?: number;
  /**
   * Remote workers (issue 17): runs go to this queue instead of local trainers, up to
   * REMOTE_IN_FLIGHT at once (the workers' own concurrency decides how many train).
   */
  remote?: RemoteDispatcher | null;
}

/** Runs handed to the remote queue at once: the queue holds the rest as this process does. */
const REMOTE_IN_FLIGHT = 256;

/** What trains a run: a local trainer process, or a run followed on a remote worker. */
type Trainer = TrainerHost | RemoteTrainer;

export interface ManagerEvents {
  runChanged(id: number): void;
  progress(id: number, p: RunProgress): void;
  metrics(id: number, points: MetricPoint[]): void;
  modelCreated(id: number): void;
}

interface Active {
  host: Trainer | null;
  buffer: MetricPoint[];
  timer: NodeJS.Timeout | null;
  lastProgressWrite: number;
  /** The trainer's latest progress (written to the row at most every progressWriteMs). */
  lastProgress: RunProgress | null;
  cancelRequested: boolean;
  /** A write that failed (disk full, database locked …): the run stops and says so. */
  storeError: Error | null;
  /** Its trainer's estimated memory (bytes), counted against the budget while it runs. */
  memory: number;
  /** A warm trainer from the pool, given this run when it was started. */
  warm: TrainerHost | null;
}

/** This process's mark on the runs it owns, so another process can tell if it is gone. */
export const OWNER = `${hostname()}/${process.pid}`;

export function ownerAlive(owner: string | null): boolean {
  if (!owner) return false;
  const slash = owner.lastIndexOf('/');
  const host = owner.slice(0, slash);
  const pid = Number(owner.slice(slash + 1));
  if (host !== hostname()) return true; // cannot check another machine: assume alive
  return pidAlive(pid);
}

/**
 * Every open manager of this process. A run marked with this process's own OWNER that
 * none of them holds was left by an earlier process that had the same PID (a container
 * restarts its server as PID 1 every time): that owner is dead too.
 */
const openManagers = new Set<RunManager>();

export class RunManager {
  readonly #store: Store;
  readonly #events: ManagerEvents;
  readonly #opts: Required<Omit<RunManagerOptions, 'host' | 'remote'>> & { host: HostOptions };
  #remote: RemoteDispatcher | null;
  /** Runs handed to the remote queue and not yet final. */
  readonly #onQueue = new Set<number>();
  readonly #queue: number[] = [];
  readonly #active = new Map<number, Active>();
  /** Told the stored run once it is final, or the error that kept it from being read (a damaged database). */
  readonly #waiters = new Map<number, ((run: StoredRun | Error) => void)[]>();
  #closed = false;
  #ownerTimer: NodeJS.Timeout | null = null;
  readonly #pool: WarmPool;

  constructor(store: Store, events: ManagerEvents, opts: RunManagerOptions = {}) {
    this.#store = store;
    this.#events = events;
    this.#opts = {
      concurrency: opts.concurrency ?? 1,
      host: opts.host ?? {},
      metricFlushMs: opts.metricFlushMs ?? 500,
      progressWriteMs: opts.progressWriteMs ?? 1000,
      ownerCheckMs: opts.ownerCheckMs ?? 3000,
      memoryBudget: opts.memoryBudget ?? machineMemory() * RUN_MEMORY_FRACTION,
      warmIdleMs: opts.warmIdleMs ?? 60_000,
    };
    this.#remote = opts.remote ?? null;
    this.#pool = new WarmPool(this.#opts.warmIdleMs);
    if (!Number.isInteger(this.#opts.concurrency) || this.#opts.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    openManagers.add(this);
  }

  /**
   * Recovery: runs left `running` or `queued` by a process that no longer exists become
   * `interrupted` (never left dangling). Runs of live processes (the app and a CLI can
   * share one database) are left alone. Called at start, then by `watchOwners`.
   */
  recover(): number[] {
    const orphans = this.#store.runs
      .list({ status: ['running', 'queued'] })
      .filter((r) => this.#ownerGone(r.id))
      .map((r) => r.id);
    return this.#interrupt(orphans);
  }

  /**
   * Keep recovering while this process lives: a CLI that owned a run can be killed
   * while a long-lived `serve` or the app shows it, and must not leave it `running`
   * there forever. One small query every few seconds; the timer never keeps the
   * process alive.
   */
  watchOwners(): void {
    if (this.#ownerTimer || this.#closed || this.#opts.ownerCheckMs <= 0) return;
    this.#ownerTimer = setInterval(() => {
      try {
        this.recover();
      } catch {
        /* the database is busy or unreadable right now: the next tick tries again */
      }
    }, this.#opts.ownerCheckMs);
    this.#ownerTimer.unref();
  }

  /**
   * For a cancel or delete of a run this process does not train: if its owner is gone,
   * mark it interrupted now (and say so to listeners) and return true.
   */
  reapIfOrphaned(runId: number): boolean {
    const run = this.#store.runs.find(runId);
    if (!run || (run.status !== 'running' && run.status !== 'queued') || this.#holds(runId)) return false;
    if (!this.#ownerGone(runId)) return false;
    return this.#interrupt([runId]).includes(runId);
  }

  #holds(runId: number): boolean {
    return this.#active.has(runId) || this.#queue.includes(runId);
  }

  #ownerGone(runId: number): boolean {
    const owner = this.#store.runs.owner(runId);
    if (owner === OWNER) return ![...openManagers].some((m) => m.#store.file === this.#store.file && m.#holds(runId));
    return !ownerAlive(owner);
  }

  #interrupt(ids: number[]): number[] {
    const changed = ids.length ? this.#store.runs.markInterrupted(ids) : [];
    for (const id of changed) this.#events.runChanged(id);
    return changed;
  }

  /** The trainer process of a running run (for diagnostics and fault tests). */
  pidOf(runId: number): number | undefined {
    return this.#active.get(runId)?.host?.pid;
  }

  get running(): number[] {
    return [...this.#active.keys()];
  }

  get queued(): number[] {
    return [...this.#queue];
  }

  /** Process ids of the trainers waiting warm for a run. */
  get idleTrainers(): number[] {
    return this.#pool.pids;
  }

  get concurrency(): number {
    return this.#opts.concurrency;
  }

  /** Train at least `n` runs at once from now on (a sweep asks for its own concurrency); never lowers it. */
  ensureConcurrency(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('concurrency must be a positive integer');
    this.#opts.concurrency = Math.max(this.#opts.concurrency, n);
    this.#pump();
  }

  /** Queue a stored `queued` run; it starts when a slot is free. */
  enqueue(runId: number): void {
    if (this.#closed) throw new Error('the run manager is shut down');
    this.#store.runs.setOwner(runId, OWNER);
    this.#queue.push(runId);
    this.#pump();
  }

  /** Resolves with the stored run once it has reached a final status. */
  wait(runId: number): Promise<StoredRun> {
    let run: StoredRun;
    try {
      run = this.#store.runs.get(runId);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (!['queued', 'running'].includes(run.status) && !this.#active.has(runId)) return Promise.resolve(run);
    return new Promise((resolve, reject) => this.#waiters.set(runId, [...(this.#waiters.get(runId) ?? []), (r) => (r instanceof Error ? reject(r) : resolve(r))]));
  }

  /** Cancel a queued run at once, or ask a running trainer to stop after its step. */
  cancel(runId: number): void {
    const qi = this.#queue.indexOf(runId);
    if (qi >= 0) {
      this.#queue.splice(qi, 1);
      this.#store.runs.finish(runId, 'cancelled', { error: null });
      this.#settled(runId);
      return;
    }
    const a = this.#active.get(runId);
    if (!a) return;
    a.cancelRequested = true;
    a.host?.cancel();
  }

  /** Stop everything: queued runs are cancelled, running trainers killed and their runs marked interrupted. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    if (this.#ownerTimer) clearInterval(this.#ownerTimer);
    this.#ownerTimer = null;
    const settled = [...this.#active.keys()].map((id) => this.wait(id));
    for (const id of this.#queue.splice(0)) {
      try {
        this.#store.runs.finish(id, 'cancelled', { error: 'cancelled: LoRA Lab was closed before the run started' });
      } catch {
        /* a damaged or unwritable database: closing goes on; recovery marks the run later */
      }
      this.#settled(id);
    }
    const hosts = [...this.#active.values()].map((a) => a.host).filter((h): h is TrainerHost => h !== null);
    for (const h of hosts) h.kill();
    await Promise.all([...hosts.map((h) => h.waitForExit(5000)), this.#pool.closeAll(5000)]);
    // Let each run's outcome be written before the store closes.
    await Promise.race([Promise.allSettled(settled), new Promise((r) => setTimeout(r, 5000))]);
    openManagers.delete(this);
  }

  /** How many runs are on the remote queue now (handed over, not yet final). */
  get onQueue(): number {
    return this.#onQueue.size;
  }

  /**
   * Where runs start from now on: this queue, or local trainers (null). Runs already
   * training go on where they are; runs on a queue keep its dispatcher, so the caller
   * changes it only when none are (QueueService refuses otherwise).
   */
  setRemote(remote: RemoteDispatcher | null): void {
    if (this.#onQueue.size > 0) throw new Error(`${this.#onQueue.size} runs are on the queue`);
    this.#remote = remote;
    this.#pump();
  }

  #pump(): void {
    if (this.#remote) {
      while (!this.#closed && this.#active.size < REMOTE_IN_FLIGHT && this.#queue.length) {
        const id = this.#queue.shift() as number;
        const a: Active = { host: null, buffer: [], timer: null, lastProgressWrite: 0, lastProgress: null, cancelRequested: false, storeError: null, memory: 0, warm: null };
        this.#active.set(id, a);
        this.#onQueue.add(id);
        void this.#start(id, a);
      }
      return;
    }
    while (!this.#closed && this.#active.size < this.#opts.concurrency && this.#queue.length) {
      const id = this.#queue[0] as number;
      const { memory, baseKey } = this.#plan(id);
      // A warm trainer's memory becomes this run's; other idle ones still hold theirs,
      // and are closed (oldest first) before a queued run has to wait for room.
      const warm = this.#pool.take(baseKey);
      const running = [...this.#active.values()].reduce((sum, r) => sum + r.memory, 0);
      while (running + this.#pool.memory + memory > this.#opts.memoryBudget && this.#pool.retireOldest()) {
        /* retired one */
      }
      if (this.#active.size > 0 && running + memory > this.#opts.memoryBudget) {
        if (warm) this.#pool.put(warm.host, warm.memory, this.#opts.concurrency);
        break; // waits for a trainer to finish
      }
      this.#queue.shift();
      const a: Active = { host: null, buffer: [], timer: null, lastProgressWrite: 0, lastProgress: null, cancelRequested: false, storeError: null, memory, warm: warm?.host ?? null };
      this.#active.set(id, a);
      void this.#start(id, a);
    }
  }

  async #start(id: number, a: Active): Promise<void> {
    let outcome: RunOutcome;
    /** How its trainer process ended (null when none started). */
    let exitReason: TrainerExitReason | null = null;
    let off: (() => void) | null = null;
    try {
      const run = this.#store.runs.get(id);
      const host: Trainer = a.warm ?? this.#remote?.trainer() ?? new TrainerHost(this.#opts.host);
      a.host = host;
      off = host.onMessage((m) => this.#guardWrite(id, a, () => this.#onMessage(id, a, m)));
      // A warm trainer said `ready` long ago: the run starts now.
      if (a.warm) this.#guardWrite(id, a, () => this.#markRunning(id, host.backend ?? 'unknown', host.device));
      const data = dataSource(this.#store, run.config.data);
      const job = await trainJobFor(this.#store, run, host, data);
      // Cancelled while its trainer started: it never trains.
      outcome = a.cancelRequested ? { status: 'cancelled', step: 0, backend: host.backend } : await host.run(job);
      exitReason = await this.#release(host, outcome, a);
    } catch (err) {
      outcome = { status: 'failed', error: (err as Error).message, code: 'internal', backend: null };
      if (a.host) exitReason = await this.#release(a.host, outcome, a);
    } finally {
      off?.();
    }
    this.#guardWrite(id, a, () => this.#flush(id, a));
    if (outcome.status !== 'completed') this.#guardWrite(id, a, () => this.#recordStop(id, a, outcome));
    try {
      if (a.storeError) throw a.storeError;
      this.#finish(id, outcome, exitReason);
    } catch (err) {
      // The results could not be written (disk full, locked database …): say so on the run.
      try {
        this.#store.runs.finish(id, 'failed', { error: `could not store the results: ${(err as Error).message}` });
      } catch {
        /* the run row itself is unreachable; recovery will mark it interrupted */
      }
    }
    this.#active.delete(id);
    this.#onQueue.delete(id);
    this.#settled(id);
    this.#pump();
  }

  /**
   * A queued run's estimated trainer memory and its base's key; memory 0 when its row
   * cannot be read (its start then fails with the reason).
   */
  #plan(id: number): { memory: number; baseKey: string | null } {
    try {
      const run = this.#store.runs.get(id);
      const data = this.#store.datasets.find(run.config.data);
      return { memory: trainerMemory(run.config, data && data.builtin !== 'mnist' ? data.bytes : undefined).total, baseKey: baseKeyOf(this.#store, run) };
    } catch {
      return { memory: 0, baseKey: null };
    }
  }

  /**
   * After a run's job: a trainer that may take another waits warm in the pool; any
   * other is waited for (killed if it hangs). The run's exit reason: how the process
   * ended, or for a kept one how it ended the job — `clean-exit`, or `abnormal-exit`
   * for a failure it reported (what a one-job trainer's exit said).
   */
  async #release(host: Trainer, outcome: RunOutcome, a: Active): Promise<TrainerExitReason | null> {
    if (!(host instanceof TrainerHost)) return null; // a remote run: no process of ours ended
    if (host.reusable && !this.#closed && !a.storeError) {
      this.#pool.put(host, a.memory, this.#opts.concurrency);
      return outcome.status === 'failed' ? 'abnormal-exit' : 'clean-exit';
    }
    return (await host.waitForExit(10_000)).reason;
  }

  #markRunning(id: number, backend: string, device: string): void {
    const run = this.#store.runs.get(id);
    if (run.status === 'queued') this.#store.runs.markRunning(id, backend, device);
    else if (run.status === 'running' && (run.backend !== backend || run.device !== device)) this.#store.runs.setPlacement(id, backend, device);
    this.#events.runChanged(id);
  }

  #onMessage(id: number, a: Active, m: TrainerMessage): void {
    switch (m.type) {
      case 'ready':
        this.#markRunning(id, m.backend, m.device);
        break;
      case 'progress': {
        const p: RunProgress = {
          phase: m.phase,
          step: m.step,
          totalSteps: m.totalSteps,
          epoch: m.epoch,
          loss: Number.isFinite(m.loss) ? m.loss : null,
          samplesPerSec: m.samplesPerSec,
          etaSeconds: m.etaSeconds,
        };
        this.#events.progress(id, p);
        a.lastProgress = p;
        const now = Date.now();
        if (now - a.lastProgressWrite >= this.#opts.progressWriteMs) {
          a.lastProgressWrite = now;
          this.#store.runs.setProgress(id, p);
        }
        break;
      }
      case 'metrics':
        a.buffer.push(...m.points);
        this.#events.metrics(id, m.points);
        a.timer ??= setTimeout(() => this.#guardWrite(id, a, () => this.#flush(id, a)), this.#opts.metricFlushMs);
        break;
      case 'evaluation':
        this.#store.evaluations.put(id, m.phase, m.step, m.result);
        break;
      case 'attempt':
        // The remote run started over on another worker: what the dead attempt sent goes.
        if (a.timer) clearTimeout(a.timer);
        a.timer = null;
        a.buffer.length = 0;
        a.lastProgress = null;
        this.#store.runs.nextAttempt(id);
        this.#events.runChanged(id);
        break;
      default:
        break;
    }
  }

  /**
   * Database writes made while a run streams. If one fails (the disk is full, the file
   * became read-only …), the trainer is stopped rather than left running with nowhere
   * to put its results, and the run is marked failed with the reason once it exits.
   */
  #guardWrite(id: number, a: Active, write: () => void): void {
    try {
      write();
    } catch (err) {
      if (!a.storeError) {
        a.storeError = err as Error;
        a.buffer.length = 0;
        a.host?.kill();
      }
    }
  }

  #flush(id: number, a: Active): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = null;
    if (!a.buffer.length) return;
    const points = a.buffer.splice(0);
    this.#store.metrics.append(id, points);
  }

  /**
   * A run that stops before its summary (cancelled, failed) keeps how far it got: its
   * latest progress, at the step the trainer stopped at, so lists can say "12 of 50".
   */
  #recordStop(id: number, a: Active, o: RunOutcome): void {
    const last = a.lastProgress;
    const step = o.status === 'cancelled' && o.step >= 0 ? o.step : last?.step;
    if (step === undefined) return;
    const p: RunProgress = { ...(last ?? { phase: 'training', totalSteps: 0, epoch: 0, loss: null, samplesPerSec: 0, etaSeconds: 0 }), step };
    this.#store.runs.setProgress(id, p);
  }

  #finish(id: number, o: RunOutcome, exitReason: TrainerExitReason | null): void {
    const run = this.#store.runs.get(id);
    if (o.status === 'completed') {
      let modelId: number | null = null;
      this.#store.transaction(() => {
        if (o.weights.kind === 'model') {
          // A full fine-tune's model keeps its base as parent: its update is W − W0.
          const full = run.kind === 'full';
          if (full && run.baseModelId === null) throw new Error('full fine-tune results without a base model');
          modelId = this.#store.models.create({
            name: run.name,
            kind: full ? 'finetuned' : 'base',
            sizes: run.config.sizes,
            sourceRunId: id,
            datasetId: run.config.data,
            ...(full ? { parentModelId: run.baseModelId, origin: { run: id, finetunedFrom: run.baseModelId } } : { origin: { run: id } }),
          }).id;
          this.#store.tensors.put({ modelId }, o.weights.tensors);
          this.#store.runs.finish(id, 'completed', { summary: o.summary, modelId, exitReason });
        } else {
          if (!o.weights.adapter || run.baseModelId === null) throw new Error('adapter results without adapter info or base model');
          const adapter = this.#store.adapters.create({ name: run.name, runId: id, baseModelId: run.baseModelId, info: o.weights.adapter, origin: { run: id } });
          this.#store.tensors.put({ adapterId: adapter.id }, o.weights.tensors);
          this.#store.runs.finish(id, 'completed', { summary: o.summary, adapterId: adapter.id, exitReason });
        }
      });
      if (modelId !== null) this.#events.modelCreated(modelId);
    } else if (o.status === 'cancelled') {
      this.#store.runs.finish(id, 'cancelled', { error: null, exitReason });
    } else if (this.#closed && o.code === 'crash') {
      // We stopped it ourselves because LoRA Lab is closing: not the run's fault.
      this.#store.runs.finish(id, 'interrupted', { error: 'interrupted: LoRA Lab was closed while this run was running', exitReason });
    } else {
      this.#store.runs.finish(id, 'failed', { error: o.error, exitReason });
    }
  }

  #settled(id: number): void {
    // Whatever the store does (a damaged file refuses every statement), waiters are told.
    try {
      this.#events.runChanged(id);
    } catch {
      /* the listener could not read the run either; the waiters below hear why */
    }
    let run: StoredRun | Error;
    try {
      run = this.#store.runs.get(id);
    } catch (err) {
      run = err as Error;
    }
    for (const w of this.#waiters.get(id) ?? []) w(run);
    this.#waiters.delete(id);
  }
}
