/**
 * The Merge page in a real browser (issue 12 item 8): a colour means one thing in both
 * charts and the table; previews are stored, so they survive a reload, and a saved one
 * says what it was saved as (linked), also after a reload and after that was deleted;
 * deleting a preview has an undo; focus lands on something present after each dialog or
 * choice closes, the export's "Keep it, choose another name" included. Tiny runs are
 * made through the API; what is tested is clicked.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { type E2E, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];
const SAVED = 'mp saved linear';

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const ids = { base: 0, saved: 0 };
const refused: string[] = [];

function loraConfig(digit: number): RunConfig {
  return { ...defaultConfig('lora'), sizes: SIZES, classes: [digit], batchSize: 16, maxSteps: 10, trainLimit: 320, testLimit: 200, evalEvery: 0, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } };
}

const rows = () => page.getByRole('table', { name: 'previews' }).locator('tr[data-preview]');
const row = (id: number) => page.getByRole('table', { name: 'previews' }).locator(`tr[data-preview="${id}"]`);
const focused = () => page.evaluate(() => {
  const el = document.activeElement;
  return el ? el.getAttribute('aria-label') ?? el.id ?? el.tagName : null;
});

/** Each chart's legend: series label → the colour drawn (computed, rgb()). */
async function legend(captionStart: string): Promise<Map<string, string>> {
  const entries = await page.evaluate((start) => {
    const fig = [...document.querySelectorAll('figure.chart')].find((f) => f.querySelector('figcaption')?.textContent?.trim().startsWith(start));
    if (!fig) return null;
    return [...fig.querySelectorAll('.u-legend .u-series')]
      .map((s) => [s.querySelector('.u-label')?.textContent?.trim() ?? '', getComputedStyle(s.querySelector('.u-marker') as Element).backgroundColor] as [string, string])
      .filter(([label]) => label !== 'digit');
  }, captionStart);
  expect(entries, `a chart titled “${captionStart}…”`).not.toBeNull();
  return new Map(entries!);
}
const swatch = (loc: ReturnType<Page['locator']>) => loc.locator('.swatch').first().evaluate((el) => getComputedStyle(el).backgroundColor);

