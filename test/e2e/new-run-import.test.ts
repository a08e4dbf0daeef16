/**
 * Issue 12, items 4, 5 and 7, in a real browser over a real Lab (tiny runs):
 *  - the New run side panel shows "—" for every figure computed from an invalid rank
 *    (0, −3, 1001) instead of "Infinity", negative counts or "242% of the base", and the
 *    number of fields needing attention is the number of fields marked;
 *  - a PEFT folder exported from one of two bases of different widths pre-selects the
 *    base it came from, not the newest model; one that fits no stored model says so
 *    and cannot be imported;
 *  - clone-and-edit renames after a rank change, unless a name was typed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../../src-main/weights/peft.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';
import { randomAdapter } from '../weights/helpers.ts';

const NARROW = [784, 16, 10];
const WIDE = [784, 32, 10];
let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const ids = { narrowModel: 0, wideModel: 0, loraRun: 0 };

const tiny = (sizes: number[]): RunConfig => ({
  ...defaultConfig('base'),
  sizes,
  batchSize: 32,
  maxSteps: 15,
  trainLimit: 480,
  testLimit: 200,
  evalEvery: 0,
});

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

beforeAll(async () => {
  e2e = await startE2E({
    prefix: 'lora-lab-e2e-newrun-',
    expectedConsoleError: (text) => /^Failed to load resource: the server responded with a status of 4\d\d/.test(text),
  });
  ({ lab, page, pageErrors } = e2e);
  // Narrow first, so the wide model is the newest: the one the dialog used to pre-select.
  const narrow = await lab.waitForRun((await lab.createRun({ name: 'narrow base', config: tiny(NARROW) })).id);
  const wide = await lab.waitForRun((await lab.createRun({ name: 'wide base', config: tiny(WIDE) })).id);
  expect([narrow.status, wide.status]).toEqual(['completed', 'completed']);
  ids.narrowModel = narrow.modelId as number;
  ids.wideModel = wide.modelId as number;
  const loraCfg: RunConfig = { ...tiny(NARROW), kind: 'lora', classes: [7], maxSteps: 5, lora: { ...defaultLora(NARROW), r: 2, alpha: 2 } };
  const lora = await lab.waitForRun((await lab.createRun({ config: loraCfg, baseModelId: ids.narrowModel })).id); // the default name
  expect(lora.status).toBe('completed');
  ids.loraRun = lora.id;
  await lab.exportWeights({ target: { kind: 'adapter', id: lora.adapterId as number }, format: 'peft', fileName: 'narrow-peft' });
  // An adapter for widths no stored model has, naming a model this database never had.
  const foreign = randomAdapter([784, 24, 10], { r: 2 }, 5);
  const files = peftFiles(foreign.tensors, foreign.info, 'someone/mnist-24');
  const dir = join(lab.exportDir, 'foreign-peft');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, PEFT_CONFIG_FILE), JSON.stringify(files.config));
  writeFileSync(join(dir, PEFT_WEIGHTS_FILE), files.safetensors);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

/** What the side panel says and what the form marks. */
async function panel() {
  const summary = page.getByRole('complementary', { name: 'run summary' });
  const attention = summary.getByTestId('attention-count');
  return {
    trainable: (await summary.getByTestId('trainable').textContent())?.trim(),
    percent: (await summary.getByTestId('trainable-percent').textContent())?.trim(),
    scaling: (await summary.getByTestId('scaling').textContent())?.trim(),
    memory: (await summary.getByTestId('memory-estimate').textContent())?.trim(),
    steps: (await summary.getByTestId('steps-estimate').textContent())?.trim(),
    attention: (await attention.count()) ? (await attention.textContent())?.trim() : null,
    listed: await summary.getByRole('list', { name: 'fields that need attention' }).getByRole('button').allTextContents(),
    marked: await page.locator('form[aria-label="new run"] [data-issue-field]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-issue-field')}: ${e.textContent?.trim()}`)),
  };
}

describe('New run side panel with invalid input', () => {
  it('shows "—" for every figure from rank 0, −3 and 1001, and counts the fields it marks', async () => {
    await go(`#/new?kind=lora&base=${ids.wideModel}`);
    const rank = page.getByLabel('Rank r');
    await rank.waitFor();
    await rank.fill('4');
    const valid = await panel();
    expect(valid.trainable).toBe(String(4 * (784 + 32 + 32 + 10)).replace(/\B(?=(\d{3})+$)/g, ','));
    expect(valid.attention).toBeNull();
    expect(valid.marked).toEqual([]);

    for (const r of ['0', '-3', '1001']) {
      await rank.fill(r);
      await expect.poll(async () => (await panel()).trainable).toBe('—');
      const p = await panel();
      expect(p, `rank ${r}`).toMatchObject({ trainable: '—', scaling: '—', memory: '—', attention: '1 field needs attention:', listed: ['Rank r'] });
      expect(p.percent).not.toMatch(/%|Infinity|−|-\d/);
      expect(p.steps).toBe('100'); // the preset's max steps, not computed from the rank: still shown
      expect(p.marked).toHaveLength(1);
      expect(p.marked[0]).toMatch(/^lora\.r: rank/);
      expect(await rank.getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByTestId('scaling-value').textContent()).toBe('= —');
      expect(await page.getByTestId('layer-params').allTextContents()).toEqual(['—', '—']);
      await saveScreenshot(page, `new-run-rank-${r}`);
    }

    // Two fields wrong, one of them inside the closed Advanced section: both counted, both marked.
    await page.getByLabel('Batch size').fill('0');
    const two = await panel();
    expect(two.attention).toBe('2 fields need attention:');
    expect(two.listed).toEqual(['Batch size', 'Rank r']);
    expect(two.marked.map((m) => m.split(':')[0])).toEqual(['batchSize', 'lora.r']);
    expect(two.steps).toBe('—');
    await page.getByLabel('Batch size').fill('32');
    await rank.fill('2');
    await page.locator('details.advanced summary').click();
    await page.getByLabel('Test images', { exact: true }).fill('0');
    await page.locator('details.advanced summary').click(); // closed again
    await page.locator('details.advanced summary').getByText('1 field needs attention').waitFor();
    const hidden = await panel();
    expect(hidden).toMatchObject({ attention: '1 field needs attention:', listed: ['Test images'] });
    expect(await page.getByRole('complementary', { name: 'run summary' }).getByTestId('test-images').textContent()).toBe('—');
    // The panel's entry opens Advanced and focuses the field.
    await page.getByRole('list', { name: 'fields that need attention' }).getByRole('button', { name: 'Test images' }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('f-testLimit');
    expect(await page.locator('details.advanced').getAttribute('open')).not.toBeNull();
    expect(pageErrors).toEqual([]);
  });
});

