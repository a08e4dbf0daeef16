/**
 * Issue 13 in a real browser over a real Lab: the Data page and the New run form's data
 * set picker.
 *  - MNIST first, with its shape, counts per class and a grid of test samples drawn on
 *    canvases; Fashion-MNIST offered with Add, and added from the page;
 *  - a CSV table and a folder of PNGs (made with sharp) dropped into the exchange
 *    folder are imported through the dialog: counts per class under their class names,
 *    shape, origin; a broken CSV shows the Lab's message in the dialog and stores nothing;
 *  - New run on the imported image set: the widths follow it, the classes are its, a
 *    base run trains through the form and is listed in Runs; a fine-tune of its model
 *    disables data sets of another shape and names the domain shift for one of the same;
 *  - delete is refused up front while a run uses the data set, and works otherwise.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetView } from '../../src-main/contract/dataset.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const ids = { wine: 0, shapes: 0, shapesRun: 0, shapesModel: 0 };

const WINE_CLASSES = ['alpha', 'beta', 'gamma'];
const PER_CLASS = 30;
/** A 4-feature table: class k's rows around k, no two alike. */
function wineCsv(): string {
  const rows = ['label,acidity,sugar,alcohol,ash'];
  for (let i = 0; i < PER_CLASS; i++) {
    for (const [k, name] of WINE_CLASSES.entries()) rows.push([name, k + i * 0.013, 2 * k - i * 0.021, 10.5 + k + i * 0.007, 0.3 * k + i * 0.011].join(','));
  }
  return `${rows.join('\n')}\n`;
}

/** 8×8 RGB: a red disk or a blue square on black, shifted by `i` so every image differs. */
async function shapePng(kind: 'circle' | 'square', i: number, tint = 0): Promise<Buffer> {
  const px = Buffer.alloc(8 * 8 * 3); // [h, w, 3]
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const inside = kind === 'circle' ? (x - 3.5) ** 2 + (y - 3.5) ** 2 < 7 : x >= 2 && x < 6 && y >= 2 && y < 6;
      const o = (y * 8 + x) * 3;
      if (inside) {
        px[o] = kind === 'circle' ? 220 : 30 + tint;
        px[o + 1] = 40 + ((i * 7 + tint) % 50);
        px[o + 2] = kind === 'circle' ? 30 + tint : 230;
      } else px[o + (i % 3)] = (i * 11 + tint) % 40;
    }
  }
  return sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
}

async function shapesFolder(dir: string, n: number, tint = 0): Promise<void> {
  for (const kind of ['circle', 'square'] as const) {
    mkdirSync(join(dir, kind), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, kind, `${kind}-${i}.png`), await shapePng(kind, i, tint));
  }
  writeFileSync(join(dir, 'square', 'README.txt'), 'not an image: skipped');
}

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

/** The counts per class the bar chart shows: class → [train, test]. */
async function barCounts(): Promise<Record<string, [string, string]>> {
  return page.locator('table.class-bars tbody tr').evaluateAll((rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.getAttribute('data-class'),
        [r.querySelector('[data-split="train"] .n')?.textContent?.trim(), r.querySelector('[data-split="test"] .n')?.textContent?.trim()],
      ]),
    ),
  );
}

/** Canvases of the sample grid that have been drawn with more than one colour. */
async function drawnCanvases(): Promise<{ total: number; drawn: number }> {
  return page.getByTestId('sample-grid').locator('canvas').evaluateAll((els) => {
    let drawn = 0;
    for (const el of els as HTMLCanvasElement[]) {
      const px = el.getContext('2d')?.getImageData(0, 0, el.width, el.height).data;
      if (!px || px[3] === 0) continue;
      const first = `${px[0]},${px[1]},${px[2]}`;
      for (let i = 4; i < px.length; i += 4) {
        if (`${px[i]},${px[i + 1]},${px[i + 2]}` !== first) {
          drawn++;
          break;
        }
      }
    }
    return { total: els.length, drawn };
  });
}

async function importThroughDialog(entry: string, opts: { name?: string; fraction?: string; seed?: string } = {}): Promise<void> {
  await go('#/data');
  await page.getByRole('button', { name: 'Import…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Import a data set' });
  await dialog.locator(`input[type="radio"][value="${entry}"]`).check();
  if (opts.name !== undefined) await dialog.getByLabel('Data set name').fill(opts.name);
  if (opts.fraction !== undefined) await dialog.getByLabel('Test fraction').fill(opts.fraction);
  if (opts.seed !== undefined) await dialog.getByLabel('Split seed').fill(opts.seed);
  await dialog.getByLabel('Split seed').press('Enter'); // Enter imports
}

