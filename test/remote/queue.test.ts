/**
 * Setting where runs train from the Workers page (LabApi.setQueue), as the app and
 * `serve` do (real redis-server, a real worker): a wrong password or URL changes
 * nothing; a queue connects, is remembered beside the database (mode 0600, never in
 * it) and runs go to the worker; it cannot change while runs are on it; back to this
 * machine forgets it; a reopened lab trains on the remembered queue, or here with the
 * reason when it cannot be reached.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { queueFileFor } from '../../src-main/remote/settings.ts';
import { REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [784, 16, 10];
const base: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 4, trainLimit: 320, testLimit: 200, evalEvery: 0 };
const long: RunConfig = { ...defaultConfig('lora'), sizes: SIZES, batchSize: 16, maxSteps: 100_000, epochs: 1000, trainLimit: 320, testLimit: 200, evalEvery: 0, classes: [7], lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } };

let redis: TestRedis;
let worker: ChildProcess | null = null;
const tmp = tempDir('lora-lab-queue-');
const dbFile = () => join(tmp.dir, 'lab.db');
const open = () => Lab.open(dbFile(), { queueFile: queueFileFor(dbFile()) });

beforeAll(async () => {
  if (!REDIS_SERVER) return;
  redis = await TestRedis.start();
  worker = await startWorker(redis.url, 'q1', join(tmp.dir, 'cache'));
}, 30_000);

afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await redis?.close();
  tmp.cleanup();
});

describe.skipIf(!REDIS_SERVER)('the queue set from the Workers page', { timeout: 120_000 }, () => {
  it('connects, is remembered beside the database only, sends runs to the worker, and cannot change under a run', async () => {
    const file = queueFileFor(dbFile())!;
    expect(file).toBe(join(tmp.dir, 'lab.queue.json'));
    const l = open();
    try {
      expect(await l.listWorkers()).toEqual({ queue: null, workers: [], problem: null, canRemember: true, remembered: false });
      const plain = `redis://127.0.0.1:${redis.port}`;
      await expect(l.setQueue({ url: plain, password: 'wrong' })).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/password \(or ACL user\) was refused/) });
      await expect(l.setQueue({ url: 'http://127.0.0.1:6379' })).rejects.toMatchObject({ status: 400, message: 'a queue URL is redis:// or rediss://, not http://' });
      expect(existsSync(file)).toBe(false);
      expect((await l.listWorkers()).queue).toBeNull();

      const v = await l.setQueue({ url: plain, password: redis.password });
      expect(v).toMatchObject({ queue: `redis://:***@127.0.0.1:${redis.port}`, problem: null, remembered: true });
      expect(v.workers.map((w) => w.name)).toEqual(['q1']);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ redis: redis.url });

      const b = await l.waitForRun((await l.createRun({ config: base })).id);
      expect(b.status, b.error ?? '').toBe('completed');
      expect(b.device).toMatch(/· worker q1$/);

      const run = await l.createRun({ baseModelId: b.modelId!, config: long });
      await expect(l.setQueue({ url: null })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/^1 run is on the queue at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: wait for it to end, or cancel it/) });
      await l.cancelRun(run.id);
      expect((await l.waitForRun(run.id)).status).toBe('cancelled');

      const local = await l.setQueue({ url: null });
      expect(local).toMatchObject({ queue: null, remembered: false });
      expect(existsSync(file)).toBe(false);
      const here = await l.waitForRun((await l.createRun({ config: { ...base, seed: 2 } })).id);
      expect(here.status, here.error ?? '').toBe('completed');
      expect(here.device).not.toMatch(/worker/);

      // For this session only: not remembered.
      expect(await l.setQueue({ url: redis.url, remember: false })).toMatchObject({ remembered: false });
      expect(existsSync(file)).toBe(false);
      await l.setQueue({ url: redis.url });
    } finally {
      await l.close();
    }
    expect(readFileSync(dbFile()).includes(redis.password)).toBe(false);
  });

  it('a reopened lab trains on the remembered queue, or here with the reason when Redis is away', async () => {
    const again = open();
    try {
      expect(await again.connectRememberedQueue()).toBeNull();
      expect(await again.listWorkers()).toMatchObject({ queue: `redis://:***@127.0.0.1:${redis.port}`, remembered: true });
      const r = await again.waitForRun((await again.createRun({ config: { ...base, seed: 3 } })).id);
      expect(r.device).toMatch(/· worker q1$/);
    } finally {
      await again.close();
    }
    await redis.stop();
    const away = open();
    try {
      const problem = await away.connectRememberedQueue();
      expect(problem).toMatch(/^cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: connection refused .*; runs train on this machine until the queue is set again \(Workers page\)$/);
      expect(await away.listWorkers()).toMatchObject({ queue: null, problem });
      const r = await away.waitForRun((await away.createRun({ config: { ...base, seed: 4 } })).id);
      expect(r.status, r.error ?? '').toBe('completed');
      expect(r.device).not.toMatch(/worker/);
    } finally {
      await away.close();
    }
  });
});
