/**
 * A remote worker (`lora-lab worker --redis URL`): takes runs from the queue, trains
 * each with a trainer process of its own (its own backend: a GPU box trains on its
 * GPU), streams what the trainer says to the host and returns the outcome, the weights
 * as a blob. Trainers that finished cleanly wait warm for the next run (WarmPool, as on
 * a host). It never opens the host's database. A fine-tune's base weights and a run's
 * imported data set come from Redis by content hash and are cached on disk. BullMQ does
 * the rest: the job's lock while it trains, stalled-job detection when a worker dies, at
 * most one completion.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type DataSource, MNIST_SOURCE, type TrainerMessage, type TrainJob } from '../contract/protocol.ts';
import { loadMigrations } from '../store/migrate.ts';
import { WarmPool } from '../lab/warm-pool.ts';
import { TrainerHost, type HostOptions, type RunOutcome } from '../trainer/host.ts';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.ts';
import { version } from '../util/version.ts';
import { BlobCache, putBlob } from './blobs.ts';
import { connection, connectChecked } from './connect.ts';
import { KEYS, QUEUE, REMOTE_PROTOCOL, type RemoteJob, type RemoteMessage, type RemoteResult, TTL_SECONDS, type WorkerInfo, problemOf, remoteJobSchema } from './protocol.ts';
import type { RedisAddress } from './redis-url.ts';

export interface WorkerOptions {
  redis: RedisAddress;
  name?: string;
  concurrency?: number;
  cacheDir: string;
  host?: HostOptions;
  log?: (line: string) => void;
  /** BullMQ's lock and stall check (ms): a dead worker's run is taken up again after about lockMs + stalledMs. */
  lockMs?: number;
  stalledMs?: number;
  /** How long a trainer waits warm for the next run before it exits (ms, default 60 s; 0: a fresh process per run). */
  warmIdleMs?: number;
}

/** How often buffered events go out, and the cancel key is looked at (ms). */
const FLUSH_MS = 100;
const HEARTBEAT_MS = 2000;

export class RemoteWorker {
  readonly name: string;
  readonly #opts: WorkerOptions;
  readonly #redis: Redis;
  readonly #cache: BlobCache;
  readonly #running = new Map<number, TrainerHost>();
  readonly #pool: WarmPool;
  #worker: Worker | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #backend: string | null = null;
  #device: string | null = null;
  readonly #startedAt = Date.now();
  readonly #said = new Map<string, number>();

  private constructor(opts: WorkerOptions, redis: Redis) {
    this.#opts = opts;
    this.#redis = redis;
    this.name = opts.name ?? `${hostname()}-${process.pid}`;
    this.#cache = new BlobCache(opts.cacheDir);
    this.#pool = new WarmPool(opts.warmIdleMs ?? 60_000);
  }

