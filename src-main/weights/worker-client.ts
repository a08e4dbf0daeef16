/**
 * Running a weights job (jobs.ts) on a worker thread, so parsing a large import or
 * computing a merge never blocks the main event loop. A small pool: at most
 * MAX_THREADS threads (each may hold a 1 GB file), started on demand, reused (starting
 * one costs tens of milliseconds, half a second from source), ended after IDLE_MS
 * without work. An idle thread does not keep the process alive. Tensors cross both
 * ways as transferred ArrayBuffers: the sender's arrays are detached.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type JobFailure, type WeightsJob, type WeightsJobResult, buffersOf } from './jobs.ts';

const MAX_THREADS = 2;
const IDLE_MS = 10_000;

export class WeightsJobError extends Error {
  constructor(
    /** The error's kind in the worker (SafetensorsError, MergeError, …), or 'Error'. */
    readonly kind: string,
    message: string,
    readonly notFound: boolean,
  ) {
    super(message);
    this.name = 'WeightsJobError';
  }
}

/** dist/weights-worker.js in a build, worker.ts through tsx from source. */
function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Node 20 does not apply an --import loader to a worker's entry: register tsx inside
    // the thread first, then import the TypeScript entry.
    const tsxRoot = dirname(createRequire(here).resolve('tsx/package.json'));
    const api = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
    const entry = new URL('./worker.ts', here).href;
    const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, execArgv: [] });
  }
  const built = fileURLToPath(new URL('./weights-worker.js', here));
  if (!existsSync(built)) throw new Error(`weights worker not found at ${built}: run npm run build`);
  return new Worker(built, { execArgv: [] });
}

interface Pending {
  job: WeightsJob;
  resolve: (r: WeightsJobResult) => void;
  reject: (e: Error) => void;
}

type Reply = { id: number; ok: true; result: WeightsJobResult } | { id: number; ok: false; error: JobFailure };

class Thread {
  readonly worker = startWorker();
  current: (Pending & { id: number }) | null = null;
  #idle: NodeJS.Timeout | null = null;

  constructor(private readonly pool: Pool) {
    this.worker.on('message', (m: Reply) => {
      const p = this.current;
      if (!p || m.id !== p.id) return;
      this.current = null;
      if (m.ok) p.resolve(m.result);
      else p.reject(new WeightsJobError(m.error.name, m.error.message, m.error.notFound));
      this.pool.idle(this);
    });
    // A thread that dies (an uncaught error, out of memory) fails its job and leaves the pool.
    this.worker.on('error', (err) => this.#lost(`the weights worker failed: ${err.message}`));
    this.worker.on('exit', (code) => this.#lost(`the weights worker stopped without an answer (exit code ${code})`));
  }

  run(p: Pending & { id: number }): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    this.current = p;
    this.worker.ref();
    try {
      this.worker.postMessage({ id: p.id, job: p.job }, buffersOf(p.job));
    } catch (err) {
      // A job that cannot be posted (an untransferable buffer) fails alone.
      this.current = null;
      p.reject(err as Error);
      queueMicrotask(() => this.pool.idle(this));
    }
  }

  rest(): void {
    this.worker.unref();
    this.#idle = setTimeout(() => {
      this.pool.remove(this); // before terminating: no job may be handed to it meanwhile
      void this.worker.terminate();
    }, IDLE_MS);
    this.#idle.unref();
  }

  #lost(message: string): void {
    const p = this.current;
    this.current = null;
    if (this.#idle) clearTimeout(this.#idle);
    this.pool.remove(this);
    p?.reject(new Error(message));
  }
}

class Pool {
  readonly #threads = new Set<Thread>();
  readonly #free: Thread[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;

  submit(p: Pending): void {
    this.#queue.push(p);
    this.#dispatch();
  }

  idle(t: Thread): void {
    this.#free.push(t);
    this.#dispatch();
    if (this.#free.includes(t)) t.rest();
  }

  remove(t: Thread): void {
    this.#threads.delete(t);
    const i = this.#free.indexOf(t);
    if (i >= 0) this.#free.splice(i, 1);
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let t = this.#free.pop();
      if (!t) {
        if (this.#threads.size >= MAX_THREADS) return;
        try {
          t = new Thread(this);
        } catch (err) {
          this.#queue.shift()?.reject(err as Error);
          continue;
        }
        this.#threads.add(t);
      }
      t.run({ ...(this.#queue.shift() as Pending), id: this.#nextId++ });
    }
  }
}

const pool = new Pool();

/**
 * Run `job` on a worker thread. Its tensors are transferred: the caller's arrays are
 * detached and come back in the result (MergeResult's base and adapters). A failure
 * in the job rejects with a WeightsJobError of the worker's error kind.
 */
export function runWeightsJob(job: WeightsJob): Promise<WeightsJobResult> {
  return new Promise((resolve, reject) => pool.submit({ job, resolve, reject }));
}
