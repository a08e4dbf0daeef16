/**
 * Remote workers when things go wrong, on a real redis-server: a hostile or broken
 * worker (here a BullMQ worker in the test, sending what a real one never would) fails
 * its own run with the reason and nothing of its reaches the database, while the host
 * goes on; a worker of another protocol refuses the job naming both; a cancelled run
 * stops on its worker; Redis killed and restarted mid-sweep (with its append-only file,
 * as a production Redis keeps its data) and the sweep still completes.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { putBlob } from '../../src-main/remote/blobs.ts';
import { connection, connectChecked } from '../../src-main/remote/connect.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { KEYS, QUEUE, type RemoteJob } from '../../src-main/remote/protocol.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [784, 16, 10];
const base = (steps = 10): RunConfig => ({ ...defaultConfig('base'), sizes: SIZES, batchSize: 32, epochs: 1000, maxSteps: steps, trainLimit: 320, testLimit: 200, evalEvery: 0 });
const tmp = tempDir('lora-lab-remote-faults-');
const workers: ChildProcess[] = [];

afterAll(() => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  tmp.cleanup();
});

type Behaviour = (job: RemoteJob, send: (entry: unknown) => Promise<void>) => Promise<unknown>;

describe.skipIf(!REDIS_SERVER)('a hostile worker, another protocol, a cancel', { timeout: 180_000 }, () => {
  let redis: TestRedis;
  let remote: RemoteDispatcher;
  let lab: Lab;
  beforeAll(async () => {
    redis = await TestRedis.start();
    remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    lab = Lab.open(join(tmp.dir, 'hostile.db'), { remote });
  });
  afterAll(async () => {
    await lab?.close();
    await remote?.close();
    await redis?.close();
  });

  /** Runs one job through a worker that behaves as told, and returns the stored run. */
  async function through(name: string, behave: Behaviour) {
    const addr = parseRedisUrl(redis.url);
    const side = await connectChecked(addr, 'test-hostile');
    const w = new Worker(
      QUEUE,
      async (job) => behave(job.data as RemoteJob, async (entry) => void (await side.xadd(KEYS.events((job.data as RemoteJob).dispatch), '*', 'e', typeof entry === 'string' ? entry : JSON.stringify(entry)))),
      { connection: connection(addr, 'test-hostile-queue') },
    );
    try {
      const run = await lab.createRun({ name, config: base() });
      return await lab.waitForRun(run.id);
    } finally {
      await w.close();
      side.disconnect();
    }
  }
  const ok = (attempt: string) => ({ attempt, worker: 'evil', msg: { type: 'ready', backend: 'wasm', device: 'cpu' } });

  it('refuses a metric key that is not a metric name, an evaluation of the wrong classes, a non-JSON entry: that run fails, nothing of it stored', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['bad key', { attempt: 'a1', worker: 'evil', msg: { type: 'metrics', points: [{ key: "train/loss'); DROP TABLE runs;--", step: 1, value: 1, time: 1 }] } }, /malformed message: msg\.points\.0\.key/],
      ['bad evaluation', { attempt: 'a1', worker: 'evil', msg: { type: 'evaluation', phase: 'after', step: 1, result: { accuracy: 0.5, loss: 1, total: 4, correct: 2, wrongPerClass: [1, 1, 0], countPerClass: [2, 1, 1], confusion: [[1, 1, 0], [0, 0, 1], [0, 0, 1]], predictions: 'AAEC' } } }, /evaluation at step 1: counts for 3 classes, the run's data set has 10/],
      ['not json', '{"attempt":', /an event that is not JSON/],
    ];
    for (const [name, entry, why] of cases) {
      const run = await through(name, async (_job, send) => {
        await send(ok('a1'));
        await send(entry);
        await new Promise((r) => setTimeout(r, 1500));
        return { attempt: 'a1', worker: 'evil', outcome: { status: 'cancelled', step: 0 } };
      });
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(why);
      const detail = await lab.getRun(run.id);
      expect(Object.keys(detail.metrics)).toEqual([]);
      expect(detail.evaluations).toEqual({});
    }
  });

  it('refuses weights that are not the run’s model, and a result of the wrong shape: nothing stored', async () => {
    const wrong = await through('wrong weights', async (_job, send) => {
      await send(ok('a2'));
      const side = await connectChecked(parseRedisUrl(redis.url), 'test-blob');
      const hash = await putBlob(side, writeSafetensors({ 'linear1.weight': { shape: [2, 2], data: new Float32Array(4) } }));
      side.disconnect();
      const summary = { steps: 1, epochs: 1, examples: 1, stepsPerEpoch: 1, finalLoss: 1, wallSeconds: 1, samplesPerSec: 1, trainableParams: 4, totalParams: 4, baseParams: 4, percentTrainable: 100, backend: 'wasm' };
      return { attempt: 'a2', worker: 'evil', outcome: { status: 'completed', summary, backend: 'wasm', device: 'cpu', weights: { kind: 'model', hash } } };
    });
    expect(wrong.status).toBe('failed');
    expect(wrong.error).toMatch(/the weights from worker evil were refused: tensors linear1\.weight, not the model's linear1\.weight, linear1\.bias, linear2\.weight, linear2\.bias/);
    expect(wrong.modelId).toBeNull();
    const shape = await through('odd result', async () => ({ attempt: 'a3', worker: 'evil', outcome: { status: 'completed', extra: 1 } }));
    expect(shape.status).toBe('failed');
    expect(shape.error).toMatch(/the worker's result is malformed/);
    expect((await lab.listModels()).length).toBe(0);
  });

  it('a real worker then trains as ever; a job of another protocol is refused with both versions; a cancelled run stops on its worker', async () => {
    workers.push(await startWorker(redis.url, 'good', join(tmp.dir, 'good')));
    const fine = await lab.waitForRun((await lab.createRun({ name: 'fine', config: base() })).id);
    expect(fine.status, fine.error ?? '').toBe('completed');

    const addr = parseRedisUrl(redis.url);
    const queue = new Queue(QUEUE, { connection: connection(addr, 'test-old-host') });
    const job = await queue.add('run', { protocol: 999, schema: 1, app: '0.0.1', runId: 99, dispatch: 'old-host-dispatch-1', config: base(), data: { kind: 'mnist' }, base: null });
    for (let i = 0; i < 100 && (await job.getState()) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 100));
    const failedJob = await queue.getJob(job.id!);
    expect(failedJob?.failedReason).toMatch(/cannot take a run from a host with LoRA Lab 0\.0\.1, protocol 999, schema 1: run the same version on both/);
    await queue.close();

    const long = await lab.createRun({ name: 'cancel me', config: base(100_000) });
    for (let i = 0; i < 300 && (await lab.getRun(long.id)).status !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));
    await lab.cancelRun(long.id);
    const stopped = await lab.waitForRun(long.id);
    expect(stopped.status).toBe('cancelled');
    // The worker says it is idle again.
    for (let i = 0; i < 50 && (await remote.workers()).find((w) => w.name === 'good')?.running.length; i++) await new Promise((r) => setTimeout(r, 200));
    expect((await remote.workers()).find((w) => w.name === 'good')?.running).toEqual([]);
  });
});