  /** Connects (a clear error when Redis cannot be reached or refuses the password), registers, starts taking runs. */
  static async start(opts: WorkerOptions): Promise<RemoteWorker> {
    const redis = await connectChecked(opts.redis, 'lora-lab-worker');
    const w = new RemoteWorker(opts, redis);
    w.#worker = new Worker(QUEUE, (job, token) => w.#process(job, token), {
      connection: connection(opts.redis, 'lora-lab-worker-queue'),
      concurrency: opts.concurrency ?? 1,
      lockDuration: opts.lockMs ?? 30_000,
      stalledInterval: opts.stalledMs ?? 30_000,
      // A worker killed mid-run stalls its job: it goes back to the queue, up to 3 times.
      maxStalledCount: 3,
    });
    w.#worker.on('error', (err) => {
      // A run this worker finished after its lock lapsed (its network was away): BullMQ gave it to another worker and refuses this result.
      const lost = /Missing lock for job ([0-9A-Za-z_-]+)/.exec(err.message);
      w.#logOnce(lost ? `job ${lost[1]}: its lock lapsed while this worker was out of reach and another worker took the run; this result is dropped` : `queue: ${err.message}`);
    });
    await w.#beat();
    w.#heartbeat = setInterval(() => void w.#beat().catch(() => {}), HEARTBEAT_MS);
    w.#log(`worker ${w.name} waiting for runs on ${opts.redis.shown} (concurrency ${opts.concurrency ?? 1})`);
    return w;
  }

  async close(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    for (const h of this.#running.values()) h.kill();
    await this.#worker?.close(true);
    await this.#pool.closeAll();
    await this.#redis.hdel(KEYS.workers, this.name).catch(() => {});
    this.#redis.disconnect();
  }

  #log(line: string): void {
    this.#opts.log?.(line);
  }

  /** A line not said in the last half minute: a Redis away for a while is one line, not one per retry. */
  #logOnce(line: string): void {
    const now = Date.now();
    if ((this.#said.get(line) ?? -Infinity) > now - 30_000) return;
    this.#said.set(line, now);
    if (this.#said.size > 100) this.#said.delete(this.#said.keys().next().value as string);
    this.#log(line);
  }

  async #beat(): Promise<void> {
    const info: WorkerInfo = {
      name: this.name,
      protocol: REMOTE_PROTOCOL,
      app: version(),
      host: hostname(),
      pid: process.pid,
      backend: this.#backend,
      device: this.#device,
      concurrency: this.#opts.concurrency ?? 1,
      running: [...this.#running.keys()],
      startedAt: this.#startedAt,
      seenAt: Date.now(),
    };
    await this.#redis.hset(KEYS.workers, this.name, JSON.stringify(info));
  }

  async #process(job: Job, _token?: string): Promise<RemoteResult> {
    const problem = problemOf(remoteJobSchema, job.data);
    if (problem) throw new UnrecoverableError(`worker ${this.name} refused the job: ${problem}`);
    const data = job.data as RemoteJob;
    const schema = loadMigrations().length;
    if (data.protocol !== REMOTE_PROTOCOL || data.schema !== schema) {
      throw new UnrecoverableError(
        `worker ${this.name} (LoRA Lab ${version()}, protocol ${REMOTE_PROTOCOL}, schema ${schema}) cannot take a run from a host with LoRA Lab ${data.app}, protocol ${data.protocol}, schema ${data.schema}: run the same version on both`,
      );
    }
    const attempt = `${this.name.replace(/[^0-9a-zA-Z_.-]/g, '_')}:${job.attemptsStarted ?? 0}:${randomBytes(4).toString('hex')}`;
    const events = new EventSink(this.#redis, data.dispatch, attempt, this.name);
    const result = (outcome: RemoteResult['outcome']): RemoteResult => ({ attempt, worker: this.name, outcome });
    let source: DataSource = MNIST_SOURCE;
    if (data.data.kind === 'blob') {
      // The host's data set, fetched once per content and kept: the trainer checks its samples against the run's hash.
      try {
        source = { kind: 'file', path: await this.#cache.file(this.#redis, data.data.hash), hash: data.data.dataset };
      } catch (err) {
        return result({ status: 'failed', error: `worker ${this.name} could not fetch the run's data set: ${(err as Error).message}`, code: 'data' });
      }
    }
    const train: TrainJob = { runId: String(data.runId), config: data.config, data: source };
    // A warm trainer (it finished a run here and waits for the next) skips process start, the
    // backend's and the data set's loading; one holding this base already skips its weights too.
    // Bases are keyed by their content hash: two hosts' "model 3" are not the same weights.
    const warm = this.#pool.take(data.base?.hash ?? null)?.host ?? null;
    const host = warm ?? new TrainerHost(this.#opts.host ?? {});
    if (data.base) {
      train.baseKey = data.base.hash;
      if (host.baseKey !== data.base.hash) train.baseWeights = readSafetensors(await this.#cache.get(this.#redis, data.base.hash)).tensors;
    }
    this.#running.set(data.runId, host);
    // A warm trainer said `ready` long ago: the host hears it for this run now.
    if (warm?.backend) {
      events.trainer({ type: 'ready', backend: warm.backend, device: warm.device, pid: warm.pid ?? 0 }, () => {});
      void events.flush().catch(() => {});
    }
    const off = host.onMessage((m) => {
      events.trainer(m, (b, d) => ((this.#backend = b), (this.#device = d)));
      if (m.type === 'ready' || m.type === 'evaluation') void events.flush().catch(() => {}); // what the host shows at once; metrics batch
    });
    let cancelled = false;
    const watch = setInterval(() => {
      void events.flush().catch(() => {});
      if (!cancelled)
        void this.#redis.exists(KEYS.cancel(data.dispatch)).then((n) => {
          if (n && !cancelled) {
            cancelled = true;
            host.cancel();
          }
        }, () => {});
    }, FLUSH_MS);
    let outcome: RunOutcome;
    let pid: number | undefined;
    try {
      outcome = await host.run(train);
      pid = host.pid;
    } finally {
      clearInterval(watch);
      off();
      this.#running.delete(data.runId);
      this.#pool.put(host, 0, this.#opts.concurrency ?? 1); // kept warm when it can take another run, else closed
    }
    await events.flush();
    this.#log(`run ${data.runId}: ${outcome.status} (trainer pid ${pid ?? '?'}${warm ? ', warm' : ''})`);
    if (outcome.status === 'completed') {
      const hash = await putBlob(this.#redis, writeSafetensors(outcome.weights.tensors));
      const weights = { kind: outcome.weights.kind, hash, ...(outcome.weights.adapter ? { adapter: outcome.weights.adapter } : {}) };
      return result({ status: 'completed', summary: outcome.summary, backend: outcome.backend, device: outcome.device, weights });
    }
    if (outcome.status === 'cancelled') return result({ status: 'cancelled', step: outcome.step });
    return result({ status: 'failed', error: outcome.error.slice(0, 4000), code: outcome.code });
  }
}

/** What a trainer says, buffered and sent as stream entries (metrics batched into one entry per flush). */
class EventSink {
  readonly #pending: RemoteMessage[] = [];
  #points: Extract<RemoteMessage, { type: 'metrics' }>['points'] = [];
  #sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly dispatch: string,
    private readonly attempt: string,
    private readonly worker: string,
  ) {}

  trainer(m: TrainerMessage, seen: (backend: string, device: string) => void): void {
    switch (m.type) {
      case 'ready':
        seen(m.backend, m.device);
        this.#pending.push({ type: 'ready', backend: m.backend, device: m.device });
        break;
      case 'progress': {
        const { type: _, runId: __, ...p } = m;
        this.#pending.push({ type: 'progress', ...p, loss: Number.isFinite(p.loss) ? p.loss : null });
        break;
      }
      case 'metrics':
        this.#points.push(...m.points);
        break;
      case 'evaluation':
        this.#pending.push({ type: 'evaluation', phase: m.phase, step: m.step, result: { ...m.result, predictions: Buffer.from(m.result.predictions).toString('base64') } });
        break;
      default:
        break;
    }
  }

  /** Sends what is buffered, in order (one pipeline per flush). */
  flush(): Promise<void> {
    this.#sending = this.#sending.then(async () => {
      if (this.#points.length) {
        this.#pending.push({ type: 'metrics', points: this.#points });
        this.#points = [];
      }
      if (!this.#pending.length) return;
      const batch = this.#pending.splice(0);
      const key = KEYS.events(this.dispatch);
      const p = this.redis.pipeline();
      for (const msg of batch) p.xadd(key, '*', 'e', JSON.stringify({ attempt: this.attempt, worker: this.worker, msg }));
      p.expire(key, TTL_SECONDS);
      await p.exec();
    });
    return this.#sending;
  }
}

