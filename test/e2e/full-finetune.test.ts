/**
 * A full fine-tune in a real browser over a real Lab: the New run form's third kind
 * ("Full fine-tune") on a stored base model, with the base picker and the slice but no
 * LoRA fields, every parameter training; started from the keyboard, its Run page names
 * it a full fine-tune and shows the focus digit's wrong answers before → after, and
 * "What it learned" opens the analysis of its model's update W − W0 (every layer dense)
 * with the figures the API computes. The Models page says where the fine-tuned model
 * came from and links the same analysis, which compares with a LoRA adapter on the same
 * base (φ). The base and LoRA runs are made through the API; what is tested is clicked.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { fmtNum } from '../../src-renderer/lib/format.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];
/** Every weight and bias of the 784→16→10 MLP. */
const ALL_PARAMS = 784 * 16 + 16 + 16 * 10 + 10;

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const ids = { base: 0, baseRun: 0, run: 0, model: 0, lora: 0 };
/** The stored base model's name (what the pages call it). */
let baseName = '';

const go = (hash: string) => page.evaluate((h) => (location.hash = h), hash);
const summary = () => page.getByRole('complementary', { name: 'run summary' });
const layerCard = (layer: string) => page.locator(`section.layer[data-layer="${layer}"]`);

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-full-' });
  ({ lab, page, pageErrors } = e2e);
  const cfg: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 20, trainLimit: 320, testLimit: 200, evalEvery: 0 };
  const base = await lab.waitForRun((await lab.createRun({ name: 'full base', config: cfg })).id);
  expect(base.status, base.error ?? '').toBe('completed');
  ids.base = base.modelId!;
  ids.baseRun = base.id;
  baseName = (await lab.listModels()).find((m) => m.id === ids.base)!.name;
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

