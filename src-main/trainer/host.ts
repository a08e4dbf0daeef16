/**
 * The host side of a trainer process: one object owns one child's lifecycle
 * (start, post, cancel, kill, wait for exit with a timeout, exit reason), in the
 * manner of VS Code's utility-process wrapper. `run()` always settles — a trainer that
 * crashes, is killed, runs out of memory, cannot start or stops answering becomes a
 * `failed` outcome with the reason in words, never a hang. How the process ended
 * (contract/exit-reasons.ts) is `exit.reason` once it has.
 */
import type { TrainerExitReason } from '../contract/exit-reasons.ts';
import type { AdapterInfo, EvalJob, Evaluation, RunSummary, TrainJob, TrainerErrorCode, TrainerMessage } from '../contract/protocol.ts';
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
        this.#backend = msg.backend;
        this.#device = msg.device;
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

  /** Send the job and settle with its outcome. Call once per host. */
  run(job: TrainJob): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      const evaluations: { before?: Evaluation; after?: Evaluation } = {};
      let weights: Extract<RunOutcome, { status: 'completed' }>['weights'] | null = null;
      let settled = false;
      const settle = (o: RunOutcome) => {
        if (settled) return;
        settled = true;
        off();
        resolve(o);
      };
      const off = this.onMessage((msg) => {
        switch (msg.type) {
          case 'ready':
            this.#port.post({ type: 'start', job });
            break;
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

  /** Evaluate models without training (one call per host, like run()). */
  evaluate(job: EvalJob): Promise<{ status: 'completed'; results: Evaluation[] } | { status: 'failed'; error: string }> {
    return new Promise((resolve) => {
      const results: Evaluation[] = [];
      let settled = false;
      const settle = (o: { status: 'completed'; results: Evaluation[] } | { status: 'failed'; error: string }) => {
        if (settled) return;
        settled = true;
        off();
        resolve(o);
      };
      const off = this.onMessage((msg) => {
        if (msg.type === 'ready') this.#port.post({ type: 'evaluate', job });
        else if (msg.type === 'evaluated') results[msg.index] = msg.result;
        else if (msg.type === 'evaluations-done') settle({ status: 'completed', results });
        else if (msg.type === 'error') settle({ status: 'failed', error: msg.message });
      });
      void this.#exited.then((exit) => {
        const when = exit.reason === 'launch-failed' ? '' : ' before the evaluation finished';
        settle({ status: 'failed', error: `${exitWords(exit)}${when}${this.#detail(exit)}` });
      });
    });
  }

  #cancelRequested = false;

  /** Ask the trainer to stop after its current step; kill it if it does not within the grace period. */
  cancel(): void {
    if (this.#exitInfo) return;
    this.#cancelRequested = true;
    this.#port.post({ type: 'cancel' });
    this.#cancelTimer ??= setTimeout(() => this.kill(), this.#opts.cancelGraceMs);
    this.#cancelTimer.unref();
  }

  /** SIGKILL (or the Electron equivalent). */
  kill(): void {
    if (this.#exitInfo) return;
    this.#killedByUs = true;
    this.#port.kill();
  }

  /** Resolves when the process has exited; kills it if that takes longer than `timeoutMs`. */
  async waitForExit(timeoutMs = 10000): Promise<TrainerExit> {
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
