/**
 * Sweeps in a real browser (issue 14, the Sweep page): a sweep set up through the New
 * sweep form (a value the config refuses comes back as the Lab's message in the form;
 * the count of runs follows the axes and seeds), watched to completion on its page,
 * which shows one parallel-coordinates line per completed run; brushing an axis shrinks
 * the points table and clearing brings it back; importance has a row per swept path;
 * the best point's "New run from this point" opens the New run form with that point's
 * config. The list page shows the sweep, and the bell's browser notification tells that
 * it ended. A tiny base is trained in the setup through the API.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
let modelId = 0;
let sweepId = 0;

const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);
const groupRows = () => page.getByRole('table', { name: 'points' }).locator('tr[data-group]');

beforeAll(async () => {
  // Chromium logs the refused createSweep (400) provoked below as a console error.
  e2e = await startE2E({ prefix: 'lora-lab-e2e-sweep-page-', concurrency: 2, expectedConsoleError: (t) => /status of 400/.test(t) });
  ({ lab, page, pageErrors } = e2e);
  const base = await lab.waitForRun((await lab.createRun({ name: 'sp base', config: { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 20, trainLimit: 500, testLimit: 300, evalEvery: 0 } })).id);
  expect(base.status).toBe('completed');
  modelId = base.modelId!;
  // The browser's own notifications, counted: granted for this origin, each one made recorded.
  await page.context().grantPermissions(['notifications'], { origin: new URL(e2e.server.url).origin });
  await page.addInitScript(() => {
    const w = window as unknown as { notices: string[]; Notification: typeof Notification };
    w.notices = [];
    const Real = w.Notification;
    w.Notification = class extends Real {
      constructor(title: string, opts?: NotificationOptions) {
        super(title, opts);
        w.notices.push(title);
      }
    };
  });
  await page.reload();
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

describe('the New sweep form', () => {
  it('shows the Lab’s refusal of a value the config would refuse, then creates the sweep and opens its page', async () => {
    const bell = page.getByRole('button', { name: 'notify when a sweep or a long run ends' });
    await bell.click();
    await expect.poll(() => bell.getAttribute('aria-pressed')).toBe('true');

    await go(`#/sweeps/new?base=${modelId}`);
    await page.getByRole('heading', { name: 'New sweep' }).waitFor();
    await expect(page.getByLabel('Base model').inputValue()).resolves.toBe(String(modelId));
    await page.getByLabel('Max steps').fill('10');
    await page.getByLabel('Training images').fill('500');
    await page.getByLabel('Test images').fill('300');
    await page.getByLabel('Evaluate every').fill('0');
    await page.getByLabel('Train on classes').fill('7');
    await page.getByLabel('Seeds per point').fill('2');
    await page.getByLabel('Name').fill('sp grid');

    await page.getByRole('button', { name: 'Add axis' }).click();
    await page.locator('#ax-0-path').selectOption('lora.r');
    await page.locator('#ax-0-values').fill('1, 5000');
    await expect(page.getByTestId('run-count').textContent()).resolves.toBe('2 points × 2 seeds = 4 runs');
    await page.getByRole('button', { name: /^Create sweep/ }).click();
    const error = page.getByTestId('sweep-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/lora\.r=5000/);
    expect(await lab.listSweeps()).toHaveLength(0);

    await page.locator('#ax-0-values').fill('1, 4');
    // The refusal was of the spec as it was: the edit clears it.
    await error.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Add axis' }).click();
    await page.locator('#ax-1-path').selectOption('lr');
    await page.locator('#ax-1-values').fill('0.001, 0.01');
    await expect(page.getByTestId('run-count').textContent()).resolves.toBe('4 points × 2 seeds = 8 runs');
    await saveScreenshot(page, 'new-sweep');
    await page.getByRole('button', { name: /^Create sweep/ }).click();
    await page.waitForURL(/#\/sweeps\/\d+$/);
    sweepId = Number(/#\/sweeps\/(\d+)$/.exec(page.url())![1]);
    const sweeps = await lab.listSweeps();
    expect(sweeps.map((s) => s.id)).toEqual([sweepId]);
    expect(sweeps[0]).toMatchObject({ name: 'sp grid', points: 4, seeds: 2, paths: ['lora.r', 'lr'] });
    expect(sweeps[0]!.counts.total).toBe(8);
  }, 60_000);
});

describe('the Sweep page', () => {
  it('follows the sweep to completion: every run in the grid, one line per completed run', async () => {
    await page.getByRole('heading', { name: 'sp grid' }).waitFor();
    await page.locator('.page-head [data-status="completed"]').waitFor({ timeout: 150_000 });
    const done = await lab.getSweep(sweepId);
    expect(done.counts.completed).toBe(8);
    await expect.poll(() => page.locator('polyline.line').count()).toBe(8);
    await expect.poll(() => page.locator('[aria-label="runs by point and seed"] [data-state="completed"]').count()).toBe(8);
    // Each cell links to its run.
    const hrefs = await page.locator('[aria-label="runs by point and seed"] a.cell').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const runIds = done.pointList.flatMap((p) => p.runs.map((r) => r.runId));
    expect(hrefs.sort()).toEqual(runIds.map((id) => `#/runs/${id}`).sort());
    await expect.poll(() => groupRows().count()).toBe(4);
  }, 160_000);

  it('brushing an axis shrinks the points table; clearing brings every point back', async () => {
    const hit = page.locator('[data-axis="lr"] rect.hit');
    const box = (await hit.boundingBox())!;
    const x = box.x + box.width / 2;
    // lr spans exactly a decade (0.001 … 0.01): linear, 0.001 at the bottom. Brush the lower third.
    await page.mouse.move(x, box.y + box.height - 2);
    await page.mouse.down();
    await page.mouse.move(x, box.y + box.height * 0.66, { steps: 6 });
    await page.mouse.up();
    await expect.poll(() => groupRows().count()).toBe(2);
    const kept = await groupRows().evaluateAll((trs) => trs.map((tr) => JSON.parse(tr.getAttribute('data-group') ?? 'null')));
    expect(kept.every((k: unknown) => JSON.stringify(k).includes('0.001'))).toBe(true);
    await expect(page.getByTestId('pc-count').textContent()).resolves.toMatch(/^4 of 8 completed runs/);
    await page.getByRole('button', { name: 'Clear brush' }).click();
    await expect.poll(() => groupRows().count()).toBe(4);
  });

  it('shows importance per swept path with n, the objective picker, and the best point', async () => {
    const imp = page.getByRole('table', { name: 'importance' });
    await expect(imp.locator('tr[data-path]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-path')).sort())).resolves.toEqual(['lora.r', 'lr']);
    await expect(imp.locator('tr[data-path="lr"] td.num').textContent()).resolves.toBe('8');
    const detail = await lab.getSweep(sweepId);
    expect(detail.objective.figure).toBe('focusWrong');
    await expect(page.getByLabel('objective').inputValue()).resolves.toBe('focusWrong');
    expect(detail.best).not.toBeNull();
    await saveScreenshot(page, 'sweep-page');
    // Another objective: the page asks the Lab again; lines stay one per run.
    await page.getByLabel('objective').selectOption('accuracy');
    await expect.poll(() => page.getByTestId('best-point').textContent()).toMatch(/test accuracy/);
    await expect.poll(() => page.locator('polyline.line').count()).toBe(8);
    await page.getByLabel('objective').selectOption('focusWrong');
    await expect.poll(() => page.getByTestId('best-point').textContent()).toMatch(/wrong on the focus classes/);
  });

  it('“New run from this point” opens the New run form with the best point’s config', async () => {
    const best = (await lab.getSweep(sweepId)).best!;
    const link = page.getByRole('link', { name: 'New run from this point' });
    await expect(link.getAttribute('href')).resolves.toBe(`#/new?from=${best.runIds[0]}`);
    await expect(page.getByRole('link', { name: /^Compare best vs / }).getAttribute('href')).resolves.toMatch(/^#\/compare\?groups=[\d,]+;[\d,]+$/);
    await link.click();
    await page.getByRole('heading', { name: 'New run' }).waitFor();
    await expect(page.locator('#f-lora\\.r').inputValue()).resolves.toBe(String(best.params['lora.r']));
    await expect(page.locator('#f-lr').inputValue()).resolves.toBe(String(best.params['lr']));
    await expect(page.locator('#f-maxSteps').inputValue()).resolves.toBe('10');
  });

  it('lists the sweep, completed, with its progress and best point; the bell told that it ended', async () => {
    await go('#/sweeps');
    const row = page.locator(`tr[data-sweep="${sweepId}"]`);
    await row.waitFor();
    await expect(row.locator('[data-status]').getAttribute('data-status')).resolves.toBe('completed');
    await expect(row.getByRole('progressbar', { name: 'sweep progress' }).getAttribute('aria-valuenow')).resolves.toBe('8');
    await expect.poll(() => row.getByTestId('best').textContent()).toMatch(/n=2/);
    const notices = await page.evaluate(() => (window as unknown as { notices: string[] }).notices);
    expect(notices).toEqual(['Sweep “sp grid” completed']);
    expect(pageErrors).toEqual([]);
  });
});
