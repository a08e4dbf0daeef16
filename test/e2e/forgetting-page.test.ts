/**
 * The Learning-against-forgetting page in a real browser over a real Lab: a tiny base
 * (784→16→10), then on digit 7 two LoRA runs (r = 1 and 4) and a full fine-tune, each
 * with quick evaluations on the way. The page's table shows per run the learned and
 * forgotten figures `lab.forgetting` computes (as the page formats them), the scatter a
 * point per run, the Pareto front as a line and, while "show trajectories" is checked,
 * a trajectory per run from the base through its quick evaluations to its end; the page
 * is also reached from the Runs page's selection. Runs are made through the API; what
 * is tested is clicked.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { fmtDiff } from '../../src-renderer/lib/group-format.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];
/** What every fine-tune shares: digit 7, 20 steps (two epochs of 10), quick evaluations every 5 steps on 100 test samples. */
const SLICE = { sizes: SIZES, classes: [7], batchSize: 32, epochs: 2, maxSteps: 20, trainLimit: 320, testLimit: 200, evalEvery: 5, evalSubset: 100, lr: 0.01 };

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
/** The fine-tunes, by id ascending, with their names. */
let runs: { id: number; name: string }[] = [];

const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);
const scatter = () => page.locator('figure.forgetting-scatter');
const table = () => page.getByRole('table', { name: 'runs' });
const pp = (frac: number) => fmtDiff(frac, 'fraction');

function loraConfig(r: number): RunConfig {
  return { ...defaultConfig('lora'), ...SLICE, lora: { ...defaultLora(SIZES), r, alpha: r, targets: ['linear1', 'linear2'] } };
}

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-forgetting-', concurrency: 2 });
  ({ lab, page, pageErrors } = e2e);
  const baseCfg: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 30, trainLimit: 640, testLimit: 200, evalEvery: 0 };
  const base = await lab.waitForRun((await lab.createRun({ name: 'forgetting base', config: baseCfg })).id);
  expect(base.status, base.error ?? '').toBe('completed');
  const made = await Promise.all([
    lab.createRun({ name: 'lora r1 on 7', baseModelId: base.modelId!, config: loraConfig(1) }),
    lab.createRun({ name: 'lora r4 on 7', baseModelId: base.modelId!, config: loraConfig(4) }),
    lab.createRun({ name: 'full on 7', baseModelId: base.modelId!, config: { ...defaultConfig('full'), ...SLICE } }),
  ]);
  const done = await Promise.all(made.map((r) => lab.waitForRun(r.id)));
  for (const r of done) expect(r.status, `${r.name}: ${r.error ?? ''}`).toBe('completed');
  runs = done.map((r) => ({ id: r.id, name: r.name })).sort((a, b) => a.id - b.id);
}, 240_000);

afterAll(async () => {
  await e2e?.close();
});

describe('the Learning-against-forgetting page', { timeout: 180_000 }, () => {
  it('shows per run the figures the Lab computes, a point per run, the front and the trajectories', async () => {
    const runIds = runs.map((r) => r.id);
    await go(`#/forgetting?ids=${runIds.join(',')}`);
    await page.getByRole('heading', { name: 'Learning against forgetting' }).waitFor();
    const api = await lab.forgetting({ runIds });
    expect(api.skipped).toEqual([]);
    expect(api.runs.map((r) => r.runId).sort((a, b) => a - b)).toEqual(runIds);
    expect(api.front.length).toBeGreaterThan(0);

    await table().waitFor();
    await expect(table().locator('tbody tr').count()).resolves.toBe(3);
    for (const r of api.runs) {
      const row = table().locator(`tr[data-run="${r.runId}"]`);
      await expect(row.getByRole('link').textContent()).resolves.toBe(r.name);
      await expect(row.locator('[data-figure="learned"]').textContent()).resolves.toBe(pp(r.learned));
      await expect(row.locator('[data-figure="forgotten"]').textContent()).resolves.toBe(pp(r.forgotten));
      await expect(row.locator('[data-figure="pareto"]').textContent()).resolves.toBe(r.pareto ? 'Pareto' : '');
      // Accuracies with their n.
      await expect(row.locator('[data-figure="focus"]').textContent()).resolves.toMatch(/% → .*% \(n = \d+\)/);
      await expect(row.locator('[data-figure="other"]').textContent()).resolves.toMatch(/% → .*% \(n = \d+\)/);
    }
    await expect(table().locator('tr[data-run] td:nth-child(2)').allTextContents()).resolves.toEqual(
      expect.arrayContaining([expect.stringContaining('full fine-tune'), expect.stringMatching(/LoRA r1/), expect.stringMatching(/LoRA r4/)]),
    );

    // The scatter: one end point per run (its tooltip names it, with n), the front as one line.
    await expect(scatter().locator('g.end').count()).resolves.toBe(3);
    await expect(scatter().locator('polyline.front').count()).resolves.toBe(1);
    for (const r of api.runs) {
      const title = await scatter().locator(`g.end[data-run="${r.runId}"] title`).textContent();
      expect(title).toContain(r.name);
      expect(title).toContain(`learned ${pp(r.learned)}`);
      expect(title).toMatch(/focus n = \d+, other n = \d+/);
    }

    // Trajectories: the base, every quick evaluation, the end.
    await expect(scatter().locator('g.trajectory').count()).resolves.toBe(3);
    for (const r of api.runs) {
      const quick = r.trajectory.filter((p) => p.source === 'quick').length;
      // Steps 5, 10 and 15; the one at 20 is the final evaluation's place.
      expect(r.steps).toBe(20);
      expect(quick).toBe(3);
      expect(r.trajectory.length).toBe(quick + 2);
      await expect(scatter().locator(`g.trajectory[data-run="${r.runId}"] circle`).count()).resolves.toBe(quick + 2);
    }
    await saveScreenshot(page, 'forgetting-page');

    const toggle = page.getByLabel('show trajectories');
    await toggle.uncheck();
    await expect(scatter().locator('g.trajectory').count()).resolves.toBe(0);
    await expect(scatter().locator('g.end').count()).resolves.toBe(3);
    await toggle.check();
    await expect(scatter().locator('g.trajectory').count()).resolves.toBe(3);
  });

  it('is reached from the Runs page with the selected runs', async () => {
    await go('#/runs');
    for (const r of runs) await page.getByLabel(`select ${r.name}`, { exact: true }).check();
    await page.getByRole('region', { name: 'selection' }).getByRole('link', { name: 'Learning vs forgetting' }).click();
    await page.waitForFunction((want) => location.hash === want, `#/forgetting?ids=${runs.map((r) => r.id).join(',')}`);
    await page.getByRole('heading', { name: 'Learning against forgetting' }).waitFor();
    await table().waitFor();
    await expect(table().locator('tbody tr').count()).resolves.toBe(3);
    // The page belongs to the Compare section of the top bar.
    await expect(page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Compare' }).getAttribute('aria-current')).resolves.toBe('page');
    expect(pageErrors).toEqual([]);
  });
});
