/**
 * Setting the queue in the app (web mode, a real browser), as a new user would: the
 * Workers page of a lab that trains here takes a Redis URL and password; a wrong
 * password is said and changes nothing; the right one connects (remembered beside the
 * database), the worker is listed and a run trains on it; "Train on this machine" goes
 * back. The password is never on the page.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { queueFileFor } from '../../src-main/remote/settings.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';
import { REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

let redis: TestRedis;
let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
let worker: ChildProcess | null = null;
const tmp = tempDir('lora-lab-e2e-queue-');

beforeAll(async () => {
  if (!REDIS_SERVER) return;
  redis = await TestRedis.start();
  worker = await startWorker(redis.url, 'gpu-box', join(tmp.dir, 'cache'));
  // The wrong password's 503 is logged by the browser as a failed request: expected here.
  e2e = await startE2E({ prefix: 'lora-lab-e2e-queue-', rememberQueue: true, expectedConsoleError: (t) => /503/.test(t) });
  ({ lab, page, pageErrors } = e2e);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await redis?.close();
  tmp.cleanup();
});

describe.skipIf(!REDIS_SERVER)('setting the queue on the Workers page', { timeout: 120_000 }, () => {
  it('a wrong password is said; the right one connects, a run trains on the worker; back to this machine', async () => {
    const queueFile = queueFileFor(lab.databaseFile)!;
    await page.evaluate(() => (location.hash = '#/workers'));
    await page.getByText('Runs train on this machine').waitFor();
    const form = page.getByRole('form', { name: 'train on remote workers' });
    await form.getByLabel('Redis URL').fill(`redis://127.0.0.1:${redis.port}`);
    await form.getByLabel('Password').fill('not-it');
    await form.getByLabel('Password').press('Enter'); // the keyboard submits
    await page.getByTestId('queue-error').filter({ hasText: /password \(or ACL user\) was refused/ }).waitFor();
    await saveScreenshot(page, 'workers-connect');
    expect(existsSync(queueFile)).toBe(false);
    expect((await lab.listWorkers()).queue).toBeNull();

    await form.getByLabel('Password').fill(redis.password);
    await form.getByRole('button', { name: 'Connect' }).click();
    await page.getByTestId('queue-in-use').filter({ hasText: `redis://:***@127.0.0.1:${redis.port} (remembered for the next start)` }).waitFor();
    await page.getByRole('table', { name: 'workers' }).locator('tr[data-worker="gpu-box"]').waitFor();
    expect(existsSync(queueFile)).toBe(true);
    const base: RunConfig = { ...defaultConfig('base'), sizes: [784, 16, 10], batchSize: 32, maxSteps: 5, trainLimit: 320, testLimit: 200, evalEvery: 0 };
    const run = await lab.waitForRun((await lab.createRun({ name: 'on the box', config: base })).id);
    expect(run.status, run.error ?? '').toBe('completed');
    expect(run.device).toMatch(/· worker gpu-box$/);
    expect((await page.locator('body').textContent()) ?? '').not.toContain(redis.password);
    expect(await page.getByLabel('Password').count()).toBe(0); // the form is gone while a queue is in use
    await saveScreenshot(page, 'workers-queue-set');

    await page.getByRole('button', { name: 'Train on this machine' }).click();
    await page.getByText('Runs train on this machine').waitFor();
    expect(existsSync(queueFile)).toBe(false);
    expect((await lab.listWorkers()).queue).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});