describe('PEFT import pre-selects the matching base', () => {
  it('an adapter exported from the narrow base pre-selects it, not the newest (wide) model', async () => {
    await go('#/models');
    await page.getByRole('button', { name: 'import narrow-peft as an adapter' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import an adapter' });
    const fit = dialog.getByTestId('import-fit');
    await fit.getByText(/^Fits “narrow base”/).waitFor();
    expect(await dialog.getByLabel('Base model').locator('option:checked').textContent()).toContain('narrow base');
    expect(await fit.textContent()).toContain('the model its config names');
    expect(await dialog.getByLabel('Base model').locator('option', { hasText: 'wide base' }).textContent()).toContain('does not fit');
    // Choosing the wide model by hand: explained, and not imported.
    await dialog.getByLabel('Base model').selectOption({ value: String(ids.wideModel) });
    await fit.getByText(/Does not fit “wide base”: its linear1 is 784 → 32, the adapter's is 784 → 16/).waitFor();
    expect(await dialog.getByRole('button', { name: 'Import as adapter' }).isDisabled()).toBe(true);
    await dialog.getByLabel('Base model').selectOption({ value: String(ids.narrowModel) });
    await dialog.getByLabel('Name').fill('narrow adapter again');
    await dialog.getByRole('button', { name: 'Import as adapter' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await lab.listAdapters()).find((a) => a.name === 'narrow adapter again')?.baseModelId).toBe(ids.narrowModel);
  });

  it('an adapter no stored model fits: a warning, nothing pre-selected, no import', async () => {
    await page.getByRole('button', { name: 'import foreign-peft as an adapter' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import an adapter' });
    const warning = dialog.getByTestId('no-base-fits');
    await warning.waitFor();
    expect(await warning.textContent()).toMatch(/No stored model fits this adapter: it was trained on linear1 784 → 24, linear2 24 → 10 at rank 2 \(its config names “someone\/mnist-24”\)/);
    expect(await dialog.getByLabel('Base model').inputValue()).toBe('');
    expect(await dialog.getByRole('button', { name: 'Import as adapter' }).isDisabled()).toBe(true);
    await saveScreenshot(page, 'import-no-base-fits');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(pageErrors).toEqual([]);
  });
});

describe('Clone and edit', () => {
  it('renames the clone after a rank change, unless a name was typed', async () => {
    const source = await lab.getRun(ids.loraRun);
    expect(source.name).toBe('LoRA r2 α2 on digit 7 seed 0');
    await go(`#/new?from=${ids.loraRun}`);
    const name = page.getByLabel('Name', { exact: true });
    await expect.poll(() => name.inputValue()).toBe('LoRA r2 α2 on digit 7 seed 0 (copy)');
    await page.getByLabel('Rank r').fill('4');
    await expect.poll(() => name.inputValue()).toBe('LoRA r4 α2 on digit 7 seed 0');
    await page.getByLabel('Rank r').fill('2'); // back as it was: a copy again
    await expect.poll(() => name.inputValue()).toBe('LoRA r2 α2 on digit 7 seed 0 (copy)');
    await page.getByLabel('Rank r').fill('3');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/#\/runs\/\d+/);
    const id = Number(/#\/runs\/(\d+)/.exec(page.url())?.[1]);
    expect((await lab.getRun(id)).name).toBe('LoRA r3 α2 on digit 7 seed 0');
    expect((await lab.waitForRun(id)).status).toBe('completed');

    // A typed name stays whatever the rank.
    await go(`#/runs`);
    await go(`#/new?from=${ids.loraRun}`);
    await expect.poll(() => name.inputValue()).toBe('LoRA r2 α2 on digit 7 seed 0 (copy)');
    await name.fill('my own name');
    await page.getByLabel('Rank r').fill('5');
    expect(await name.inputValue()).toBe('my own name');
    expect(pageErrors).toEqual([]);
  });
});