describe('a full fine-tune', { timeout: 180_000 }, () => {
  it('is the New run form’s third kind: a base model, the slice, no LoRA fields, every parameter training', async () => {
    await go(`#/new?kind=full&base=${ids.base}`);
    const full = page.getByRole('radio', { name: 'Full fine-tune' });
    await full.waitFor();
    expect(await full.isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: 'LoRA fine-tune' }).isChecked()).toBe(false);
    expect(await page.getByLabel('Base model').inputValue()).toBe(String(ids.base));
    await expect(page.getByTestId('kind-hint').textContent()).resolves.toMatch(/Every weight .*100%/s);
    // No LoRA section: no rank, no alpha, no target layers, no variant.
    for (const label of ['Rank r', 'Alpha α', 'Variant', 'Freeze A (LoRA-FA)', 'LoRA+ ratio']) await expect(page.getByLabel(label, { exact: true }).count()).resolves.toBe(0);
    await expect(page.getByRole('heading', { name: 'LoRA adapter' }).count()).resolves.toBe(0);
    await expect(page.getByRole('group', { name: 'Target layers' }).count()).resolves.toBe(0);
    // Every weight and bias of the base trains.
    await expect.poll(() => summary().getByTestId('trainable').textContent().then((t) => t?.trim())).toBe(ALL_PARAMS.toLocaleString('en-US'));
    await expect(summary().getByTestId('trainable-percent').textContent()).resolves.toMatch(/100%/);
    await expect(summary().getByTestId('scaling').count()).resolves.toBe(0);

    // Digit 7 only.
    for (let d = 0; d < 10; d++) {
      const box = page.getByRole('checkbox', { name: `digit ${d}`, exact: true });
      if ((await box.isChecked()) !== (d === 7)) await box.click();
    }
    await page.getByLabel('Max steps').fill('15');
    await page.locator('details.advanced summary').click();
    await page.getByLabel('Training images').fill('320');
    await page.getByLabel('Test images', { exact: true }).fill('200');
    await page.getByLabel('Evaluate every').fill('0');
    await saveScreenshot(page, 'new-run-full');
    await page.getByLabel('Max steps').press('Enter');
    await page.waitForFunction(() => /^#\/runs\/\d+$/.test(location.hash));
    ids.run = Number((await page.evaluate(() => location.hash)).split('/').at(-1));

    const stored = await lab.getRun(ids.run);
    expect(stored.kind).toBe('full');
    expect(stored.baseModelId).toBe(ids.base);
    expect(stored.config).toMatchObject({ kind: 'full', classes: [7], maxSteps: 15, trainLimit: 320, testLimit: 200, evalEvery: 0, lora: null, sizes: SIZES });
    expect(pageErrors).toEqual([]);
  });

  it('its Run page names it a full fine-tune and shows the focus digit’s wrong answers before → after', async () => {
    const done = await lab.waitForRun(ids.run);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.adapterId).toBeNull();
    expect(done.modelId).not.toBeNull();
    expect(done.summary?.trainableParams).toBe(ALL_PARAMS);
    ids.model = done.modelId!;

    await expect.poll(() => page.getByTestId('run-kind').textContent()).toBe('full fine-tune');
    const stats = page.getByTestId('run-stats');
    const focus = stats.locator('.stat').filter({ hasText: /Wrong on 7/ });
    await focus.waitFor({ timeout: 60_000 });
    expect(done.focusWrongBefore).not.toBeNull();
    await expect(focus.locator('.value').textContent().then((t) => t?.replace(/\s+/g, ' ').trim())).resolves.toBe(`${done.focusWrongBefore} → ${done.focusWrong}`);
    // The accuracy before → after too, and the per-digit bars as a fine-tune's.
    await expect(stats.locator('.stat').filter({ hasText: 'Test accuracy' }).locator('.from').count()).resolves.toBe(1);
    await page.getByRole('heading', { name: /Wrong answers per digit: before and after fine-tuning/ }).waitFor();
    await expect(page.locator('.facts').textContent().then((t) => t?.replace(/\s+/g, ' '))).resolves.toContain(`fine-tunes every weight of ${baseName}`);
    // The gallery says what fixed an error: the fine-tuning, there is no adapter.
    await page.getByRole('button', { name: /^Fixed by fine-tuning/ }).waitFor();
    await expect(page.getByRole('button', { name: /by adapter/ }).count()).resolves.toBe(0);
    // Nothing to merge, no adapter: no Merge, no sweep (sweeps of full fine-tunes are not offered).
    const head = page.locator('.page-head');
    await expect(head.getByRole('link', { name: 'Merge' }).count()).resolves.toBe(0);
    await expect(head.getByRole('link', { name: 'Sweep…' }).count()).resolves.toBe(0);
    await saveScreenshot(page, 'run-full');
    expect(pageErrors).toEqual([]);
  });

  it('“What it learned” shows its update W − W0: every layer dense, with the API’s figures', async () => {
    await page.locator('.page-head').getByRole('link', { name: 'What it learned' }).click();
    await page.waitForFunction((id) => location.hash === `#/models/${id}/update`, ids.model);
    await page.getByRole('heading', { name: 'What the full fine-tune learned' }).waitFor();
    await layerCard('linear2').waitFor({ timeout: 120_000 });
    await expect(layerCard('linear1').locator('.method').textContent()).resolves.toMatch(/dense/);
    await expect(page.getByTestId('analysis-about').textContent().then((t) => t?.replace(/\s+/g, ' '))).resolves.toContain(`Full fine-tune, ΔW = W − W0, every layer dense, on model “${baseName}”`);
    const api = await lab.analyzeAdapter({ target: { kind: 'model', id: ids.model } });
    expect(api.update).toMatchObject({ source: 'full', modelId: ids.model, adapterId: null, r: null });
    expect(api.layers.map((l) => l.layer)).toEqual(['linear1', 'linear2']);
    for (const l of api.layers) {
      const card = layerCard(l.layer);
      expect(l.method).toBe('dense');
      await expect(card.locator('[data-figure="rank90"]').textContent()).resolves.toBe(String(l.rank90));
      await expect(card.locator('[data-figure="effectiveRank"]').textContent()).resolves.toBe(fmtNum(l.effectiveRank, 3));
      await expect(card.locator('[data-figure="intruders"]').textContent()).resolves.toMatch(new RegExp(`^${l.intruders!.count} of ${l.intruders!.k}`));
      // One bar per singular value of the dense update.
      await expect(card.locator('figure.spectrum').first().locator('rect').count()).resolves.toBe(l.singularValues.length);
    }
    // Pictures of the first layer (its input is the 28×28 image).
    await expect(page.locator('section.pics canvas').count()).resolves.toBeGreaterThan(0);
    // Its run is linked; there is no adapter to merge.
    await expect(page.locator('.page-head').getByRole('link', { name: 'Its run' }).getAttribute('href')).resolves.toBe(`#/runs/${ids.run}`);
    await expect(page.locator('.page-head').getByRole('link', { name: 'Merge' }).count()).resolves.toBe(0);
    await saveScreenshot(page, 'full-update');
    expect(pageErrors).toEqual([]);
  });

  it('the Models page says where the fine-tuned model came from and links its analysis', async () => {
    await go('#/models');
    const row = page.locator(`tr[data-model="${ids.model}"]`);
    await row.waitFor();
    await expect(row.locator('td.origin').textContent().then((t) => t?.replace(/\s+/g, ' ').trim())).resolves.toMatch(/^full fine-tune of .+ by run /);
    await expect(row.locator('td.origin b').textContent()).resolves.toBe(baseName);
    await expect(row.locator('td.origin a').getAttribute('href')).resolves.toBe(`#/runs/${ids.run}`);
    // The base trained from scratch has no update to analyse.
    await expect(page.locator(`tr[data-model="${ids.base}"]`).getByRole('link', { name: 'Analyse' }).count()).resolves.toBe(0);
    await row.getByRole('link', { name: 'Analyse' }).click();
    await page.waitForFunction((id) => location.hash === `#/models/${id}/update`, ids.model);
    await layerCard('linear1').waitFor({ timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  });

  it('compares its update with a LoRA adapter on the same base: φ, and the partner in the address', async () => {
    const lora = await lab.createRun({
      name: 'lora on 7',
      baseModelId: ids.base,
      config: { ...defaultConfig('lora'), sizes: SIZES, classes: [7], batchSize: 16, maxSteps: 10, trainLimit: 320, testLimit: 200, evalEvery: 0, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } },
    });
    const done = await lab.waitForRun(lora.id);
    expect(done.status, done.error ?? '').toBe('completed');
    ids.lora = done.id;
    // Loaded again, so the select lists the new adapter.
    await go('#/models');
    await go(`#/models/${ids.model}/update`);
    const select = page.getByLabel('Compare with (φ)');
    await expect.poll(() => select.locator('option').allTextContents()).toContain('lora on 7 (r = 2)');
    await select.selectOption(String(done.adapterId));
    await page.getByRole('button', { name: 'Analyse' }).click();
    await page.waitForFunction((vs) => location.hash.endsWith(`/update?vs=${vs}`), done.adapterId);
    const maps = page.getByRole('region', { name: 'subspace similarity' }).locator('figure.phi');
    await maps.first().waitFor({ timeout: 60_000 });
    await expect(maps.count()).resolves.toBe(4);
    expect(pageErrors).toEqual([]);
  });

  it('Compare sets the two updates side by side: the API’s figures per layer, both spectra, intruders on request', async () => {
    await go(`#/compare?ids=${ids.baseRun},${ids.run},${ids.lora}`);
    const geometry = page.getByRole('region', { name: 'update geometry' });
    await geometry.waitFor({ timeout: 60_000 });
    await expect(geometry.getByText(/a base run: trained from scratch/).count()).resolves.toBe(1);
    const cell = (layer: string, run: number, figure: string) => geometry.locator(`.layer[data-layer="${layer}"] td[data-run="${run}"][data-figure="${figure}"]`);
    await cell('linear2', ids.lora, 'rank90').waitFor({ timeout: 60_000 });
    const [full, lora] = await Promise.all([lab.analyzeAdapter({ target: { kind: 'run', id: ids.run }, intruders: false }), lab.analyzeAdapter({ target: { kind: 'run', id: ids.lora }, intruders: false })]);
    for (const [run, a] of [[ids.run, full], [ids.lora, lora]] as const) {
      for (const l of a.layers) {
        await expect(cell(l.layer, run, 'effectiveRank').textContent()).resolves.toMatch(new RegExp(`^\\s*${fmtNum(l.effectiveRank, 3).replace('.', '\\.')}\\s*$`));
        await expect(cell(l.layer, run, 'rank90').textContent()).resolves.toMatch(new RegExp(`^\\s*${l.rank90}\\s*$`));
        await expect(cell(l.layer, run, 'intruders').textContent()).resolves.toMatch(/^\s*—\s*$/);
      }
    }
    // One chart per layer, a line (or markers) for each update.
    const spectra = geometry.locator('.layer[data-layer="linear1"] figure.spectra g.series');
    await expect(spectra.count()).resolves.toBe(2);
    await geometry.getByLabel(/Intruder dimensions/).check();
    await cell('linear1', ids.lora, 'intruders').filter({ hasText: /^\s*\d+ of 10\s*$/ }).waitFor({ timeout: 120_000 });
    await cell('linear1', ids.run, 'intruders').filter({ hasText: /^\s*\d+ of 10\s*$/ }).waitFor({ timeout: 120_000 });
    const withIntruders = await lab.analyzeAdapter({ target: { kind: 'run', id: ids.lora } });
    await expect(cell('linear1', ids.lora, 'intruders').textContent()).resolves.toMatch(new RegExp(`^\\s*${withIntruders.layers[0]!.intruders!.count} of 10`));
    await saveScreenshot(page, 'compare-geometry');
    expect(pageErrors).toEqual([]);
  });
});