beforeAll(async () => {
  e2e = await startE2E({
    prefix: 'lora-lab-e2e-data-',
    // The broken CSV's refusal is an HTTP 400 the browser logs.
    expectedConsoleError: (text) => /^Failed to load resource: the server responded with a status of 4\d\d/.test(text),
  });
  ({ lab, page, pageErrors } = e2e);
  mkdirSync(lab.exportDir, { recursive: true });
  writeFileSync(join(lab.exportDir, 'wine.csv'), wineCsv());
  writeFileSync(join(lab.exportDir, 'broken.csv'), 'label,a,b\nalpha,1,2\nbeta,1,x\n');
  await shapesFolder(join(lab.exportDir, 'shapes'), 20);
  await shapesFolder(join(lab.exportDir, 'shapes-b'), 10, 17);
}, 60_000);

afterAll(async () => {
  await e2e?.close();
});

describe('the Data page', () => {
  it('lists MNIST first with its shape, counts per digit and drawn test samples; Fashion-MNIST can be added', async () => {
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Data' }).click();
    await page.waitForURL(/#\/data$/);
    const list = page.getByRole('navigation', { name: 'data sets' });
    await list.getByRole('link').first().waitFor();
    expect((await list.getByRole('link').first().textContent())?.replace(/\s+/g, ' ').trim()).toBe('mnist 28×28 grey · 10 classes 60,000 train · 10,000 test');
    const card = page.getByTestId('dataset-card');
    expect(await card.getByTestId('dataset-shape').textContent()).toContain('28×28 grey');
    expect(await card.getByRole('button', { name: 'Delete…' }).count()).toBe(0); // built in
    const counts = await barCounts();
    expect(Object.keys(counts)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(counts['7']).toEqual(['6,265', '1,028']);
    await expect.poll(async () => (await drawnCanvases()).drawn).toBe(80); // 8 per digit
    await saveScreenshot(page, 'data-mnist');

    const fashion = page.locator('[data-builtin="fashion-mnist"]');
    await fashion.getByRole('button', { name: 'add Fashion-MNIST' }).click();
    await fashion.getByRole('progressbar', { name: 'adding Fashion-MNIST' }).waitFor();
    await page.waitForURL(/#\/data\/\d+$/, { timeout: 120_000 });
    await card.getByRole('heading', { name: 'fashion-mnist' }).waitFor();
    expect(await fashion.count()).toBe(0);
    expect(Object.keys(await barCounts())).toContain('T-shirt/top');
    expect(await card.getByTestId('test-count').textContent()).toBe('10,000');
    await expect.poll(async () => (await drawnCanvases()).drawn).toBe(80);
    expect(pageErrors).toEqual([]);
  });

  it('imports a CSV table from the exchange folder: class names, counts per class, shape and the split used', async () => {
    await importThroughDialog('wine.csv', { fraction: '0.2', seed: '3' });
    await page.waitForURL(/#\/data\/\d+$/);
    ids.wine = Number(/\/data\/(\d+)$/.exec(page.url())![1]);
    const card = page.getByTestId('dataset-card');
    await card.getByRole('heading', { name: 'wine' }).waitFor();
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect(await card.getByTestId('dataset-shape').textContent()).toContain('4 features');
    expect(await card.getByTestId('train-count').textContent()).toBe('72');
    expect(await card.getByTestId('test-count').textContent()).toBe('18');
    expect(await barCounts()).toEqual({ alpha: ['24', '6'], beta: ['24', '6'], gamma: ['24', '6'] });
    const origin = (await card.getByTestId('dataset-origin').textContent())?.replace(/\s+/g, ' ');
    expect(origin).toContain('Test fraction 0.2');
    expect(origin).toContain('Split seed 3');
    expect(origin).toContain('wine.csv');
    // Table rows in the grid: 6 test rows of each class, each a strip of its values.
    const grid = page.getByTestId('sample-grid');
    await expect.poll(() => grid.getByRole('img', { name: /^alpha, test sample/ }).count()).toBe(6);
    expect(await grid.locator('[data-class]').evaluateAll((els) => els.map((e) => e.getAttribute('data-class')))).toEqual(WINE_CLASSES);
    const view = await lab.getDataset(ids.wine);
    expect(view).toMatchObject({ kind: 'table', shape: [4], classes: WINE_CLASSES, source: 'csv' });
  });

  it('a broken CSV: the Lab’s message in the dialog, nothing stored', async () => {
    const before = (await lab.listDatasets()).datasets.length;
    await importThroughDialog('broken.csv');
    const dialog = page.getByRole('dialog', { name: 'Import a data set' });
    const error = dialog.getByTestId('import-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/broken\.csv.*(line|row) 3/);
    expect((await lab.listDatasets()).datasets.length).toBe(before);
    await saveScreenshot(page, 'data-import-error');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  it('imports a folder of PNGs, one subfolder per class: colour, drawn at 8×8, skipped files said', async () => {
    await importThroughDialog('shapes');
    await page.waitForURL(/#\/data\/\d+$/);
    ids.shapes = Number(/\/data\/(\d+)$/.exec(page.url())![1]);
    const card = page.getByTestId('dataset-card');
    await card.getByRole('heading', { name: 'shapes' }).waitFor();
    expect(await card.getByTestId('dataset-shape').textContent()).toContain('8×8 colour');
    expect(await barCounts()).toEqual({ circle: ['16', '4'], square: ['16', '4'] });
    expect((await card.getByTestId('dataset-origin').textContent())?.replace(/\s+/g, ' ')).toContain('Skipped files 1');
    await expect.poll(async () => drawnCanvases()).toEqual({ total: 8, drawn: 8 });
    expect(await page.getByTestId('sample-grid').locator('canvas').first().evaluate((c: HTMLCanvasElement) => [c.width, c.height, c.dataset['channels']])).toEqual([8, 8, '3']);
    await saveScreenshot(page, 'data-images');
    // At 800 px the list goes above the data set, and nothing scrolls sideways.
    await page.setViewportSize({ width: 800, height: 900 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth)).toBe(true);
    await saveScreenshot(page, 'data-images-800');
    await page.setViewportSize({ width: 1440, height: 900 });
    // "Train on it" opens New run on this data set.
    await card.getByRole('link', { name: 'Train on it' }).click();
    await page.waitForURL(new RegExp(`#/new\\?kind=base&data=${ids.shapes}$`));
    await expect.poll(() => page.getByLabel('Data set').locator('option:checked').textContent()).toContain('shapes — 8×8 colour');
    expect(await page.getByLabel('Layer widths').inputValue()).toBe('192, 1000, 2000, 2');
    expect(pageErrors).toEqual([]);
  });
});

describe('New run on an imported data set', () => {
  it('picks the data set: widths and classes follow it; a base run trains through the form', async () => {
    await go('#/new?kind=base');
    const picker = page.getByLabel('Data set');
    await picker.waitFor();
    expect(await picker.locator('option:checked').textContent()).toContain('mnist — 28×28 grey');
    expect(await page.getByLabel('Layer widths').inputValue()).toBe('784, 1000, 2000, 10');
    await page.getByLabel('Layer widths').fill('784, 32, 10');
    await picker.selectOption({ label: 'shapes — 8×8 colour · 2 classes' });
    // Input and output follow the data set; the hidden width typed stays.
    await expect.poll(() => page.getByLabel('Layer widths').inputValue()).toBe('192, 32, 2');
    expect(await page.getByRole('group', { name: 'Train on classes' }).getByRole('checkbox').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).toEqual([
      'class circle',
      'class square',
    ]);
    expect(await page.getByTestId('data-counts').textContent()).toContain('32 training and 8 test images');
    const summary = page.getByRole('complementary', { name: 'run summary' });
    expect(await summary.getByTestId('examples-estimate').textContent()).toBe('32');
    expect(await summary.getByTestId('test-images').textContent()).toBe('8');
    // A width that does not fit is said, naming the data set.
    await page.getByLabel('Layer widths').fill('784, 32, 2');
    await page.getByText('the input width must be 192 (the values of one sample of shapes), got 784').waitFor();
    await page.getByLabel('Layer widths').fill('192, 16, 2');
    await page.getByLabel('Batch size').fill('8');
    await page.getByLabel('Max steps').fill('12');
    await page.getByLabel('Name').fill('shapes base');
    await saveScreenshot(page, 'new-run-data');
    await page.getByLabel('Name').press('Enter');
    await page.waitForURL(/#\/runs\/\d+$/);
    ids.shapesRun = Number(/\/runs\/(\d+)$/.exec(page.url())![1]);
    const run = await lab.waitForRun(ids.shapesRun);
    expect(run.status).toBe('completed');
    expect(run.config).toMatchObject({ data: ids.shapes, sizes: [192, 16, 2], classes: null });
    ids.shapesModel = run.modelId as number;
    await go('#/runs');
    await page.getByRole('link', { name: 'shapes base' }).first().waitFor();
  });

  it('a fine-tune of that model is on its data set; other shapes are disabled; the same shape says domain shift', async () => {
    const other = await lab.importDataset({ path: 'shapes-b', name: 'shapes b' });
    expect(other.shape).toEqual([8, 8, 3]);
    await go(`#/new?kind=lora&base=${ids.shapesModel}`);
    const picker = page.getByLabel('Data set');
    await picker.waitFor();
    await expect.poll(() => picker.locator('option:checked').textContent()).toContain('shapes — 8×8 colour');
    const options = await picker.locator('option').evaluateAll((els) => (els as HTMLOptionElement[]).map((o) => [o.textContent?.trim(), o.disabled]));
    expect(options).toEqual([
      ['mnist — 28×28 grey · 10 classes — does not fit the base', true],
      ['fashion-mnist — 28×28 grey · 10 classes — does not fit the base', true],
      ['wine — 4 features · 3 classes — does not fit the base', true],
      ['shapes — 8×8 colour · 2 classes', false],
      ['shapes b — 8×8 colour · 2 classes', false],
    ]);
    expect(await page.getByTestId('domain-shift').count()).toBe(0);
    await picker.selectOption({ label: 'shapes b — 8×8 colour · 2 classes' });
    expect(await page.getByTestId('domain-shift').textContent()).toBe('Domain shift: the base was trained on shapes.');
    await page.getByLabel('class square').check({ force: true });
    expect(await page.getByRole('complementary', { name: 'run summary' }).getByTestId('examples-estimate').textContent()).toBe('8');
    expect(await page.getByLabel('Name').getAttribute('placeholder')).toMatch(/^LoRA r1 α1 on square seed 0$/);
    await saveScreenshot(page, 'new-run-domain-shift');
    expect(pageErrors).toEqual([]);
  });

  it('a clone keeps its source run’s data set', async () => {
    await go(`#/new?from=${ids.shapesRun}`);
    const picker = page.getByLabel('Data set');
    await picker.waitFor();
    expect(await picker.locator('option:checked').textContent()).toContain('shapes — 8×8 colour');
    expect(await page.getByLabel('Layer widths').inputValue()).toBe('192, 16, 2');
  });
});

describe('deleting a data set', () => {
  it('is refused up front while a run uses it, naming and linking the run', async () => {
    await go(`#/data/${ids.shapes}`);
    const card = page.getByTestId('dataset-card');
    await card.getByRole('heading', { name: 'shapes', exact: true }).waitFor();
    // The run trained on it, and the model that run made.
    const users = card.getByTestId('used-by').getByRole('listitem');
    await expect.poll(() => users.allTextContents()).toEqual(['run shapes base', 'model shapes base']);
    expect(await users.first().getByRole('link').getAttribute('href')).toBe(`#/runs/${ids.shapesRun}`);
    await card.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: '“shapes” cannot be deleted yet' });
    await dialog.waitFor();
    const blockers = dialog.getByTestId('delete-blockers');
    expect(await blockers.getByRole('link', { name: 'shapes base' }).getAttribute('href')).toBe(`#/runs/${ids.shapesRun}`);
    expect((await blockers.getByRole('listitem').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim())).toEqual([
      'run shapes base',
      'model shapes base (on Models; delete it there)',
    ]);
    expect(await dialog.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    await saveScreenshot(page, 'data-delete-refused');
    await dialog.getByRole('button', { name: 'Close' }).click();
    expect((await lab.listDatasets()).datasets.some((d: DatasetView) => d.id === ids.shapes)).toBe(true);
  });

  it('works when nothing uses it', async () => {
    await go(`#/data/${ids.wine}`);
    const card = page.getByTestId('dataset-card');
    await card.getByRole('heading', { name: 'wine' }).waitFor();
    await card.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this data set?' });
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL(/#\/data$/);
    await expect.poll(() => page.getByRole('navigation', { name: 'data sets' }).getByRole('link', { name: /^wine/ }).count()).toBe(0);
    expect((await lab.listDatasets()).datasets.map((d) => d.name)).toEqual(['mnist', 'fashion-mnist', 'shapes', 'shapes b']);
    expect(pageErrors).toEqual([]);
  });
});
