/**
 * Remote workers in web mode, as a new user would meet them: redis-server with a
 * password, two `lora-lab worker` processes, the app's lab sending its runs to the
 * queue. The Workers page lists both with what they are doing; a sweep runs on both and
 * every point is stored once; without a queue the page says how to start one.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';
import { REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [784, 16, 10];
let redis: TestRedis;
let remote: RemoteDispatcher;
let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const workers: ChildProcess[] = [];
const tmp = tempDir('lora-lab-e2e-workers-');
const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);

beforeAll(async () => {
  if (!REDIS_SERVER) return;
  redis = await TestRedis.start();
  workers.push(...(await Promise.all(['alpha', 'beta'].map((n) => startWorker(redis.url, n, join(tmp.dir, n))))));
  remote = await RemoteDispatcher.connect(parseRedisUrl(redis.url));
  e2e = await startE2E({ prefix: 'lora-lab-e2e-workers-', remote });
  ({ lab, page, pageErrors } = e2e);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
  await remote?.close();
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await redis?.close();
  tmp.cleanup();
});

describe.skipIf(!REDIS_SERVER)('the Workers page', { timeout: 240_000 }, () => {
  it('lists both workers, where runs are queued (no password shown), and which run each is training', async () => {
    await go('#/workers');
    await page.getByRole('heading', { name: 'Workers' }).waitFor();
    const table = page.getByRole('table', { name: 'workers' });
    await table.locator('tr[data-worker="alpha"]').waitFor();
    await table.locator('tr[data-worker="beta"]').waitFor();
    const text = (await page.locator('section.page').textContent()) ?? '';
    expect(text).toContain(`redis://:***@127.0.0.1:${redis.port}`);
    expect(text).not.toContain(redis.password);
    const base: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 64, epochs: 1000, maxSteps: 1500, trainLimit: 640, testLimit: 200, evalEvery: 0 };
    const run = await lab.createRun({ name: 'long base', config: base });
    await table.getByTestId('worker-running').filter({ hasText: `run ${run.id}` }).waitFor({ timeout: 60_000 });
    const done = await lab.waitForRun(run.id);
    expect(done.status, done.error ?? '').toBe('completed');
    await saveScreenshot(page, 'workers');
    expect(pageErrors).toEqual([]);
  });

  it('a sweep runs on both workers: every point one completed run, the Sweep page says so', async () => {
    const base = (await lab.listRuns({ status: 'completed' }))[0]!;
    const sweep = await lab.createSweep({
      name: 'remote grid',
      start: { kind: 'finetune', baseModelId: base.modelId! },
      overrides: { maxSteps: 30, testLimit: 200, trainLimit: 320, evalEvery: 10, evalSubset: 100 },
      axes: [{ path: 'lora.r', values: [1, 2] }, { path: 'lr', values: [0.001, 0.01] }],
      seeds: 2,
      concurrency: 4,
    });
    const finished = await lab.waitForSweep(sweep.id);
    expect(finished.status).toBe('completed');
    const runs = (await lab.listRuns()).filter((r) => r.sweep?.sweepId === sweep.id);
    expect(runs).toHaveLength(8);
    for (const r of runs) expect(r.status, r.error ?? '').toBe('completed');
    expect(new Set(runs.map((r) => /worker (\w+)$/.exec(r.device ?? '')?.[1]))).toEqual(new Set(['alpha', 'beta']));
    await go(`#/sweeps/${sweep.id}`);
    await page.getByText(/8 of 8/).first().waitFor({ timeout: 30_000 });
    expect(pageErrors).toEqual([]);
  });
});
