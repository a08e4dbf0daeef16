/**
 * Issue 15, in a real browser over a real Lab: the New run form's Variant, Initialisation
 * and "Freeze A (LoRA-FA)" controls, by their labels and the keyboard. Picking DoRA +
 * PiSSA + freeze A moves the live trainable count as paramCounts says (DoRA adds a
 * magnitude per output, LoRA-FA takes A out), each init has its one-line hint, and the
 * run started stores exactly that config; the run page, the runs table and the Models
 * page's adapter row then carry the DoRA / PiSSA / LoRA-FA tags.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];
let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
let modelId = 0;

const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);
const trainable = () => page.getByRole('complementary', { name: 'run summary' }).getByTestId('trainable').textContent().then((t) => t?.trim());

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-variants-' });
  ({ lab, page, pageErrors } = e2e);
  const cfg: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 15, trainLimit: 480, testLimit: 200, evalEvery: 0 };
  const base = await lab.waitForRun((await lab.createRun({ name: 'variants base', config: cfg })).id);
  expect(base.status).toBe('completed');
  modelId = base.modelId as number;
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

describe('New run: LoRA variants', () => {
  it('picks DoRA + PiSSA + freeze A by label and keyboard; the count follows and the run stores them', async () => {
    await go(`#/new?kind=lora&base=${modelId}`);
    const variant = page.getByLabel('Variant', { exact: true });
    const init = page.getByLabel('Initialisation', { exact: true });
    const freeze = page.getByLabel('Freeze A (LoRA-FA)');
    await variant.waitFor();
    // Plain LoRA at the preset's rank 1 on both layers: r·(in + out) each.
    await expect.poll(trainable).toBe(String(784 + 16 + 16 + 10));
    expect(await variant.inputValue()).toBe('lora');
    expect(await init.inputValue()).toBe('kaiming');
    expect(await freeze.isChecked()).toBe(false);
    expect(await init.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['kaiming', 'gaussian', 'pissa', 'olora']);

    await variant.selectOption('dora');
    await expect.poll(trainable).toBe(String(784 + 16 + 16 + 10 + 16 + 10)); // + m, one per output
    expect(await page.getByTestId('variant-hint').textContent()).toMatch(/magnitude/);

    // Each init has its one-line hint under the select.
    const hints: Record<string, RegExp> = { gaussian: /Gaussian/, olora: /QR/, kaiming: /Kaiming/, pissa: /SVD/ };
    for (const [value, hint] of Object.entries(hints)) {
      await init.selectOption(value);
      await expect.poll(() => page.getByTestId('init-hint').textContent()).toMatch(hint);
    }

    // The checkbox from the keyboard: focus, Space.
    await freeze.focus();
    await page.keyboard.press('Space');
    expect(await freeze.isChecked()).toBe(true);
    await expect.poll(trainable).toBe(String(16 + 10 + 16 + 10)); // B and m train; A (r·in) is frozen
    // Per layer: r·(in + out) + out added, r·out + out of them training.
    expect((await page.getByTestId('layer-params').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim())).toEqual(['+816 (32 train)', '+36 (20 train)']);
    await saveScreenshot(page, 'new-run-variants');

    // Quick limits and a few steps, then Enter starts the run.
    await page.getByLabel('Max steps').fill('5');
    await page.locator('details.advanced summary').click();
    await page.getByRole('button', { name: 'Use quick limits' }).click();
    await page.getByLabel('Max steps').press('Enter');
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    const id = Number((await page.evaluate(() => location.hash)).split('/').at(-1));
    const stored = await lab.getRun(id);
    expect(stored.config.lora).toMatchObject({ r: 1, variant: 'dora', init: 'pissa', freezeA: true });
    const done = await lab.waitForRun(id);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.summary?.trainableParams).toBe(16 + 10 + 16 + 10);

    // The run page says so.
    const head = page.locator('.page-head');
    await expect.poll(() => head.locator('[data-testid="variant-tags"] .chip').allTextContents()).toEqual(['DoRA', 'PiSSA', 'LoRA-FA']);
    expect(await page.getByTestId('run-variant').textContent()).toBe('DoRA r=1, PiSSA init, LoRA-FA');

    // The runs table's kind column, and the adapter on the Models page.
    await go('#/runs');
    const row = page.locator(`tr[data-run-id="${id}"]`);
    await row.waitFor();
    expect(await row.locator('td.kind-cell [data-testid="variant-tags"] .chip').allTextContents()).toEqual(['DoRA', 'PiSSA', 'LoRA-FA']);
    await go('#/models');
    const adapter = page.locator(`tr[data-adapter="${done.adapterId}"]`);
    await adapter.waitFor();
    expect(await adapter.locator('[data-testid="variant-tags"] .chip').allTextContents()).toEqual(['DoRA', 'PiSSA', 'LoRA-FA']);
    expect(await adapter.getByTestId('adapter-init').textContent()).toBe('PiSSA');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('a clone keeps the variant fields; back to plain LoRA the count is r·(in + out) again', async () => {
    const runs = await lab.listRuns({ kind: 'lora' });
    await go(`#/new?from=${runs[0]!.id}`);
    const variant = page.getByLabel('Variant', { exact: true });
    await variant.waitFor();
    await expect.poll(() => variant.inputValue()).toBe('dora');
    expect(await page.getByLabel('Initialisation', { exact: true }).inputValue()).toBe('pissa');
    expect(await page.getByLabel('Freeze A (LoRA-FA)').isChecked()).toBe(true);
    // Back to plain LoRA: the count is r·(in + out) again.
    await variant.selectOption('lora');
    await page.getByLabel('Initialisation', { exact: true }).selectOption('gaussian');
    await page.getByLabel('Freeze A (LoRA-FA)').uncheck();
    await expect.poll(trainable).toBe(String(784 + 16 + 16 + 10));
    expect(pageErrors).toEqual([]);
  });
});

describe('New sweep: the variant as an axis', () => {
  it('offers lora.variant, lora.init (with their choices) and lora.freezeA (true/false), and the Lab takes the sweep', async () => {
    await go(`#/sweeps/new?base=${modelId}`);
    await page.getByRole('heading', { name: 'New sweep' }).waitFor();
    await page.getByLabel('Max steps').fill('3');
    await page.getByLabel('Training images').fill('300');
    await page.getByLabel('Test images').fill('200');
    await page.getByLabel('Evaluate every').fill('0');
    await page.getByLabel('Seeds per point').fill('1');
    await page.getByRole('button', { name: 'Add axis' }).click();
    const labels = await page.locator('#ax-0-path option').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['lora.variant (lora | dora, now lora)', 'lora.init (kaiming | gaussian | pissa | olora, now kaiming)', 'lora.freezeA (true/false, now false)']));
    await page.locator('#ax-0-path').selectOption('lora.variant');
    expect(await page.locator('#ax-0-values').getAttribute('placeholder')).toBe('lora, dora');
    await page.locator('#ax-0-values').fill('lora, vera');
    await expect.poll(() => page.locator('[data-issue-field="axis-0"]').textContent()).toBe('“vera” is not one of lora, dora');
    await page.locator('#ax-0-values').fill('lora, dora');
    await page.getByRole('button', { name: 'Add axis' }).click();
    await page.locator('#ax-1-path').selectOption('lora.freezeA');
    await page.locator('#ax-1-values').fill('false, true');
    await expect.poll(() => page.getByTestId('run-count').textContent()).toBe('4 points × 1 seed = 4 runs');
    await page.getByRole('button', { name: /^Create sweep/ }).click();
    await page.waitForFunction(() => /^#\/sweeps\/\d+$/.test(location.hash));
    const [sweep] = await lab.listSweeps();
    expect(sweep).toMatchObject({ points: 4, paths: ['lora.variant', 'lora.freezeA'] });
    await lab.cancelSweep(sweep!.id);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
