/**
 * The host side of a trainer process: one object owns one child's lifecycle
 * (start, post, cancel, kill, wait for exit with a timeout, exit reason), in the
 * manner of VS Code's utility-process wrapper. `run()` always settles — a trainer that
 * crashes, is killed, runs out of memory, cannot start or stops answering becomes a
 * `failed` outcome with the reason in words, never a hang. How the process ended
 * (contract/exit-reasons.ts) is `exit.reason` once it has.
 *
 * A trainer runs job after job (a warm trainer): `run()` or `evaluate()` may be called
 * again once the previous job has settled, while the process lives and `reusable` says
 * so. Between jobs the process does not keep this one alive (it is unref'd), and
 * `close()` or `waitForExit()` ask it to exit cleanly.
 */
import type { TrainerExitReason } from '../contract/exit-reasons.ts';
import { type AdapterInfo, type EvalJob, type Evaluation, type HostMessage, type RunSummary, type TrainJob, type TrainerErrorCode, type TrainerMessage, processIntact } from '../contract/protocol.ts';
import type { NamedTensors } from '../contract/named.ts';
import { exitWords } from './exit.ts';

import { spawnNodeTrainer, type SpawnTrainer, type TrainerPort } from './port.ts';

export type RunOutcome =
  | {
      status: 'completed';
      summary: RunSummary;
      backend: string;
      device: string;
      evaluations: { before?: Evaluation; after?: Evaluation };
      weights: { kind: 'model' | 'adapter'; tensors: NamedTensors; adapter?: AdapterInfo };
    }
  | { status: 'cancelled'; step: number; backend: string | null }
  /** `crash`: the process ended before its outcome (`exitReason` says how); `hung`: it stopped answering and was killed. */
  | { status: 'failed'; error: string; code: TrainerErrorCode | 'crash' | 'hung'; backend: string | null; exitReason?: TrainerExitReason };

/** How a trainer process ended: `signal` is null for a normal exit and under Electron. */
export interface TrainerExit {
  code: number | null;
  signal: string | null;
  reason: TrainerExitReason;
}

export interface HostOptions {
  spawn?: SpawnTrainer;
  env?: NodeJS.ProcessEnv;
  /** After cancel(), kill the process if it has not stopped within this many ms. */
  cancelGraceMs?: number;
  /** Ping every this many ms; a trainer silent for `hangTimeoutMs` is killed (0 disables). */
  heartbeatMs?: number;
  hangTimeoutMs?: number;
}

export class TrainerHost {
  readonly #port: TrainerPort;
  readonly #opts: Required<Omit<HostOptions, 'spawn' | 'env'>>;
  #exited: Promise<TrainerExit>;
  #exitInfo: TrainerExit | null = null;
  #listeners: ((msg: TrainerMessage) => void)[] = [];
  #backend: string | null = null;
  #device = '';
  #lastHeard = Date.now();
  #heartbeat: NodeJS.Timeout | null = null;
  #hung = false;
  #killedByUs = false;
  #cancelTimer: NodeJS.Timeout | null = null;
  /** The latest progress (phase and step), to say where a trainer died. */
  #lastProgress: { phase: string; step: number } | null = null;
  #trainedTo = 0;
  #ready = false;
  /** A job has been handed to run()/evaluate() and has not settled. */
  #busy = false;
  /** The current job's message has gone to the trainer. */
  #jobPosted = false;
  /** Jobs given to this process so far. */
  #jobs = 0;
  /** The trainer reported a failure that ends the process (it exits): never given another job. */
  #retired = false;
  /** The base the trainer holds (it caches the last one sent with a key). */
  #baseKey: string | null = null;
  #memoryId = 0;

