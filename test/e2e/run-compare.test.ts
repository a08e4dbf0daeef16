/**
 * The Run and Compare pages while data is on its way, in a real browser (issue 12,
 * items 6, 7 and 9): a run watched to completion never shows a false "No evaluation"
 * or a meaningless "0 / 0"; a cancelled run says how many steps it did; a long base
 * run compared with a short fine-tune is drawn with x as % of each run, and the summary
 * gives the focus digits' wrong count before → after. Tiny runs, made through the API.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { type E2E, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];

let e2e: E2E | undefined;
let lab: Lab | undefined;
let page: Page;
let pageErrors: string[] = [];
const ids = { base: 0, model: 0, lora: 0, cancelled: 0 };

function theLab(): Lab {
  if (!lab) throw new Error('the lab did not open');
  return lab;
}

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

const baseConfig = (maxSteps: number | null): RunConfig => ({
  ...defaultConfig('base'),
  sizes: SIZES,
  batchSize: 16,
  maxSteps,
  trainLimit: 3000,
  testLimit: 500,
  evalEvery: 100,
  evalSubset: 200,
});

/**
 * Record every text the page shows, however briefly, from now on: a MutationObserver
 * sees each DOM change (the false state lasted under a second).
 */
async function watchTexts(): Promise<void> {
  await page.evaluate(() => {
    const seen = { noEvaluation: false, zeroOfZero: false, phase: false, running: false };
    (window as unknown as { seenTexts: typeof seen }).seenTexts = seen;
    new MutationObserver(() => {
      const text = document.querySelector('main')?.textContent ?? document.body.textContent ?? '';
      if (text.includes('No evaluation')) seen.noEvaluation = true;
      if (/\b0 \/ 0\b/.test(text)) seen.zeroOfZero = true;
      if (/Loading data…|Evaluating before training…|Evaluating on the test set/.test(text)) seen.phase = true;
      if (document.querySelector('.page-head [data-status="running"]')) seen.running = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

async function seenTexts(): Promise<{ noEvaluation: boolean; zeroOfZero: boolean; phase: boolean; running: boolean }> {
  return page.evaluate(() => (window as unknown as { seenTexts: { noEvaluation: boolean; zeroOfZero: boolean; phase: boolean; running: boolean } }).seenTexts);
}

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-runcmp-' });
  ({ lab, page, pageErrors } = e2e);
});

afterAll(async () => {
  await e2e?.close();
});

describe('Run and Compare pages while data loads', () => {
  it('a run watched through its completion never shows "No evaluation" or "0 / 0"', async () => {
    const l = theLab();
    await page.getByRole('navigation', { name: 'main' }).waitFor();
    await watchTexts();
    const run = await l.createRun({ name: 'rc base', config: baseConfig(null) });
    ids.base = run.id;
    await go(`#/runs/${run.id}`); // open while the trainer starts: loading data, training, the final evaluation
    await page.locator('.page-head [data-status="completed"]').waitFor({ timeout: 90_000 });
    ids.model = (await l.waitForRun(run.id)).modelId as number; // the next tests need it whatever this one finds
    await page.getByTestId('run-stats').getByText('Test accuracy').waitFor();
    await page.getByRole('table', { name: 'Confusion matrix' }).waitFor();
    const seen = await seenTexts();
    expect(seen.running).toBe(true); // the page did watch it train
    expect(seen.noEvaluation).toBe(false);
    expect(seen.zeroOfZero).toBe(false);
    expect(ids.model).toBeGreaterThan(0);
  });

  it('a fine-tune watched from its start names its phases and never shows "0 / 0" or "No evaluation"', async () => {
    const l = theLab();
    await watchTexts();
    const run = await l.createRun({
      name: 'rc lora on 7',
      baseModelId: ids.model,
      config: { ...defaultConfig('lora'), sizes: SIZES, classes: [7], batchSize: 16, maxSteps: 12, trainLimit: 400, testLimit: 500, evalEvery: 0, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } },
    });
    ids.lora = run.id;
    await go(`#/runs/${run.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor({ timeout: 90_000 });
    await page.getByTestId('run-stats').getByText('Wrong on 7').waitFor();
    const seen = await seenTexts();
    expect(seen.noEvaluation).toBe(false);
    expect(seen.zeroOfZero).toBe(false);
  });

  it('a cancelled run shows how many steps it did, on its page and in the runs table', async () => {
    const l = theLab();
    const run = await l.createRun({ name: 'rc cancelled', config: { ...baseConfig(20_000), trainLimit: null, evalEvery: 0 } });
    ids.cancelled = run.id;
    // Let it train some steps, then cancel.
    for (let i = 0; i < 600; i++) {
      const p = (await l.getRun(run.id)).progress;
      if (p?.phase === 'training' && p.step >= 20) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await l.cancelRun(run.id);
    const done = await l.waitForRun(run.id);
    expect(done.status).toBe('cancelled');
    const detail = await l.getRun(run.id);
    const loss = detail.metrics['train/loss'];
    const last = loss?.steps.at(-1) ?? 0;
    expect(last).toBeGreaterThanOrEqual(20);
    // The run manager kept how far it got: exactly the last step trained.
    expect(detail.progress?.step).toBe(last);

    await go(`#/runs/${run.id}`);
    await page.locator('.page-head [data-status="cancelled"]').waitFor();
    const steps = page.getByTestId('steps-done');
    await steps.waitFor();
    const planned = (detail.progress?.totalSteps ?? 0).toLocaleString('en-US'); // its 60,000 images in batches of 16
    expect(await steps.textContent()).toBe(`${last.toLocaleString('en-US')} of ${planned} planned`);

    await go('#/runs');
    const row = page.locator('table.runs tbody tr', { has: page.getByRole('link', { name: 'rc cancelled', exact: true }) });
    await row.getByText(`${last.toLocaleString('en-US')} of ${planned}`, { exact: true }).waitFor();
  });

  it('compares a long base run with a short fine-tune on x as % of each run, with focus wrong counts', async () => {
    await go(`#/compare?ids=${ids.base},${ids.lora}`);
    await page.getByRole('heading', { name: 'Compare 2 runs' }).waitFor();
    // 188 steps (3,000 images in batches of 16) beside 12: a shared step axis squashes the fine-tune into 6% of the chart.
    const baseSteps = (await theLab().getRun(ids.base)).summary?.steps;
    expect(baseSteps).toBe(188);
    const share = page.getByRole('group', { name: 'x axis' }).getByRole('button', { name: '% of run' });
    await expect(share.getAttribute('aria-pressed')).resolves.toBe('true');
    await expect(page.getByTestId('x-axis-note').textContent()).resolves.toMatch(/12 to 188 steps/);
    await page.getByRole('group', { name: 'x axis' }).getByRole('button', { name: 'step', exact: true }).click();
    await expect(share.getAttribute('aria-pressed')).resolves.toBe('false');
    await expect(page.getByTestId('x-axis-note').count()).resolves.toBe(0);

    const lora = await theLab().getRun(ids.lora);
    const wrong7 = (e: { wrongPerClass: number[] } | undefined) => e?.wrongPerClass[7];
    const focusRow = page.getByTestId('focus-wrong');
    const cells = await focusRow.locator('td.num').allTextContents();
    expect(cells).toHaveLength(2);
    expect(cells[0]?.trim()).toBe('—'); // the base run trained on every digit
    const count7 = lora.evaluations.after?.countPerClass[7];
    expect(cells[1]?.replace(/\s+/g, ' ').trim()).toBe(`${wrong7(lora.evaluations.before)} → ${wrong7(lora.evaluations.after)} of ${count7} · digit 7`);
    await expect(page.getByTestId('other-accuracy').locator('td.num').nth(1).textContent()).resolves.toMatch(/%.*→.*% of 4\d\d/);
    expect(pageErrors).toEqual([]);
  });
});
