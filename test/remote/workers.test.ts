/**
 * Remote workers on a real redis-server (with a password) and real worker processes
 * (`lora-lab worker`): the host (a Lab given the queue) stays the only writer of its
 * database. Runs go through two workers and are all stored; a worker SIGKILLed mid-run
 * has its run taken up by the other, as a new attempt, nothing doubled; a wrong
 * password and an unreachable Redis are one clear line each.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { RemoteError } from '../../src-main/remote/connect.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { lab as cli } from '../helpers/cli.ts';
import { REDIS_SERVER, TestRedis, freePort, startWorker as spawnWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [784, 16, 10];
const base: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 10, trainLimit: 320, testLimit: 200, evalEvery: 0 };
const lora = (seed: number, steps = 8): RunConfig => ({ ...defaultConfig('lora'), sizes: SIZES, seed, batchSize: 16, maxSteps: steps, trainLimit: 320, testLimit: 200, evalEvery: 4, classes: [7], lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } });

let redis: TestRedis;
const workers: ChildProcess[] = [];
const tmp = tempDir('lora-lab-remote-');

async function startWorker(name: string): Promise<ChildProcess> {
  const child = await spawnWorker(redis.url, name, join(tmp.dir, `cache-${name}`));
  workers.push(child);
  return child;
}

beforeAll(async () => {
  if (REDIS_SERVER) redis = await TestRedis.start();
}, 30_000);

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await redis?.close();
  tmp.cleanup();
});

describe.skipIf(!REDIS_SERVER)('remote workers', { timeout: 240_000 }, () => {
  it('trains a base and 6 fine-tunes on two workers: every run stored once, by the host, naming its worker', async () => {
    await Promise.all([startWorker('w1'), startWorker('w2')]);
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const l = Lab.open(join(tmp.dir, 'a.db'), { remote });
    try {
      const b = await l.waitForRun((await l.createRun({ name: 'remote base', config: base })).id);
      expect(b.status, b.error ?? '').toBe('completed');
      expect(b.device).toMatch(/· worker w[12]$/);
      const made = await Promise.all(Array.from({ length: 6 }, (_, i) => l.createRun({ name: `r${i}`, baseModelId: b.modelId!, config: lora(i) })));
      const done = await Promise.all(made.map((r) => l.waitForRun(r.id)));
      for (const r of done) {
        expect(r.status, r.error ?? '').toBe('completed');
        expect(r.adapterId).not.toBeNull();
        expect(r.attempt).toBe(1);
        // Every step's loss once, in order: nothing doubled.
        const loss = (await l.getRun(r.id)).metrics['train/loss']!;
        expect(loss.steps).toEqual(Array.from({ length: 8 }, (_, i) => i + 1));
      }
      const names = new Set(done.map((r) => /worker (w[12])$/.exec(r.device ?? '')?.[1]));
      expect(names).toEqual(new Set(['w1', 'w2']));
      const workersSeen = await remote.workers();
      expect(workersSeen.map((w) => w.name).sort()).toEqual(['w1', 'w2']);
    } finally {
      await l.close();
      await remote.close();
    }
  });

  it('a worker SIGKILLed mid-run: the other takes the run up as attempt 2, the dead attempt’s metrics gone', async () => {
    const remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
    const l = Lab.open(join(tmp.dir, 'a.db'), { remote });
    try {
      // Wide enough that its steps take a while: the kill lands mid-run.
      const big = [784, 1024, 1024, 10];
      const b = await l.waitForRun((await l.createRun({ name: 'wide base', config: { ...base, sizes: big, maxSteps: 2 } })).id);
      expect(b.status, b.error ?? '').toBe('completed');
      const cfg = lora(9, 150);
      const run = await l.createRun({ name: 'killed', baseModelId: b.modelId!, config: { ...cfg, sizes: big, batchSize: 64, epochs: 1000, evalEvery: 0, lora: { ...defaultLora(big), r: 2, alpha: 2 } } });
      // Wait until it trains on some worker, then kill that worker.
      let device = '';
      for (let i = 0; i < 3000 && !/worker w[12]/.test(device); i++) {
        await new Promise((r) => setTimeout(r, 20));
        const r = await l.getRun(run.id);
        expect(r.status).not.toBe('completed');
        if (r.status === 'running' && (r.progress?.step ?? 0) > 2) device = r.device ?? '';
      }
      const victim = /worker (w[12])/.exec(device)?.[1];
      expect(victim, 'the run was seen training on a worker').toBeDefined();
      workers.find((w) => w.spawnargs.includes(victim!))!.kill('SIGKILL');
      const done = await l.waitForRun(run.id);
      expect(done.status, done.error ?? '').toBe('completed');
      expect(done.attempt).toBe(2);
      expect(done.device).not.toContain(`worker ${victim}`);
      const loss = (await l.getRun(run.id)).metrics['train/loss']!;
      // One attempt's points only: had the dead attempt's stayed, its steps would come again.
      expect(loss.steps.length).toBeGreaterThan(2);
      expect(loss.steps).toEqual([...new Set(loss.steps)].sort((a, b) => a - b));
      expect(loss.steps.at(-1)).toBe(150);
    } finally {
      await l.close();
      await remote.close();
    }
  });

  it('a wrong password, an unreachable Redis: one line each, the secret never shown', async () => {
    const wrong = redis.url.replace(redis.password, 'not-the-password');
    await expect(RemoteDispatcher.connect(parseRedisUrl(wrong))).rejects.toThrow(RemoteError);
    await expect(RemoteDispatcher.connect(parseRedisUrl(wrong))).rejects.toThrow(/password \(or ACL user\) was refused/);
    const r = await cli(['worker', '--redis', wrong]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lora-lab: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: the password \(or ACL user\) was refused/);
    expect(r.stderr + r.stdout).not.toContain('not-the-password');
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const n = await cli(['worker', '--redis', nowhere]);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/cannot reach Redis at .*: connection refused/);
  });
});
