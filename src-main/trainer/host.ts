/**
 * The host side of a trainer process: one object owns one child's lifecycle
 * (start, post, cancel, kill, wait for exit with a timeout, crash reason), in the
 * manner of VS Code's utility-process wrapper. `run()` always settles — a trainer that
 * crashes, is killed or stops answering becomes a `failed` outcome with a reason,
 * never a hang.
 */
import type { AdapterInfo, EvalJob, Evaluation, RunSummary, TrainJob, TrainerErrorCode, TrainerMessage } from '../contract/protocol.ts';
import type { NamedTensors } from '../contract/named.ts';
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
  | { status: 'failed'; error: string; code: TrainerErrorCode | 'crash' | 'hung'; backend: string | null };

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
  #exited: Promise<{ code: number | null; signal: string | null }>;
  #exitInfo: { code: number | null; signal: string | null } | null = null;
  #listeners: ((msg: TrainerMessage) => void)[] = [];
  #backend: string | null = null;
  #device = '';
  #lastHeard = Date.now();
  #heartbeat: NodeJS.Timeout | null = null;
  #hung = false;
  #killedByUs = false;
  #cancelTimer: NodeJS.Timeout | null = null;

  constructor(opts: HostOptions = {}) {
    this.#opts = { cancelGraceMs: opts.cancelGraceMs ?? 5000, heartbeatMs: opts.heartbeatMs ?? 2000, hangTimeoutMs: opts.hangTimeoutMs ?? 60000 };
    this.#port = (opts.spawn ?? spawnNodeTrainer)(opts.env ?? process.env);
    this.#exited = new Promise((resolve) =>
      this.#port.onExit((code, signal) => {
        this.#exitInfo = { code, signal };
        this.#stopTimers();
        resolve({ code, signal });
      }),
    );
    this.#port.onMessage((msg) => {
      this.#lastHeard = Date.now();
      if (msg.type === 'ready') {
        this.#backend = msg.backend;
        this.#device = msg.device;
      }
      for (const l of this.#listeners) l(msg);
    });
    if (this.#opts.heartbeatMs > 0 && this.#opts.hangTimeoutMs > 0) {
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
      void this.#exited.then(({ code, signal }) => {
        if (settled) return;
        if (this.#hung) {
          settle({ status: 'failed', error: `the trainer stopped answering for ${this.#opts.hangTimeoutMs / 1000} s and was killed`, code: 'hung', backend: this.#backend });
          return;
        }
        if (this.#killedByUs && this.#cancelRequested) {
          settle({ status: 'cancelled', step: -1, backend: this.#backend });
          return;
        }
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const tail = this.#port.stderrTail();
        settle({
          status: 'failed',
          error: `the trainer process ${how} before finishing${tail ? `: ${lastLines(tail, 3)}` : ''}`,
          code: 'crash',
          backend: this.#backend,
        });
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
      void this.#exited.then(({ code, signal }) => {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        settle({ status: 'failed', error: `the trainer process ${how} before the evaluation finished` });
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
  async waitForExit(timeoutMs = 10000): Promise<{ code: number | null; signal: string | null }> {
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

  #stopTimers(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#cancelTimer) clearTimeout(this.#cancelTimer);
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
