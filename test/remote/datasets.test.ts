/**
 * Imported data sets on remote workers (real redis-server, a real `lora-lab worker`):
 * a base and fine-tunes on a CSV table train on the worker, one after another in one
 * warm trainer process; the set travels once as a blob (a sweep's runs share it), is
 * cached in the worker's folder, and the runs train exactly as they do on this
 * machine's own trainer. A blob whose bytes another party
 * replaced in Redis fails its run with the reason, nothing stored.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { blobCsv } from '../helpers/datasets.ts';
import { REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [6, 16, 3];
let redis: TestRedis;
let worker: ChildProcess | null = null;
let said = '';
const tmp = tempDir('lora-lab-remote-data-');

const base = (data: number): RunConfig => ({ ...defaultConfig('base'), data, sizes: SIZES, batchSize: 10, maxSteps: 15, lr: 0.01, evalEvery: 0 });
const lora = (data: number, seed: number): RunConfig => ({ ...defaultConfig('lora'), data, sizes: SIZES, seed, batchSize: 10, maxSteps: 10, evalEvery: 0, classes: [0], lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } });

/** The values of the data set files among `bytes` (their header names the format). */
const isDatasetFile = (bytes: Buffer) => bytes.length > 8 && bytes.subarray(8, 200).toString('latin1').includes('"format":"lora-lab-dataset"');

beforeAll(async () => {
  if (!REDIS_SERVER) return;
  redis = await TestRedis.start();
  worker = await startWorker(redis.url, 'dw1', join(tmp.dir, 'cache-dw1'));
  worker.stdout!.on('data', (d: Buffer) => (said += d));
  blobCsv(join(tmp.dir, 'blobs.csv'), 900, 1);
}, 30_000);

afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await redis?.close();
  tmp.cleanup();
});

describe.skipIf(!REDIS_SERVER)('imported data sets on remote workers', { timeout: 180_000 }, () => {
  it('a base and two fine-tunes on a CSV table train on the worker, the set sent once, as they train here', async () => {
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const l = Lab.open(join(tmp.dir, 'remote.db'), { remote });
    const here = Lab.open(join(tmp.dir, 'here.db'));
    const r = new Redis(redis.url);
    try {
      const set = await l.importDataset({ path: join(tmp.dir, 'blobs.csv'), name: 'blobs', testFraction: 0.3, seed: 4 });
      const b = await l.waitForRun((await l.createRun({ config: base(set.id) })).id);
      expect(b.status, b.error ?? '').toBe('completed');
      expect(b.device).toMatch(/· worker dw1$/);
      expect(b.dataset).toMatchObject({ name: 'blobs', classes: ['blue', 'green', 'red'] });
      expect(b.accuracy).toBeGreaterThan(0.5); // chance is 1/3
      const tunes = await Promise.all([1, 2].map(async (seed) => l.waitForRun((await l.createRun({ baseModelId: b.modelId!, config: lora(set.id, seed) })).id)));
      for (const t of tunes) {
        expect(t.status, t.error ?? '').toBe('completed');
        expect(t.device).toMatch(/· worker dw1$/);
      }
      // One trainer process for the three: the fine-tunes took the base's trainer, warm.
      const lines = [...said.matchAll(/^run (\d+): completed \(trainer pid (\d+)(, warm)?\)$/gm)];
      expect(lines.map((m) => [Number(m[1]), m[3] ?? ''])).toEqual([[b.id, ''], ...tunes.map((t) => [t.id, ', warm'])].sort((x, y) => (x[0] as number) - (y[0] as number)));
      expect(new Set(lines.map((m) => m[2])).size).toBe(1);
      // One data set blob in Redis and one file in the worker's cache, for three runs.
      const keys = await r.keys('lora-lab:blob:*');
      const values = await Promise.all(keys.map((k) => r.getBuffer(k)));
      expect(values.filter((v) => v && isDatasetFile(v)).length).toBe(1);
      const cache = join(tmp.dir, 'cache-dw1');
      expect(readdirSync(cache).filter((f) => isDatasetFile(readFileSync(join(cache, f)))).length).toBe(1);

      // The same base on this machine's own trainer: step for step the same losses.
      const setHere = await here.importDataset({ path: join(tmp.dir, 'blobs.csv'), name: 'blobs', testFraction: 0.3, seed: 4 });
      expect(setHere.hash).toBe(set.hash);
      const bh = await here.waitForRun((await here.createRun({ config: base(setHere.id) })).id);
      expect(bh.status, bh.error ?? '').toBe('completed');
      const loss = async (lab: Lab, id: number) => (await lab.getRun(id)).metrics['train/loss']!.values;
      const [remoteLoss, hereLoss] = [await loss(l, b.id), await loss(here, bh.id)];
      expect(remoteLoss).toHaveLength(15);
      for (let i = 0; i < 15; i++) expect(remoteLoss[i]).toBeCloseTo(hereLoss[i]!, 5);
      expect(b.accuracy).toBeCloseTo(bh.accuracy!, 6);
    } finally {
      r.disconnect();
      await here.close();
      await l.close();
      await remote.close();
    }
  });

  it('a data set blob replaced in Redis by other bytes fails its run with the reason, nothing stored', async () => {
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const l = Lab.open(join(tmp.dir, 'tampered.db'), { remote });
    const r = new Redis(redis.url);
    try {
      blobCsv(join(tmp.dir, 'other.csv'), 300, 7);
      const set = await l.importDataset({ path: join(tmp.dir, 'other.csv'), name: 'other', testFraction: 0.3, seed: 1 });
      // Sends the set (and trains once), then every data set blob in Redis is overwritten.
      const first = await l.waitForRun((await l.createRun({ config: base(set.id) })).id);
      expect(first.status, first.error ?? '').toBe('completed');
      for (const k of await r.keys('lora-lab:blob:*')) {
        const v = await r.getBuffer(k);
        if (v && isDatasetFile(v)) await r.set(k, Buffer.concat([v.subarray(0, v.length - 1), Buffer.from([v[v.length - 1]! ^ 1])]));
      }
      // A worker with an empty cache must fetch it: it refuses the bytes by their hash.
      const fresh = await startWorker(redis.url, 'dw2', join(tmp.dir, 'cache-dw2'));
      worker?.kill('SIGKILL');
      try {
        const run = await l.waitForRun((await l.createRun({ config: { ...base(set.id), seed: 3 } })).id);
        expect(run.status).toBe('failed');
        expect(run.error).toMatch(/on worker dw2: worker dw2 could not fetch the run's data set: blob [0-9a-f]{12}… holds other bytes/);
        expect(run.modelId).toBeNull();
      } finally {
        fresh.kill('SIGKILL');
      }
    } finally {
      r.disconnect();
      await l.close();
      await remote.close();
    }
  });
});
