/**
 * The host's side of remote workers: runs go to the BullMQ queue instead of local
 * trainer processes, and each dispatched run is followed by a RemoteTrainer that the
 * run manager drives exactly like a local TrainerHost (run, messages, cancel). The host
 * stays the only writer of its database: workers' events and results arrive here, are
 * validated (protocol.ts, the tensors against the run's shapes) and only then reach
 * the run manager. A retry of the run on another worker (its first worker died) is
 * seen as a new attempt id in the events: the run manager drops the dead attempt's
 * metrics and evaluations before the new ones are written, and events of a superseded
 * attempt (a worker that lost its network and came back) are ignored.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { NamedTensors } from '../contract/named.ts';
import type { AdapterInfo, Evaluation, TrainJob, TrainerMessage } from '../contract/protocol.ts';
import { loadMigrations } from '../store/migrate.ts';
import type { RunOutcome, TrainerExit } from '../trainer/host.ts';
import { checkFinite } from '../weights/finite.ts';
import { checkAdapterFits } from '../weights/merge-checks.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { version } from '../util/version.ts';
import { DatasetBlobs, getBlob, putBlob } from './blobs.ts';
import { DataSourceError } from '../data/source.ts';
import { connection, connectChecked } from './connect.ts';
import { KEYS, QUEUE, REMOTE_PROTOCOL, type RemoteEvaluation, type RemoteEvent, type RemoteJob, type RemoteResult, TTL_SECONDS, type WorkerInfo, problemOf, remoteEventSchema, remoteResultSchema, workerInfoSchema } from './protocol.ts';
import type { RedisAddress } from './redis-url.ts';
import { WORKER_STALE_MS, type WorkerView } from '../contract/workers.ts';

/** How often a dispatched run's events and job state are read (ms). */
const POLL_MS = 100;
/** Polls in a row that find no job before the run is given up (2 s). */
const MISSING_POLLS = 20;


export class RemoteDispatcher {
  readonly address: RedisAddress;
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #datasets: DatasetBlobs;
  #closed = false;

  private constructor(address: RedisAddress, redis: Redis, queue: Queue) {
    this.address = address;
    this.#redis = redis;
    this.#queue = queue;
    this.#datasets = new DatasetBlobs(redis);
  }

  /** Connects, or throws one clear line (unreachable, wrong password …) with the secret left out. */
  static async connect(address: RedisAddress): Promise<RemoteDispatcher> {
    const redis = await connectChecked(address, 'lora-lab-host');
    const queue = new Queue(QUEUE, { connection: connection(address, 'lora-lab-host-queue') });
    queue.on('error', () => {}); // reconnects on its own
    return new RemoteDispatcher(address, redis, queue);
  }

  trainer(): RemoteTrainer {
    return new RemoteTrainer(this.#redis, this.#queue, this.#datasets);
  }

  /** The workers that have said they are there, by name. */
  async workers(): Promise<WorkerView[]> {
    const all = await this.#redis.hgetall(KEYS.workers);
    const now = Date.now();
    const out: WorkerView[] = [];
    for (const text of Object.values(all)) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        continue;
      }
      if (problemOf(workerInfoSchema, value)) continue;
      const w = value as WorkerInfo;
      out.push({ ...w, stale: now - w.seenAt > WORKER_STALE_MS, incompatible: w.protocol !== REMOTE_PROTOCOL });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.close().catch(() => {});
    this.#redis.disconnect();
  }
}

type Listener = (m: TrainerMessage) => void;

/**
 * One run on a remote worker, with the surface of a local TrainerHost that the run
 * manager uses. `run()` always settles: completed, cancelled, or failed with the reason
 * (the worker's own failure, a refused job, a malformed message or result).
 */
export class RemoteTrainer {
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #datasets: DatasetBlobs;
  readonly #listeners = new Set<Listener>();
  #backend: string | null = null;
  #device = 'remote worker';
  #dispatch: string | null = null;
  #job: Job | null = null;
  #cancelled = false;
  #killed = false;
  /** The attempt whose events are being taken, and those it replaced. */
  #attempt: string | null = null;
  readonly #superseded = new Set<string>();