  constructor(opts: HostOptions = {}) {
    this.#opts = { cancelGraceMs: opts.cancelGraceMs ?? 5000, heartbeatMs: opts.heartbeatMs ?? 2000, hangTimeoutMs: opts.hangTimeoutMs ?? 60000 };
    this.#port = startPort(opts.spawn ?? spawnNodeTrainer, opts.env ?? process.env);
    this.#exited = new Promise((resolve) =>
      this.#port.onExit((code, signal, reason) => {
        this.#exitInfo = { code, signal, reason };
        this.#stopTimers();
        resolve(this.#exitInfo);
      }),
    );
    this.#port.onMessage((msg) => {
      this.#lastHeard = Date.now();
      if (msg.type === 'ready') {
        this.#ready = true;
        this.#backend = msg.backend;
        this.#device = msg.device;
      } else if (msg.type === 'error' && !processIntact(msg.code)) {
        this.#retired = true;
      } else if (msg.type === 'progress') {
        this.#lastProgress = { phase: msg.phase, step: msg.step };
        if (msg.phase === 'training') this.#trainedTo = msg.step;
      }
      for (const l of this.#listeners) l(msg);
    });
    if (this.#opts.heartbeatMs > 0 && this.#opts.hangTimeoutMs > 0 && !this.#exitInfo) {
      let id = 0;
      let lastTick = Date.now();
      this.#heartbeat = setInterval(() => {
        const now = Date.now();
        // This tick is late: the host itself was frozen (a blocked event loop, SIGSTOP,
        // a suspended laptop). The trainer's silence meanwhile is not its fault.
        if (now - lastTick > Math.max(4 * this.#opts.heartbeatMs, 1000)) this.#lastHeard = now;
        lastTick = now;
        if (this.#exitInfo) return;
        if (now - this.#lastHeard > this.#opts.hangTimeoutMs) {
          this.#hung = true;
          this.kill();
          return;
        }
        this.#port.post({ type: 'ping', id: ++id });
      }, this.#opts.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  get pid(): number | undefined {
    return this.#port.pid;
  }

  get backend(): string | null {
    return this.#backend;
  }

  /** How the process ended; null while it runs. */
  get exit(): TrainerExit | null {
    return this.#exitInfo;
  }

  /** Every message as it arrives (progress, metrics, evaluations …). */
  onMessage(cb: (msg: TrainerMessage) => void): () => void {
    this.#listeners.push(cb);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== cb);
    };
  }

  /** The device the trainer's backend runs on ('' until it is ready). */
  get device(): string {
    return this.#device;
  }

  /** True once the trainer's backend has started (at once for a warm one), false if the process ended first. */
  whenReady(): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    if (this.#exitInfo) return Promise.resolve(false);
    return new Promise((resolve) => {
      const off = this.onMessage((m) => {
        if (m.type === 'ready') {
          off();
          resolve(true);
        }
      });
      void this.#exited.then(() => {
        off();
        resolve(this.#ready);
      });
    });
  }

  /** The process lives, has started, has no job and may take one. */
  get reusable(): boolean {
    return this.#ready && !this.#busy && !this.#retired && !this.#exitInfo && !this.#killedByUs && !this.#hung;
  }

  /** The key of the base model the trainer holds: a job on it need not carry its weights. */
  get baseKey(): string | null {
    return this.#baseKey;
  }

  /** Marks a job in flight; refuses a second one, or one for a process that is gone. */
  #begin(): void {
    if (this.#busy) throw new Error('this trainer is running a job already');
    // The first job of a process that never started settles as `failed` with the reason; a later one is refused.
    if (this.#jobs > 0 && (this.#exitInfo || this.#killedByUs || this.#hung)) throw new Error('this trainer process has exited');
    if (this.#retired) throw new Error('this trainer failed and takes no further job');
    this.#jobs++;
    this.#busy = true;
    this.#jobPosted = false;
    this.#cancelRequested = false;
    this.#lastProgress = null;
    this.#trainedTo = 0;
    this.#port.ref?.(true);
  }

  #end(): void {
    this.#busy = false;
    if (this.#cancelTimer) clearTimeout(this.#cancelTimer);
    this.#cancelTimer = null;
    this.#port.ref?.(false);
  }

  /** Posts `msg` once the trainer is ready (at once for a warm one). */
  #postWhenReady(msg: HostMessage, off: () => void): () => void {
    const post = () => {
      this.#port.post(msg);
      this.#jobPosted = true;
      // A cancel asked for before the job was sent: the trainer ignores one between jobs.
      if (this.#cancelRequested) this.#port.post({ type: 'cancel' });
    };
    if (this.#ready) {
      post();
      return off;
    }
    const offReady = this.onMessage((m) => {
      if (m.type === 'ready') {
        offReady();
        post();
      }
    });
    return () => {
      offReady();
      off();
    };
  }

  /** The job as posted: without the base weights when the trainer holds that base already. */
  #prepare(job: TrainJob): TrainJob {
    if (job.baseKey === undefined) return job;
    if (job.baseKey === this.#baseKey) {
      const { baseWeights: _, ...rest } = job;
      return rest;
    }
    if (job.baseWeights) this.#baseKey = job.baseKey;
    return job;
  }

  /**
   * Send the job and settle with its outcome. May be called again once the previous job
   * has settled; throws while one is in flight, or once the process has exited.
   */
  run(job: TrainJob): Promise<RunOutcome> {
    this.#begin();
    const posted = this.#prepare(job);
    return new Promise<RunOutcome>((resolve) => {
      const evaluations: { before?: Evaluation; after?: Evaluation } = {};
      let weights: Extract<RunOutcome, { status: 'completed' }>['weights'] | null = null;
      let settled = false;
      const settle = (o: RunOutcome) => {
        if (settled) return;
        settled = true;
        off();
        this.#end();
        resolve(o);
      };
      let off = this.onMessage((msg) => {
        switch (msg.type) {
          case 'evaluation':
            evaluations[msg.phase] = msg.result;
            break;
          case 'weights':
            weights = { kind: msg.kind, tensors: msg.tensors, ...(msg.adapter ? { adapter: msg.adapter } : {}) };
            break;
          case 'done':
            if (!weights) settle({ status: 'failed', error: 'the trainer finished without sending weights', code: 'internal', backend: this.#backend });
            else settle({ status: 'completed', summary: msg.summary, backend: this.#backend ?? msg.summary.backend, device: this.#device, evaluations, weights });
            break;
          case 'cancelled':
            settle({ status: 'cancelled', step: msg.step, backend: this.#backend });
            break;
          case 'error':
            settle({ status: 'failed', error: msg.message, code: msg.code, backend: this.#backend });
            break;
          default:
            break;
        }
      });
      off = this.#postWhenReady({ type: 'start', job: posted }, off);
      void this.#exited.then((exit) => {
        if (settled) return;
        if (this.#hung) {
          settle({ status: 'failed', error: `the trainer stopped answering for ${this.#opts.hangTimeoutMs / 1000} s and was killed`, code: 'hung', backend: this.#backend, exitReason: exit.reason });
          return;
        }
        if (this.#killedByUs && this.#cancelRequested) {
          settle({ status: 'cancelled', step: -1, backend: this.#backend });
          return;
        }
        const where = exit.reason === 'launch-failed' ? '' : ` ${this.#where()}`;
        const before = exit.reason === 'clean-exit' ? ', before finishing' : '';
        settle({ status: 'failed', error: `${exitWords(exit)}${where}${before}${this.#detail(exit)}`, code: 'crash', backend: this.#backend, exitReason: exit.reason });
      });
    });
  }

  /** Evaluate models without training (a job like run(): one at a time). */
  evaluate(job: EvalJob): Promise<{ status: 'completed'; results: Evaluation[] } | { status: 'failed'; error: string }> {
    this.#begin();
    return new Promise((resolve) => {
      const results: Evaluation[] = [];
      let settled = false;
      const settle = (o: { status: 'completed'; results: Evaluation[] } | { status: 'failed'; error: string }) => {
        if (settled) return;
        settled = true;
        off();
        this.#end();
        resolve(o);
      };
      let off = this.onMessage((msg) => {
        if (msg.type === 'evaluated') results[msg.index] = msg.result;
        else if (msg.type === 'evaluations-done') settle({ status: 'completed', results });
        else if (msg.type === 'error') settle({ status: 'failed', error: msg.message });
      });
      off = this.#postWhenReady({ type: 'evaluate', job }, off);
      void this.#exited.then((exit) => {
        const when = exit.reason === 'launch-failed' ? '' : ' before the evaluation finished';
        settle({ status: 'failed', error: `${exitWords(exit)}${when}${this.#detail(exit)}` });
      });
    });
  }

  #cancelRequested = false;

  /** What the trainer holds now (tensors, bytes, resident set); null once it has exited. */
  memory(): Promise<{ numTensors: number; numBytes: number; rss: number; heapUsed: number } | null> {
    if (this.#exitInfo) return Promise.resolve(null);
    const id = ++this.#memoryId;
    return new Promise((resolve) => {
      const off = this.onMessage((m) => {
        if (m.type === 'memory' && m.id === id) {
          off();
          const { type: _, id: __, ...rest } = m;
          resolve(rest);
        }
      });
      void this.#exited.then(() => {
        off();
        resolve(null);
      });
      this.#port.post({ type: 'memory', id });
    });
  }

  /** Ask the trainer to stop after its current step; kill it if it does not within the grace period. No job, nothing to stop. */
  cancel(): void {
    if (this.#exitInfo || !this.#busy) return;
    this.#cancelRequested = true;
    if (this.#jobPosted) this.#port.post({ type: 'cancel' });
    this.#cancelTimer ??= setTimeout(() => this.kill(), this.#opts.cancelGraceMs);
    this.#cancelTimer.unref();
  }

  /** SIGKILL (or the Electron equivalent). */
  kill(): void {
    if (this.#exitInfo) return;
    this.#killedByUs = true;
    this.#port.kill();
  }

  /**
   * Ask the trainer to exit cleanly once its job (if any) has settled, and wait for it:
   * killed if that takes longer than `timeoutMs`.
   */
  close(timeoutMs = 5000): Promise<TrainerExit> {
    if (!this.#exitInfo) this.#port.post({ type: 'exit' });
    return this.waitForExit(timeoutMs);
  }

  /**
   * Resolves when the process has exited; kills it if that takes longer than `timeoutMs`.
   * A trainer between jobs would wait for the next one: it is asked to exit first.
   */
  async waitForExit(timeoutMs = 10000): Promise<TrainerExit> {
    if (!this.#exitInfo && !this.#busy) this.#port.post({ type: 'exit' });
    let timer: NodeJS.Timeout | null = null;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const r = await Promise.race([this.#exited, timeout]);
    if (timer) clearTimeout(timer);
    if (r) return r;
    this.kill();
    return this.#exited;
  }

  /** Where the trainer was when it died: "at step 120", "while loading the data" … */
  #where(): string {
    const p = this.#lastProgress;
    if (p?.phase === 'training' && p.step > 0) return `at step ${p.step}`;
    const after = this.#trainedTo > 0 ? ` after step ${this.#trainedTo}` : '';
    if (p?.phase === 'evaluating') return `while evaluating${after}`;
    if (p?.phase === 'loading') return 'while loading the data';
    return this.#backend ? 'before training started' : 'while starting';
  }

  /** What the trainer said as it died: its out-of-memory line, else the last lines of its stderr. */
  #detail(exit: TrainerExit): string {
    const oom = exit.reason === 'oom' ? this.#port.oomLine() : null;
    const tail = oom ?? lastLines(this.#port.stderrTail(), 3);
    return tail ? `: ${tail}` : '';
  }

  #stopTimers(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#cancelTimer) clearTimeout(this.#cancelTimer);
  }
}

/** The spawner's port, or, when starting throws (no trainer entry, a bad env …), one that has already failed to launch. */
function startPort(spawn: SpawnTrainer, env: NodeJS.ProcessEnv): TrainerPort {
  try {
    return spawn(env);
  } catch (err) {
    const message = (err as Error).message;
    return {
      pid: undefined,
      post: () => undefined,
      onMessage: () => undefined,
      onExit: (cb) => cb(null, null, 'launch-failed'),
      stderrTail: () => message,
      oomLine: () => null,
      kill: () => undefined,
    };
  }
}

function lastLines(s: string, n: number): string {
  return s.split('\n').filter(Boolean).slice(-n).join(' | ');
}

/** Convenience: start a trainer, run one job, wait for the process to exit. */
export async function runInTrainer(job: TrainJob, onMessage?: (m: TrainerMessage) => void, opts: HostOptions = {}): Promise<RunOutcome> {
  const host = new TrainerHost(opts);
  if (onMessage) host.onMessage(onMessage);
  const outcome = await host.run(job);
  await host.waitForExit(10000);
  return outcome;
}
