/**
 * A worker that loses its network mid-run and comes back (real redis-server, real
 * `lora-lab worker` processes, the first behind a TCP relay the test cuts): its lock
 * lapses, BullMQ hands the run to the other worker, which finishes it as attempt 2. Back
 * online, the first worker finishes its copy too and its result is refused: the host
 * keeps one result, one attempt's metrics, nothing rewritten.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { CuttableLink, REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const WIDE = [784, 1024, 1024, 10]; // steps that take a while: the cut lands mid-run
const base: RunConfig = { ...defaultConfig('base'), sizes: WIDE, batchSize: 32, maxSteps: 2, trainLimit: 320, testLimit: 200, evalEvery: 0 };
const lora: RunConfig = { ...defaultConfig('lora'), sizes: WIDE, seed: 4, batchSize: 64, maxSteps: 120, epochs: 1000, trainLimit: 320, testLimit: 200, evalEvery: 0, classes: [7], lora: { ...defaultLora(WIDE), r: 2, alpha: 2 } };

const workers: ChildProcess[] = [];
const tmp = tempDir('lora-lab-remote-net-');
let redis: TestRedis | undefined;
let link: CuttableLink | undefined;

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await link?.close();
  await redis?.close();
  tmp.cleanup();
});

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms: number) => {
  for (const end = Date.now() + ms; !(await ok()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!REDIS_SERVER)('a worker that loses its network and comes back', { timeout: 240_000 }, () => {
  it('its run finishes on the other worker; the late result is refused and nothing stored is rewritten', async () => {
    redis = await TestRedis.start();
    link = await CuttableLink.to(redis.port);
    const away = await startWorker(link.url(redis.url), 'away', join(tmp.dir, 'away'));
    workers.push(away);
    let said = '';
    away.stdout!.on('data', (d: Buffer) => (said += d));
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const l = Lab.open(join(tmp.dir, 'lab.db'), { remote });
    try {
      const b = await l.waitForRun((await l.createRun({ config: base })).id);
      expect(b.status, b.error ?? '').toBe('completed');
      const run = await l.createRun({ name: 'cut off', baseModelId: b.modelId!, config: lora });
      await until('the run to train on worker away', async () => {
        const r = await l.getRun(run.id);
        return r.status === 'running' && (r.progress?.step ?? 0) > 2 && /worker away$/.test(r.device ?? '');
      }, 120_000);
      workers.push(await startWorker(redis.url, 'other', join(tmp.dir, 'other')));
      link.cut();

      const done = await l.waitForRun(run.id);
      expect(done.status, done.error ?? '').toBe('completed');
      expect(done.attempt).toBe(2);
      expect(done.device).toMatch(/· worker other$/);
      const stored = await l.getRun(run.id);
      const steps = stored.metrics['train/loss']!.steps;
      expect(steps).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));

      // Back online: its trainer went on all along; its result is refused by BullMQ (the lock is another's).
      link.restore();
      await until('worker away to say its result is dropped', () => /this result is dropped/.test(said), 180_000);
      expect(said).toMatch(/^job run-\d+-[0-9a-f-]+: its lock lapsed while this worker was out of reach and another worker took the run; this result is dropped$/m);
      expect(said.match(/this result is dropped/g)).toHaveLength(1);
      const after = await l.getRun(run.id);
      expect(after.status).toBe('completed');
      expect(after.attempt).toBe(2);
      expect(after.device).toBe(done.device);
      expect(after.adapterId).toBe(done.adapterId);
      expect(after.metrics['train/loss']).toEqual(stored.metrics['train/loss']);
      expect((await l.listRuns()).filter((r) => r.name === 'cut off')).toHaveLength(1);
    } finally {
      await l.close();
      await remote.close();
    }
  });
});