  constructor(redis: Redis, queue: Queue, datasets: DatasetBlobs) {
    this.#redis = redis;
    this.#queue = queue;
    this.#datasets = datasets;
  }

  get pid(): undefined { return undefined; }
  get backend(): string | null { return this.#backend; }
  get device(): string { return this.#device; }
  /** Base weights always travel (as a blob, once per content): no trainer-side cache to skip them for. */
  get baseKey(): null { return null; }
  get reusable(): boolean { return false; }
  /** No local trainer to wait for: a stored `before` evaluation is not reused for remote runs. */
  whenReady(): Promise<boolean> { return Promise.resolve(false); }

  onMessage(cb: Listener): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  #emit(m: TrainerMessage): void {
    for (const l of this.#listeners) l(m);
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#dispatch) void this.#redis.set(KEYS.cancel(this.#dispatch), '1', 'EX', TTL_SECONDS).catch(() => {});
  }

  /** Stops following the run (the host is closing): the worker is told to cancel it. */
  kill(): void {
    this.#killed = true;
    this.cancel();
  }

  waitForExit(): Promise<TrainerExit> {
    return Promise.resolve({ code: null, signal: null, reason: 'clean-exit' });
  }

  close(): Promise<TrainerExit> {
    return this.waitForExit();
  }

  async run(job: TrainJob): Promise<RunOutcome> {
    const runId = Number(job.runId);
    try {
      let dataset: RemoteJob['data'];
      try {
        dataset = await this.#datasets.send(job.data);
      } catch (err) {
        if (err instanceof DataSourceError) return failed(err.message, 'data');
        throw err;
      }
      const base = job.baseWeights ? { key: job.baseKey ?? `run-${runId}`, hash: await putBlob(this.#redis, writeSafetensors(job.baseWeights)) } : null;
      const dispatch = randomUUID();
      this.#dispatch = dispatch;
      const data: RemoteJob = { protocol: REMOTE_PROTOCOL, schema: loadMigrations().length, app: version(), runId, dispatch, config: job.config, data: dataset, base };
      this.#job = await this.#queue.add('run', data, { jobId: `run-${runId}-${dispatch}`, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } });
      if (this.#cancelled) this.cancel();
      return await this.#follow(runId, job, dispatch);
    } catch (err) {
      return failed(`remote run: ${(err as Error).message}`, 'internal');
    }
  }

  async #follow(runId: number, job: TrainJob, dispatch: string): Promise<RunOutcome> {
    const key = KEYS.events(dispatch);
    const jobId = (this.#job as Job).id as string;
    // Between looks, a blocking read on its own connection wakes as soon as the worker sends
    // events or BullMQ records a job's end, instead of sleeping a fixed poll interval.
    const waiter = this.#redis.duplicate();
    const queueEvents = this.#queue.keys.events as string; // BullMQ's own stream of job events
    let lastQueue = (await this.#redis.xrevrange(queueEvents, '+', '-', 'COUNT', 1).catch(() => []))[0]?.[0] ?? '0-0';
    const wait = async (last: string): Promise<void> => {
      const woke = await waiter.xread('COUNT', 1000, 'BLOCK', POLL_MS, 'STREAMS', key, queueEvents, last, lastQueue).catch(() => undefined);
      if (woke === undefined) return new Promise((r) => setTimeout(r, POLL_MS)); // Redis away: retry at the poll interval
      for (const [stream, entries] of woke ?? []) if (stream === queueEvents) lastQueue = entries.at(-1)?.[0] ?? lastQueue;
    };
    try {
      return await this.#look(runId, job, jobId, key, wait);
    } finally {
      waiter.disconnect();
    }
  }

  /** Looks at the job and its new events until it ends; `wait(last)` is given the last event seen. */
  async #look(runId: number, job: TrainJob, jobId: string, key: string, wait: (last: string) => Promise<void>): Promise<RunOutcome> {
    let last = '0';
    let missing = 0;
    for (;;) {
      // The host is closing: the worker is told to stop, and the run is interrupted like a local one.
      if (this.#killed) return failed('interrupted: LoRA Lab was closed while this run trained on a remote worker', 'crash');
      // A run cancelled while it still waits in the queue never starts.
      if (this.#cancelled) {
        const state = await this.#queue.getJobState(jobId).catch(() => 'unknown');
        if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
          const removed = await this.#queue.remove(jobId).catch(() => 0);
          if (removed) return { status: 'cancelled', step: 0, backend: null };
        }
      }
      const state = await this.#queue.getJobState(jobId).catch(() => 'error');
      // A job Redis no longer has (restarted without persistence, flushed): the run cannot finish.
      missing = state === 'unknown' ? missing + 1 : 0;
      if (missing >= MISSING_POLLS) return failed(`the run's job is gone from Redis (restarted without persistence, or flushed?): start the run again`, 'internal');
      // Events first: once the job has finished, every event its worker sent is in the stream.
      const read = await this.#redis.xrange(key, last === '0' ? '-' : `(${last}`, '+', 'COUNT', 1000).catch(() => null);
      if (read) {
        for (const [id, fields] of read) {
          last = id;
          const problem = this.#take(runId, job, fields);
          if (problem) {
            this.cancel();
            return failed(`the worker sent a malformed message: ${problem}`, 'internal');
          }
        }
        if (read.length === 1000) continue;
      }
      if (state === 'completed' || state === 'failed') {
        const fresh = await Job.fromId(this.#queue, jobId);
        if (!fresh) return failed('the remote job disappeared from the queue', 'internal');
        if (state === 'failed') return failed(fresh.failedReason || 'the remote job failed', 'internal');
        return await this.#result(runId, job, fresh.returnvalue);
      }
      await wait(last);
    }
  }

  /** One stream entry: checked, its attempt followed, passed on as a trainer message. Returns a problem, or null. */
  #take(runId: number, job: TrainJob, fields: string[]): string | null {
    const text = fields[1];
    if (fields[0] !== 'e' || typeof text !== 'string') return 'an entry without its event';
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 'an event that is not JSON';
    }
    const problem = problemOf(remoteEventSchema, value);
    if (problem) return problem;
    const e = value as RemoteEvent;
    if (this.#superseded.has(e.attempt)) return null; // a worker that came back after its run moved on
    if (e.attempt !== this.#attempt) this.#newAttempt(runId, e.attempt, e.worker);
    const id = String(runId);
    const m = e.msg;
    switch (m.type) {
      case 'ready':
        this.#backend = m.backend;
        this.#device = `${m.device} · worker ${e.worker}`;
        this.#emit({ type: 'ready', backend: m.backend, device: this.#device, pid: 0 });
        break;
      case 'progress':
        this.#emit({ ...m, type: 'progress', runId: id, loss: m.loss ?? Number.NaN });
        break;
      case 'metrics':
        this.#emit({ type: 'metrics', runId: id, points: m.points });
        break;
      case 'evaluation': {
        const r = evaluationOf(m.result, job.config.sizes.at(-1) as number);
        if (typeof r === 'string') return `evaluation at step ${m.step}: ${r}`;
        this.#emit({ type: 'evaluation', runId: id, phase: m.phase, step: m.step, result: r });
        break;
      }
    }
    return null;
  }

  #newAttempt(runId: number, attempt: string, worker: string): void {
    if (this.#attempt !== null) {
      this.#superseded.add(this.#attempt);
      this.#emit({ type: 'attempt', runId: String(runId), worker });
    }
    this.#attempt = attempt;
  }

  async #result(runId: number, job: TrainJob, value: unknown): Promise<RunOutcome> {
    const problem = problemOf(remoteResultSchema, value);
    if (problem) return failed(`the worker's result is malformed: ${problem}`, 'internal');
    const r = value as RemoteResult;
    // The result is BullMQ's one completion: if it is not the attempt whose events were taken, those were another try's.
    if (r.attempt !== this.#attempt) this.#newAttempt(runId, r.attempt, r.worker);
    const o = r.outcome;
    if (o.status === 'cancelled') return { status: 'cancelled', step: o.step, backend: this.#backend };
    if (o.status === 'failed') return failed(`on worker ${r.worker}: ${o.error}`, o.code);
    let tensors;
    try {
      tensors = readSafetensors(await getBlob(this.#redis, o.weights.hash)).tensors;
      checkFinite(tensors, `the weights from worker ${r.worker}`);
      checkWeights(job, o.weights.kind, tensors, o.weights.adapter);
    } catch (err) {
      return failed(`the weights from worker ${r.worker} were refused: ${(err as Error).message}`, 'internal');
    }
    return { status: 'completed', summary: o.summary, backend: o.backend, device: `${o.device} · worker ${r.worker}`, evaluations: {}, weights: { kind: o.weights.kind, tensors, ...(o.weights.adapter ? { adapter: o.weights.adapter } : {}) } };
  }
}

function failed(error: string, code: Extract<RunOutcome, { status: 'failed' }>['code']): RunOutcome {
  return { status: 'failed', error, code, backend: null };
}

/** An evaluation as the trainer's, or what is wrong with it for a data set of `classes` classes. */
function evaluationOf(e: RemoteEvaluation, classes: number): Evaluation | string {
  if (e.correct > e.total) return `${e.correct} correct of ${e.total}`;
  if (e.wrongPerClass.length !== classes || e.countPerClass.length !== classes) return `counts for ${e.countPerClass.length} classes, the run's data set has ${classes}`;
  if (e.confusion.length !== classes || e.confusion.some((row) => row.length !== classes)) return `a confusion matrix that is not ${classes}×${classes}`;
  const predictions = new Uint8Array(Buffer.from(e.predictions, 'base64'));
  if (predictions.length > e.total) return `${predictions.length} predictions for ${e.total} samples`;
  if (predictions.some((p) => p >= classes)) return 'a prediction outside the classes';
  return { ...e, predictions };
}

/** The returned tensors are exactly what this run makes: a model of its widths, or an adapter of its LoRA config. */
function checkWeights(job: TrainJob, kind: 'model' | 'adapter', tensors: NamedTensors, adapter: AdapterInfo | undefined): void {
  const c = job.config;
  if ((c.kind === 'lora') !== (kind === 'adapter')) throw new Error(`a ${c.kind} run makes ${c.kind === 'lora' ? 'an adapter' : 'a model'}, the worker sent ${kind === 'adapter' ? 'an adapter' : 'a model'}`);
  if (kind === 'adapter') {
    if (!adapter || !c.lora) throw new Error('an adapter without its description');
    if (adapter.targets.join() !== c.lora.targets.join() || adapter.variant !== c.lora.variant) throw new Error(`an adapter of ${adapter.variant} on ${adapter.targets.join(', ')}, the run trains ${c.lora.variant} on ${c.lora.targets.join(', ')}`);
    checkAdapterFits(c.sizes, adapter, tensors, 'the adapter');
    return;
  }
  const want = new Map<string, string>();
  for (let i = 1; i < c.sizes.length; i++) {
    want.set(`linear${i}.weight`, `${c.sizes[i]},${c.sizes[i - 1]}`);
    want.set(`linear${i}.bias`, `${c.sizes[i]}`);
  }
  const names = Object.keys(tensors);
  if (names.length !== want.size || names.some((n) => !want.has(n))) throw new Error(`tensors ${names.slice(0, 6).join(', ')}${names.length > 6 ? ' …' : ''}, not the model's ${[...want.keys()].join(', ')}`);
  for (const [n, shape] of want) if ((tensors[n]?.shape ?? []).join() !== shape) throw new Error(`${n} is [${tensors[n]?.shape}], the model's is [${shape}]`);
}
