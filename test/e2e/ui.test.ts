/**
 * The UI end to end, in a real browser: Debian chromium driven by playwright-core
 * against the web-mode server over a real Lab (temporary database, real trainer
 * processes, tiny runs). One browser page walks the whole story in order: an empty lab,
 * a base run from the form, a LoRA fine-tune of it, a clone with another rank, compare,
 * tag / rename / filter, delete with undo. Screenshots of each page go to
 * test-results/screenshots/ (and, with UPDATE_SCREENSHOTS=1, to docs/screenshots/ for the README).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import type { RunningServer } from '../../src-main/server/server.ts';
import { defaultLora, paramCounts } from '../../src-main/contract/config.ts';
import { trainerMemory } from '../../src-main/contract/memory.ts';
import { fmtBytes } from '../../src-renderer/lib/format.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

let e2e: E2E | undefined;
let lab: Lab | undefined;
let server: RunningServer | undefined;
let page: Page;
let pageErrors: string[] = [];
const ids: Record<'base' | 'lora2' | 'lora8', number> = { base: 0, lora2: 0, lora8: 0 };

function theLab(): Lab {
  if (!lab) throw new Error('the lab did not open');
  return lab;
}

const screenshot = (name: string) => saveScreenshot(page, name);

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

/** The id in a #/runs/ID address, once the page is there. */
async function runIdFromUrl(): Promise<number> {
  await page.waitForURL(/#\/runs\/\d+$/, { timeout: 15_000 });
  return Number(/#\/runs\/(\d+)$/.exec(page.url())?.[1]);
}

async function waitForStatus(status: string, timeout = 90_000): Promise<void> {
  await page.locator(`.page-head [data-status="${status}"]`).waitFor({ timeout });
}

/**
 * Record what the page shows while a run trains, however briefly (a fast machine
 * finishes a tiny run in a second): a MutationObserver sees every DOM change.
 */
async function watchLiveUpdates(): Promise<void> {
  await page.evaluate(() => {
    const seen = { running: false, progress: false, eta: false, chart: false };
    (window as unknown as { seenLive: typeof seen }).seenLive = seen;
    new MutationObserver(() => {
      if (!document.querySelector('.page-head [data-status="running"]')) return;
      seen.running = true;
      if (Number(document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow') ?? 0) > 0) seen.progress = true;
      if (/ETA .*samples\/s/.test(document.querySelector('[data-testid="progress"]')?.textContent ?? '')) seen.eta = true;
      if (document.querySelector('.uplot canvas')) seen.chart = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

type Seen = { running: boolean; progress: boolean; eta: boolean; chart: boolean };

async function seenLive(): Promise<Seen> {
  return page.evaluate(() => (window as unknown as { seenLive: Seen }).seenLive);
}

function row(name: string) {
  return page.locator('table.runs tbody tr', { has: page.getByRole('link', { name, exact: true }) });
}

async function rowMenu(name: string, item: string): Promise<void> {
  await page.getByRole('button', { name: `actions for ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-' });
  ({ lab, server, page, pageErrors } = e2e);
});

afterAll(async () => {
  await e2e?.close();
});

describe('LoRA Lab in a browser', () => {
  it('refuses requests without the token (401), accepts them with it', async () => {
    const origin = server!.origin;
    const call = (headers: Record<string, string> = {}) =>
      fetch(`${origin}/api/listRuns`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"args":[]}' });
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { ok: boolean }).ok).toBe(false);
    expect((await fetch(`${origin}/`)).status).toBe(401);
    expect((await call({ Authorization: 'Bearer not-the-token' })).status).toBe(401);
    expect((await call({ Authorization: `Bearer ${server!.token}` })).status).toBe(200);
  });

  it('opens on an empty Runs page that says what to do, without the token in the address', async () => {
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await page.getByText('No runs yet').waitFor();
    expect(page.url()).not.toContain('token=');
    await page.locator('.conn-open').waitFor();
  });

  it('starts a base run from the New run form and shows live progress, then the results', async () => {
    await page.getByRole('link', { name: 'Train a base model' }).click();
    await page.waitForURL(/#\/new\?kind=base/);
    await page.getByLabel('Layer widths').fill('784, 64, 10');
    // Live count: the MLP's weights and biases.
    const expected = paramCounts({ kind: 'base', sizes: [784, 64, 10], lora: null }).trainable;
    await page.getByTestId('trainable').filter({ hasText: expected.toLocaleString('en-US') }).waitFor();

    // A wrong value is reported next to its field and blocks the start.
    await page.getByLabel('Learning rate').fill('fast');
    await page.getByText('“fast” is not a number').waitFor();
    await page.getByLabel('Learning rate').fill('0.002');
    await expect.poll(() => page.getByText('is not a number').count()).toBe(0);
    // Nothing is estimated from a field it depends on while that field is invalid …
    await page.getByLabel('Batch size').fill('0');
    await page.getByTestId('memory-estimate').filter({ hasText: '—' }).waitFor();
    await page.getByLabel('Batch size').fill('10');
    // … and a valid one shows what its trainer will need (the engine's own estimate).
    const memory = trainerMemory({ kind: 'base', sizes: [784, 64, 10], batchSize: 10, optimizer: 'adam', lora: null }).total;
    await page.getByTestId('memory-estimate').filter({ hasText: `≈ ${fmtBytes(memory)}` }).waitFor();

    await page.getByLabel('Batch size').fill('32');
    await page.getByLabel('Epochs').fill('5');
    await page.getByLabel('Max steps').fill('400');
    await page.getByText('Advanced: data limits and evaluation').click();
    await page.getByLabel('Training images').fill('3000');
    await page.getByLabel('Test images').fill('1000');
    await page.getByLabel('Evaluate every').fill('50');
    await page.getByLabel('Name').fill('e2e base');
    await watchLiveUpdates();
    await page.getByLabel('Name').press('Enter'); // Enter submits and opens the run's page

    ids.base = await runIdFromUrl();
    await waitForStatus('completed');
    await page.getByTestId('run-stats').getByText('Test accuracy').waitFor();
    expect(await page.locator('.uplot canvas').count()).toBeGreaterThanOrEqual(3); // loss, accuracy, per-digit bars
    await page.getByRole('table', { name: 'Confusion matrix' }).waitFor();
    // Live: while it trained, the page showed it running, a moving progress bar with ETA and samples/s, and the loss curve.
    expect(await seenLive()).toEqual({ running: true, progress: true, eta: true, chart: true });
    const run = await theLab().getRun(ids.base);
    expect(run.status).toBe('completed');
    expect(run.config).toMatchObject({ sizes: [784, 64, 10], lr: 0.002, batchSize: 32, maxSteps: 400, trainLimit: 3000, testLimit: 1000 });
  });

  it('fine-tunes it with LoRA from the form; the parameter count follows rank and layers', async () => {
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'New run' }).click();
    await page.getByText('LoRA fine-tune', { exact: true }).click();
    const baseSelect = page.getByLabel('Base model');
    await expect(baseSelect.locator('option:checked').textContent()).resolves.toContain('e2e base');

    const lora = { ...defaultLora([784, 64, 10]), r: 2 };
    const count = (targets: string[]) => paramCounts({ kind: 'lora', sizes: [784, 64, 10], lora: { ...lora, targets } }).trainable.toLocaleString('en-US');
    await page.getByLabel('Rank r').fill('2');
    await page.getByTestId('trainable').filter({ hasText: count(['linear1', 'linear2']) }).waitFor();
    await page.getByRole('checkbox', { name: 'linear2' }).uncheck();
    await page.getByTestId('trainable').filter({ hasText: count(['linear1']) }).waitFor();
    await page.getByRole('checkbox', { name: 'linear2' }).check();
    await page.getByTestId('trainable-percent').filter({ hasText: /% of the base model's 50,890/ }).waitFor();

    await page.getByLabel('Batch size').fill('32');
    await page.getByLabel('Max steps').fill('60');
    await page.getByText('Advanced: data limits and evaluation').click();
    await page.getByLabel('Test images').fill('1000');
    await page.getByLabel('Evaluate every').fill('20');
    await page.getByLabel('Name').fill('e2e lora r2');
    await page.getByLabel('Tags').fill('classic');
    await page.getByLabel('Tags').press('Enter'); // adds the tag, does not submit
    await expect(page.url()).toMatch(/#\/new/);
    await screenshot('new-run');
    await page.getByRole('button', { name: 'Start run' }).click();

    ids.lora2 = await runIdFromUrl();
    await waitForStatus('completed');
    const stats = page.getByTestId('run-stats');
    await stats.getByText('Wrong on 7').waitFor();
    // The gallery sorts the adapter's effect: fixed and introduced errors.
    await page.getByRole('button', { name: /Fixed by adapter/ }).click();
    await page.getByRole('button', { name: /Introduced by adapter/ }).waitFor();
    await page.getByRole('button', { name: /Wrong after/ }).click();
    await page.locator('.tiles canvas').first().waitFor();
    await page.getByRole('group', { name: 'true digit' }).getByRole('button', { name: /^7/ }).click();
    await page.getByRole('group', { name: 'true digit' }).getByRole('button', { name: /^all/ }).click();
    const run = await theLab().getRun(ids.lora2);
    expect(run.kind).toBe('lora');
    expect(run.config.lora).toMatchObject({ r: 2, targets: ['linear1', 'linear2'] });
    expect(run.tags).toEqual(['classic']);
    expect(run.evaluations.before && run.evaluations.after).toBeTruthy();
    await screenshot('run');
  });

  it('clones a run from the table, edits the rank and starts it', async () => {
    await go('#/runs');
    await rowMenu('e2e lora r2', 'Clone and edit');
    await page.waitForURL(/#\/new\?from=\d+/);
    await expect(page.getByLabel('Name').inputValue()).resolves.toBe('e2e lora r2 (copy)');
    await expect(page.getByLabel('Rank r').inputValue()).resolves.toBe('2');
    await page.getByLabel('Rank r').fill('8');
    await page.getByLabel('Alpha α').fill('8');
    await page.getByLabel('Name').fill('e2e lora r8');
    await page.getByLabel('Rank r').press('Enter');
    ids.lora8 = await runIdFromUrl();
    await waitForStatus('completed');
    const run = await theLab().getRun(ids.lora8);
    expect(run.config.lora).toMatchObject({ r: 8, alpha: 8 });
    expect(run.config.maxSteps).toBe(60);
    expect(run.baseModelId).toBe((await theLab().getRun(ids.base)).modelId);
  });

  it('compares the base run and both fine-tunes: differing hyperparameters and charts', async () => {
    await go('#/runs');
    await row('e2e lora r8').waitFor();
    await page.getByLabel('select all runs').check();
    await page.getByRole('link', { name: 'Compare 3' }).click();
    await page.waitForURL(/#\/compare\?ids=/);
    await page.getByRole('heading', { name: 'Compare 3 runs' }).waitFor();

    const params = page.getByRole('table', { name: 'hyperparameters' });
    const rank = params.locator('tr[data-param="lora.r"]');
    await rank.waitFor();
    await expect(rank.locator('td').allTextContents()).resolves.toEqual(expect.arrayContaining(['2', '8']));
    // Only differences by default: shared settings (the optimizer) are hidden until asked for.
    await expect(params.locator('tr[data-param="optimizer"]').count()).resolves.toBe(0);
    await page.getByLabel('Only differences').uncheck();
    await params.locator('tr[data-param="optimizer"]').waitFor();
    await page.getByLabel('Only differences').check();

    const charts = page.locator('.charts .uplot canvas');
    await charts.first().waitFor();
    expect(await charts.count()).toBeGreaterThanOrEqual(2);
    await page.getByRole('group', { name: 'x axis' }).getByRole('button', { name: 'epoch' }).click();
    await page.getByRole('group', { name: 'x axis' }).getByRole('button', { name: 'wall time' }).click();
    await page.getByRole('group', { name: 'x axis' }).getByRole('button', { name: 'step' }).click();
    const smoothing = page.getByRole('slider', { name: 'smoothing' });
    await smoothing.focus();
    for (let i = 0; i < 5; i++) await smoothing.press('ArrowRight'); // the keyboard moves it
    await expect(smoothing.inputValue()).resolves.toBe('0.65');
    await page.getByRole('table', { name: 'metric summary' }).getByText('train/loss').waitFor();
    await page.getByRole('img', { name: /bar chart/ }).waitFor();
    await screenshot('compare');
  });

  it('renames, tags and filters in the Runs table, from the keyboard', async () => {
    await go('#/runs');
    await rowMenu('e2e base', 'Rename…');
    const name = page.getByRole('dialog').getByLabel('Name');
    await name.fill('e2e base MLP');
    await name.press('Enter');
    await row('e2e base MLP').waitFor();

    await rowMenu('e2e lora r8', 'Tags…');
    const tags = page.getByRole('dialog').getByLabel(/Tags of/);
    await tags.fill('rank-sweep');
    await tags.press('Enter'); // adds the tag
    await tags.press('Enter'); // empty input: saves
    await row('e2e lora r8').locator('.chip:visible', { hasText: 'rank-sweep' }).first().waitFor();

    await rowMenu('e2e lora r2', 'Notes…');
    await page.getByRole('dialog').getByLabel(/Notes on/).fill('the classic: rank 2 on digit 7');
    await page.getByRole('dialog').getByLabel(/Notes on/).press('Escape'); // Escape closes without saving
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);

    expect((await theLab().getRun(ids.base)).name).toBe('e2e base MLP');
    expect((await theLab().getRun(ids.lora8)).tags).toEqual(['classic', 'rank-sweep']); // the clone kept its source's tag
    expect((await theLab().getRun(ids.lora2)).notes).toBe('');

    const rows = page.locator('table.runs tbody tr');
    await page.getByLabel('search runs').fill('r8');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('search runs').fill('');
    await page.getByLabel('hyperparameter', { exact: true }).selectOption('lora.r');
    await page.getByLabel('hyperparameter value').fill('2');
    await page.getByLabel('hyperparameter value').press('Enter');
    await expect.poll(() => rows.count()).toBe(1);
    await row('e2e lora r2').waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('kind', { exact: true }).selectOption('base');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => rows.count()).toBe(3);

    // Sort by accuracy, both ways.
    const accuracy = page.getByRole('columnheader', { name: 'Accuracy' });
    await accuracy.getByRole('button').click();
    await expect(accuracy.getAttribute('aria-sort')).resolves.toBe('descending');
    await accuracy.getByRole('button').click();
    await expect(accuracy.getAttribute('aria-sort')).resolves.toBe('ascending');
    await page.getByRole('columnheader', { name: 'Created' }).getByRole('button').click();
    await screenshot('runs');
  });

  it('shows live progress in the Runs table and cancels a run from its page', async () => {
    const base = await theLab().getRun(ids.base);
    const long = await theLab().createRun({ name: 'e2e long', config: { ...base.config, epochs: 500, maxSteps: null, evalEvery: 0 } });
    await go('#/runs');
    const r = row('e2e long');
    await r.locator('[data-status="running"]').waitFor({ timeout: 30_000 });
    const bar = r.getByRole('progressbar');
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 30_000 }).toBeGreaterThan(0);
    await r.getByRole('link', { name: 'e2e long' }).click();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await waitForStatus('cancelled', 30_000);
    expect((await theLab().getRun(long.id)).status).toBe('cancelled');
  });

  it('deletes with confirmation and undo; the delete happens when the undo window closes', async () => {
    await go('#/runs');
    const target = row('e2e lora r8');
    await target.waitFor();
    const rows = page.locator('table.runs tbody tr');
    const count = await rows.count();

    // Escape cancels the confirmation.
    await rowMenu('e2e lora r8', 'Delete…');
    await page.getByRole('dialog', { name: 'Delete this run?' }).waitFor();
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
    await target.waitFor();

    // Confirm, then undo: the row comes back and the run was never deleted.
    await rowMenu('e2e lora r8', 'Delete…');
    await page.getByRole('dialog', { name: 'Delete this run?' }).getByRole('button', { name: 'Delete' }).click();
    await target.waitFor({ state: 'detached' });
    const toast = page.getByTestId('toast').filter({ hasText: 'Deleted' });
    await toast.getByRole('button', { name: 'Undo' }).click();
    await target.waitFor();
    expect((await theLab().listRuns()).map((r) => r.id)).toContain(ids.lora8);

    // Confirm with Enter and let the toast expire: now it is gone for good.
    await rowMenu('e2e lora r8', 'Delete…');
    await page.getByRole('dialog', { name: 'Delete this run?' }).waitFor();
    await page.keyboard.press('Enter');
    await target.waitFor({ state: 'detached' });
    expect((await theLab().listRuns()).map((r) => r.id)).toContain(ids.lora8); // not yet: undo is still possible
    await toast.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(async () => (await theLab().listRuns()).map((r) => r.id), { timeout: 10_000 }).not.toContain(ids.lora8);
    await expect(rows.count()).resolves.toBe(count - 1);
  });

  it('shows the models with where each came from', async () => {
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Models' }).click();
    const models = page.getByRole('table', { name: 'models' });
    await models.getByText('trained by run').waitFor();
    await models.getByRole('link', { name: 'e2e base MLP' }).waitFor();
    await page.getByRole('table', { name: 'adapters' }).getByText('e2e lora r2').first().waitFor();
  });

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