describe.skipIf(!REDIS_SERVER)('Redis restarted mid-sweep', { timeout: 240_000 }, () => {
  it('host and workers reconnect on their own, and every run completes once', async () => {
    const redis = await TestRedis.start({ persist: true });
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const lab = Lab.open(join(tmp.dir, 'restart.db'), { remote });
    try {
      workers.push(await startWorker(redis.url, 'r1', join(tmp.dir, 'r1')), await startWorker(redis.url, 'r2', join(tmp.dir, 'r2')));
      const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => lab.createRun({ name: `p${i}`, config: { ...base(300), seed: i } })));
      // Once the first has finished, Redis goes down for a second and comes back.
      for (let i = 0; i < 600 && (await lab.getRun(runs[0]!.id)).status !== 'completed'; i++) await new Promise((r) => setTimeout(r, 100));
      await redis.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await redis.restart();
      const done = await Promise.all(runs.map((r) => lab.waitForRun(r.id)));
      for (const r of done) {
        expect(r.status, r.error ?? '').toBe('completed');
        const loss = (await lab.getRun(r.id)).metrics['train/loss']!;
        expect(loss.steps).toEqual([...new Set(loss.steps)].sort((a, b) => a - b));
      }
    } finally {
      await lab.close();
      await remote.close();
      await redis.close();
    }
  });
});