beforeAll(async () => {
  // Chromium logs each 4xx answer; the export's "already exists" (409) is provoked here, and checked below by call.
  e2e = await startE2E({ prefix: 'lora-lab-e2e-merge-page-', concurrency: 2, expectedConsoleError: (t) => /status of 409/.test(t) });
  ({ lab, page, pageErrors } = e2e);
  page.on('response', (r) => {
    if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  const base = await lab.waitForRun((await lab.createRun({ name: 'mp base', config: { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 20, trainLimit: 640, testLimit: 200, evalEvery: 0 } })).id);
  expect(base.status).toBe('completed');
  ids.base = base.modelId!;
  const runs = await Promise.all([7, 3].map((d) => lab.createRun({ name: `mp on ${d}`, baseModelId: ids.base, config: loraConfig(d) })));
  for (const r of runs) expect((await lab.waitForRun(r.id)).status).toBe('completed');
});

afterAll(async () => {
  await e2e?.close();
});

describe('the Merge page', () => {
  it('previews two methods; each series has one colour in both charts and the table, adapters alone never a combination’s', async () => {
    await page.evaluate(() => (location.hash = '#/merge'));
    await page.getByRole('heading', { name: 'Merge adapters' }).waitFor();
    await page.getByRole('checkbox', { name: 'mp on 7' }).check();
    await page.getByRole('checkbox', { name: 'mp on 3' }).check();
    await page.getByLabel('Test images').fill('200');
    const latest = page.getByRole('table', { name: 'preview', exact: true });
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await latest.locator('tr[data-row="combined (linear)"]').waitFor({ timeout: 60_000 });
    await page.getByLabel('Method', { exact: true }).selectOption('svd');
    await page.getByLabel('Rank k').fill('1');
    await page.getByLabel('Rank k').press('Enter');
    await latest.locator('tr[data-row="combined (svd)"]').waitFor({ timeout: 60_000 });
    await expect.poll(() => rows().count()).toBe(2);
    const [newest, older] = (await rows().evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-preview'))))) as [number, number];

    const one = await legend('Wrong answers per digit');
    const side = await legend('Wrong answers per digit: the base');
    const combined = one.get('combined (svd)');
    expect(combined).toBeDefined();
    // The newest combination: the same colour in its own chart, the side-by-side chart and its table rows.
    expect(side.get(`#${newest} svd, rank 1`)).toBe(combined);
    expect(await swatch(row(newest))).toBe(combined);
    expect(await swatch(latest.locator('tr[data-row="combined (svd)"]'))).toBe(combined);
    // The base: one grey everywhere.
    const baseColor = one.get('base “mp base”');
    expect(side.get('base')).toBe(baseColor);
    expect(await swatch(page.getByRole('table', { name: 'previews' }).locator('tr.ref'))).toBe(baseColor);
    // Adapters alone: colours of their own, none that the side-by-side chart gives a combination or the base.
    const alone = [one.get('“mp on 7” alone'), one.get('“mp on 3” alone')];
    expect(new Set([...alone, baseColor, combined]).size).toBe(4);
    for (const c of alone) expect([...side.values()]).not.toContain(c);
    expect(new Set(side.values()).size).toBe(side.size); // the older combination differs too
    expect(await swatch(row(older))).toBe(side.get(`#${older} linear`));
  });

  it('keeps the previews across a reload, and the form as it was for the newest', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Merge adapters' }).waitFor();
    await expect.poll(() => rows().count()).toBe(2);
    await expect(rows().locator('td.method').allTextContents()).resolves.toEqual([expect.stringContaining('svd, rank 1'), expect.stringContaining('linear')]);
    await page.getByRole('table', { name: 'preview', exact: true }).locator('tr[data-row="combined (svd)"]').waitFor();
    await expect(page.getByLabel('Rank k').inputValue()).resolves.toBe('1');
    expect((await lab.listMergePreviews()).length).toBe(2);
  });

  it('marks a saved preview “saved as …” with a link, also after a reload; focus returns to its row', async () => {
    const first = (await lab.listMergePreviews()).at(-1)!.id;
    await row(first).getByRole('button', { name: `save preview ${first}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Save the combination' });
    await expect.poll(focused).toBe('save-name');
    await dialog.getByLabel('Name').fill(SAVED);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row(first).getByTestId('saved-as').filter({ hasText: `saved as model “${SAVED}”` }).waitFor();
    await expect.poll(focused).toBe(`save preview ${first}`);
    // Cancel gives focus back the same way.
    await row(first).getByRole('button', { name: `save preview ${first}` }).click();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(focused).toBe(`save preview ${first}`);
    ids.saved = (await lab.listModels()).find((m) => m.name === SAVED)!.id;

    await page.reload();
    const mark = row(first).getByTestId('saved-as');
    await mark.filter({ hasText: `saved as model “${SAVED}”` }).waitFor();
    await expect(mark.getByRole('link').getAttribute('href')).resolves.toBe('#/models');
  });

  it('after “Keep it, choose another name” focus is in the name field (the export reached through the link)', async () => {
    const first = (await lab.listMergePreviews()).at(-1)!.id;
    await row(first).getByTestId('saved-as').getByRole('link').click();
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    const modelRow = page.getByRole('table', { name: 'models' }).locator(`tr[data-model="${ids.saved}"]`);
    const dialog = page.getByRole('dialog', { name: `Export “${SAVED}”` });
    for (let i = 0; i < 2; i++) {
      await modelRow.getByRole('button', { name: 'Export…' }).click();
      await dialog.getByRole('button', { name: 'Export', exact: true }).click();
      if (i === 0) {
        await dialog.getByTestId('export-result').waitFor();
        await dialog.getByRole('button', { name: 'Done' }).click();
      }
    }
    const ask = dialog.getByRole('alertdialog', { name: 'replace it?' });
    await ask.getByRole('button', { name: 'Keep it, choose another name' }).click();
    await ask.waitFor({ state: 'detached' });
    await expect.poll(focused).toBe('export-name');
    // And "Replace it" leaves focus on the dialog's own button, not the page.
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    await ask.getByRole('button', { name: 'Replace it' }).click();
    await dialog.getByTestId('export-result').waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe('Done');
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('says when what a preview was saved as was deleted', async () => {
    await lab.deleteModel(ids.saved);
    await page.evaluate(() => (location.hash = '#/merge'));
    const first = (await lab.listMergePreviews()).at(-1)!.id;
    await row(first).getByTestId('saved-as').filter({ hasText: `saved as model “${SAVED}” (deleted since)` }).waitFor();
    await expect(row(first).getByTestId('saved-as').getByRole('link').count()).resolves.toBe(0);
  });

  it('deletes a preview with undo; focus moves to the next row, Undo brings it back; a reload sends a pending delete', async () => {
    const [newest, older] = (await lab.listMergePreviews()).map((p) => p.id) as [number, number];
    await row(newest).getByRole('button', { name: `delete preview ${newest}` }).click();
    await row(newest).waitFor({ state: 'detached' });
    await expect.poll(focused).toBe(`delete preview ${older}`);
    await page.getByTestId('toast').filter({ hasText: `Deleted preview #${newest}` }).getByRole('button', { name: 'Undo' }).click();
    await row(newest).waitFor();
    await expect.poll(focused).toBe(`delete preview ${newest}`);
    expect((await lab.listMergePreviews()).length).toBe(2);

    await row(newest).getByRole('button', { name: `delete preview ${newest}` }).click();
    await row(newest).waitFor({ state: 'detached' });
    await page.reload();
    await row(older).waitFor();
    await expect.poll(async () => (await lab.listMergePreviews()).map((p) => p.id)).toEqual([older]);
    await expect(rows().count()).resolves.toBe(1);
  });

  it('raised no errors in the page; the only refused calls were the provoked ones', () => {
    expect(pageErrors).toEqual([]);
    expect(refused).toEqual(['409 /api/exportWeights', '409 /api/exportWeights']); // the two “already exists” asked on purpose
  });
});
