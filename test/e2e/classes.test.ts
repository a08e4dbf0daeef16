/**
 * Class names and the data set's own shape in every renderer view (issue 13), in a real
 * browser over a real Lab: a tiny colour image data set with named classes ("Apple",
 * "Leaf", "Sky", "Sunflower-yellow", 8×8 RGB) is written as a PNG folder with sharp into
 * the export folder and imported through the API; a tiny base and a LoRA on "Sky" are
 * trained on it, and a tiny MNIST base beside them. Then: the Run page names its data set
 * and heads its confusion matrix with the class names; the gallery's tiles are 8×8
 * canvases in colour captioned "true: …, predicted: …"; the Runs table names the focus
 * class and, with runs on two data sets, each run's data set; Compare names the focus
 * class, and says so when the runs are on different data sets (a per-class chart per
 * class list); a merge preview heads its per-class columns with the names; Models names
 * each model's data set; a LoRA from the Shapes base on a second set of that shape ("Gems")
 * says "domain shift". And a table data set of 60 classes (a CSV of 3 features): its
 * confusion matrix gives way to the largest confusions, its gallery filters by a menu of
 * names and shows each row as a heat strip with its first values.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src-main/contract/api.ts';
import { defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const CLASSES = ['Apple', 'Leaf', 'Sky', 'Sunflower-yellow'];
const COLOURS: [number, number, number][] = [
  [200, 40, 40],
  [40, 170, 60],
  [60, 110, 220],
  [220, 200, 40],
];
const SIDE = 8;
const PER_CLASS = 30;
const SIZES = [SIDE * SIDE * 3, 16, CLASSES.length];
const FOCUS = 2; // Sky

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const runs: { base?: RunView; lora?: RunView; mnist?: RunView; table?: RunView; shifted?: RunView } = {};
/** A second set of the same shape and class count: a LoRA on it from the Shapes base is a domain shift. */
const GEMS = ['Azure', 'Gold', 'Jade', 'Ruby'];
let datasetId = 0;
const SPECIES = Array.from({ length: 60 }, (_, i) => `species ${String(i + 1).padStart(2, '0')}`);

/** A CSV of 60 classes × 10 rows, 3 float features each (the classes overlap: many confusions). */
function writeSpecies(file: string): void {
  const rand = rng(7);
  const lines = ['label,f0,f1,f2'];
  SPECIES.forEach((name, c) => {
    for (let k = 0; k < 10; k++) lines.push([name, (c / 10 + rand()).toFixed(3), (Math.sin(c) + rand()).toFixed(3), (rand() - 0.5).toFixed(3)].join(','));
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** A seeded generator, so the images (and so the test) are the same every time. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** ROOT/<class>/<n>.png: each class a colour with strong noise (a 3-step model still gets many wrong). */
async function writeShapes(root: string, classes = CLASSES, seed = 13): Promise<void> {
  const rand = rng(seed);
  for (const [c, name] of classes.entries()) {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (let k = 0; k < PER_CLASS; k++) {
      const px = Buffer.alloc(SIDE * SIDE * 3); // [h, w, 3]
      for (let i = 0; i < SIDE * SIDE; i++) {
        for (let ch = 0; ch < 3; ch++) px[i * 3 + ch] = Math.max(0, Math.min(255, Math.round((COLOURS[c]?.[ch] ?? 0) + (rand() - 0.5) * 220)));
      }
      await sharp(px, { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toFile(join(dir, `${k}.png`));
    }
  }
}

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

const text = (s: string | null) => (s ?? '').replace(/\s+/g, ' ').trim();

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-classes-', concurrency: 2 });
  ({ lab, page, pageErrors } = e2e);
  await writeShapes(join(lab.exportDir, 'shapes'));
  const ds = await lab.importDataset({ path: 'shapes', name: 'Shapes', testFraction: 0.25, seed: 1 });
  datasetId = ds.id;
  expect(ds).toMatchObject({ kind: 'image', shape: [SIDE, SIDE, 3], classes: CLASSES });

  const tiny = { batchSize: 16, evalEvery: 0, testLimit: null, trainLimit: null };
  const [base, mnist] = await Promise.all([
    lab.createRun({ name: 'shapes base', config: { ...defaultConfig('base'), ...tiny, data: datasetId, sizes: SIZES, maxSteps: 3 } }),
    lab.createRun({ name: 'mnist base', config: { ...defaultConfig('base'), ...tiny, sizes: [784, 16, 10], maxSteps: 3, trainLimit: 200, testLimit: 200 } }),
  ]);
  runs.base = await lab.waitForRun(base.id);
  runs.mnist = await lab.waitForRun(mnist.id);
  expect(runs.base.status).toBe('completed');
  expect(runs.mnist.status).toBe('completed');
  const lora = await lab.createRun({
    name: 'shapes lora on Sky',
    baseModelId: runs.base.modelId,
    config: { ...defaultConfig('lora'), ...tiny, data: datasetId, sizes: SIZES, classes: [FOCUS], maxSteps: 10, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } },
  });
  runs.lora = await lab.waitForRun(lora.id);
  expect(runs.lora.status).toBe('completed');

  await writeShapes(join(lab.exportDir, 'gems'), GEMS, 29);
  const gems = await lab.importDataset({ path: 'gems', name: 'Gems', testFraction: 0.25, seed: 1 });
  const shifted = await lab.createRun({
    name: 'gems lora from shapes',
    baseModelId: runs.base.modelId,
    config: { ...defaultConfig('lora'), ...tiny, data: gems.id, sizes: SIZES, classes: null, maxSteps: 4, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } },
  });
  runs.shifted = await lab.waitForRun(shifted.id);
  expect(runs.shifted.status).toBe('completed');

  writeSpecies(join(lab.exportDir, 'species.csv'));
  const table = await lab.importDataset({ path: 'species.csv', name: 'Species', testFraction: 0.2, seed: 1 });
  expect(table).toMatchObject({ kind: 'table', shape: [3], classes: SPECIES });
  const run = await lab.createRun({ name: 'species base', config: { ...defaultConfig('base'), ...tiny, data: table.id, sizes: [3, 16, SPECIES.length], maxSteps: 3 } });
  runs.table = await lab.waitForRun(run.id);
  expect(runs.table.status).toBe('completed');
}, 300_000);

afterAll(async () => {
  await e2e?.close();
});

describe('class names and data set shapes in the views', () => {
  it('the Run page names its data set and heads the confusion matrix with the class names', async () => {
    const lora = runs.lora!;
    expect(lora.dataset?.name).toBe('Shapes');
    expect(lora.focusClasses).toEqual(['Sky']);
    await go(`#/runs/${lora.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor();
    await expect(page.getByTestId('run-dataset').textContent().then(text)).resolves.toBe('data Shapes · 8×8 colour · 4 classes');
    await page.getByTestId('run-stats').getByText('Wrong on Sky').waitFor();
    const matrix = page.getByRole('table', { name: 'Confusion matrix' });
    // Column heads (after the corner) and row heads: the names, in class order; a long one cut, in full in its tooltip.
    const cols = matrix.locator('[role="columnheader"][title]');
    await expect(cols.evaluateAll((els) => els.map((e) => e.getAttribute('title')))).resolves.toEqual(CLASSES);
    await expect(cols.allTextContents().then((t) => t.map(text))).resolves.toEqual(['Apple', 'Leaf', 'Sky', 'Sunflower-y…']);
    await expect(matrix.getByRole('rowheader').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).resolves.toEqual(CLASSES);
    await expect(page.getByText('rows: true class · columns: predicted class').count()).resolves.toBe(1);
    await expect(page.getByRole('heading', { name: /^Wrong answers per class/ }).count()).resolves.toBe(1);
    // The configuration says which data set and which class by name.
    await expect(page.locator('td[data-path="data"]').textContent()).resolves.toBe(`Shapes (#${datasetId})`);
    await expect(page.locator('td[data-path="classes"]').textContent()).resolves.toBe('Sky');
  });

  it('the gallery draws its tiles as 8×8 colour canvases captioned with class names', async () => {
    const { evaluations } = await lab.getRun(runs.lora!.id);
    const after = evaluations.after!;
    const wrong = after.wrongPerClass.reduce((s, n) => s + n, 0);
    expect(wrong).toBeGreaterThan(0); // a 3-step base fine-tuned for 10 steps still gets many wrong
    const filter = page.getByRole('group', { name: 'true class' });
    await expect(filter.getByRole('button').allTextContents().then((t) => t.map(text))).resolves.toEqual([
      'all',
      ...CLASSES.map((c, i) => `${c.length > 10 ? `${c.slice(0, 9)}…` : c}${after.wrongPerClass[i]}`),
    ]);
    const tiles = page.locator('.tiles li');
    await tiles.first().waitFor();
    await expect(tiles.count()).resolves.toBe(Math.min(48, wrong));
    // Every caption names the classes of its sample, from the Lab's own labels and predictions.
    const labels = await lab.datasetLabels(datasetId, 'test');
    const first = tiles.first();
    const index = Number(await first.getAttribute('data-index'));
    const truth = CLASSES[labels[index]!]!;
    const predicted = CLASSES[after.predictions[index]!]!;
    expect(truth).not.toBe(predicted);
    await expect(first.locator('canvas').getAttribute('aria-label')).resolves.toBe(`true: ${truth}, predicted: ${predicted}`);
    await expect(first.locator('.cap').textContent().then(text)).resolves.toMatch(new RegExp(`^true: ${truth} predicted: .*${predicted}$`));
    // The canvas is the image at its own size, in colour: its pixels are the sample's bytes.
    const [sample] = await lab.datasetSamples(datasetId, 'test', [index]);
    await expect
      .poll(() =>
        first.locator('canvas').evaluate((el: HTMLCanvasElement) => {
          const d = el.getContext('2d')!.getImageData(0, 0, el.width, el.height).data;
          return { w: el.width, h: el.height, channels: el.dataset['channels'], rgb: [d[0], d[1], d[2], d[4], d[5], d[6]] };
        }),
      )
      .toEqual({ w: SIDE, h: SIDE, channels: '3', rgb: sample!.values.slice(0, 6) });
    const css = await first.locator('canvas').evaluate((el) => el.getBoundingClientRect().width);
    expect(css).toBe(48); // scaled by a whole factor: 8 px × 6
    // Filtering by a class keeps only its samples.
    await filter.getByRole('button', { name: /^Sky/ }).click();
    await expect.poll(() => tiles.count()).toBe(after.wrongPerClass[FOCUS]);
    await expect(page.locator('.tiles canvas').evaluateAll((els) => els.every((e) => e.getAttribute('aria-label')?.startsWith('true: Sky,')))).resolves.toBe(true);
    await filter.getByRole('button', { name: 'all' }).click();
    await saveScreenshot(page, 'run-named-classes');
    expect(pageErrors).toEqual([]);
  });

  it('the Runs table names the focus class and, with runs on two data sets, each run’s data set', async () => {
    await go('#/runs');
    const row = (r: RunView) => page.locator(`table.runs tbody tr[data-run-id="${r.id}"]`);
    const lora = runs.lora!;
    await row(lora).waitFor();
    const focus = row(lora).getByTestId('focus-cell');
    await expect(focus.locator('.on').textContent()).resolves.toBe('on Sky');
    await expect(focus.locator('.count').textContent()).resolves.toBe(`${lora.focusWrongBefore} → ${lora.focusWrong}`);
    await expect(focus.locator('.other').textContent()).resolves.toMatch(/^other classes \d+\.\d% → \d+\.\d%$/);
    await expect(page.getByRole('columnheader', { name: 'Data set' }).count()).resolves.toBe(1);
    await expect(row(lora).getByTestId('run-dataset').textContent().then(text)).resolves.toBe('Shapes');
    await expect(row(runs.mnist!).getByTestId('run-dataset').textContent().then(text)).resolves.toBe(runs.mnist!.dataset!.name);
  });

  it('Compare names the focus class; runs on different data sets are said to be, and charted per class list', async () => {
    await go(`#/compare?ids=${runs.base!.id},${runs.lora!.id}`);
    await page.getByRole('heading', { name: 'Compare 2 runs' }).waitFor();
    const lora = await lab.getRun(runs.lora!.id);
    const n = lora.evaluations.after!.countPerClass[FOCUS];
    const cells = await page.getByTestId('focus-wrong').locator('td.num').allTextContents();
    expect(cells.map(text)).toEqual(['—', `${lora.focusWrongBefore} → ${lora.focusWrong} of ${n} · Sky`]);
    await expect(page.getByTestId('focus-wrong').locator('th').textContent()).resolves.toBe('wrong on focus classes');
    await expect(page.locator('tr[data-param="classes"] td').allTextContents()).resolves.toEqual(['—', 'Sky']);
    await expect(page.getByTestId('datasets-note').count()).resolves.toBe(0);
    await expect(page.getByTestId('per-class-chart').count()).resolves.toBe(1);

    await go(`#/compare?ids=${runs.mnist!.id},${runs.lora!.id}`);
    const note = page.getByTestId('datasets-note');
    await note.waitFor();
    const mnistName = runs.mnist!.dataset!.name;
    expect(text(await note.textContent())).toBe(
      `These runs are on 2 data sets: ${mnistName} (mnist base); Shapes (shapes lora on Sky). Their metrics are measured on different test sets, and per-class errors are shown for each class list apart.`,
    );
    const charts = page.getByTestId('per-class-chart');
    await expect(charts.count()).resolves.toBe(2);
    await expect(charts.locator('h2').allTextContents().then((t) => t.map(text))).resolves.toEqual([
      `Wrong answers per digit (final evaluation): ${mnistName}`,
      'Wrong answers per class (final evaluation): Shapes',
    ]);
    await expect(page.locator('tr[data-param="data"] td').allTextContents()).resolves.toEqual([mnistName, 'Shapes']);
    expect(pageErrors).toEqual([]);
  });

  it('a merge preview heads its per-class columns with the class names', async () => {
    const lora = runs.lora!;
    const kept = await lab.keepMergePreview({ baseModelId: runs.base!.modelId!, adapters: [{ adapterId: lora.adapterId!, weight: 1 }], method: 'linear' });
    expect(kept.combined.classes).toEqual(CLASSES);
    await go(`#/merge?base=${runs.base!.modelId}`);
    const table = page.getByRole('table', { name: 'preview', exact: true });
    await table.waitFor();
    const heads = table.locator('thead th.per-class-n');
    await expect(heads.evaluateAll((els) => els.map((e) => e.getAttribute('title')))).resolves.toEqual(CLASSES.map((c) => `wrong on ${c}`));
    await expect(heads.allTextContents()).resolves.toEqual(['Apple', 'Leaf', 'Sky', 'Sunflower…']);
    const combined = await table.locator('tr[data-row="combined (linear)"] td.per-class-n').allTextContents();
    expect(combined.map(Number)).toEqual(kept.combined.wrongPerClass);
    const history = page.getByRole('table', { name: 'previews' });
    await expect(history.locator('thead th.per-class-n').allTextContents()).resolves.toEqual(['Apple', 'Leaf', 'Sky', 'Sunflower…']);
    // The adapter says what it was fine-tuned on, by name.
    await expect(page.locator('ul.adapters li').filter({ hasText: lora.name }).locator('.meta').textContent()).resolves.toBe('Sky · r 2');
    await page.locator('figure.chart figcaption', { hasText: 'Wrong answers per class' }).first().waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('Models names each model’s data set, and its evaluation the classes', async () => {
    await go('#/models');
    const models = page.getByRole('table', { name: 'models' });
    const shapesRow = models.locator(`tr[data-model="${runs.base!.modelId}"]`);
    await expect(shapesRow.getByTestId('model-dataset').textContent()).resolves.toBe('Shapes');
    await expect(models.locator(`tr[data-model="${runs.mnist!.modelId}"]`).getByTestId('model-dataset').textContent()).resolves.toBe(runs.mnist!.dataset!.name);
    await shapesRow.getByRole('button', { name: 'Evaluate' }).click();
    const model = (await lab.listModels()).find((m) => m.id === runs.base!.modelId)!;
    expect(model.dataset?.name).toBe('Shapes');
    const ev = page.getByRole('table', { name: `evaluation of ${model.name}` });
    await ev.waitFor({ timeout: 60_000 });
    await expect(ev.locator('thead th').allTextContents()).resolves.toEqual(['class', 'Apple', 'Leaf', 'Sky', 'Sunflower…']);
    expect(pageErrors).toEqual([]);
  });

  it('60 table classes: the largest confusions instead of a matrix; a menu of names; rows as heat strips with their values', async () => {
    const run = await lab.getRun(runs.table!.id);
    const after = run.evaluations.after!;
    await go(`#/runs/${run.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor();
    await expect(page.getByTestId('run-dataset').textContent().then(text)).resolves.toBe('data Species · 3 features · 60 classes');
    await expect(page.getByTestId('confusion-too-many').textContent().then(text)).resolves.toMatch(/^60 classes are too many for a legible matrix: the 20 largest confusions instead/);
    await expect(page.getByRole('table', { name: 'Confusion matrix', exact: true }).count()).resolves.toBe(0);
    // The list: the largest off-diagonal counts of the matrix, by name, largest first.
    const top = page.getByRole('table', { name: 'Confusion matrix: largest confusions' });
    const first = top.locator('tbody tr').first();
    const largest = Math.max(...after.confusion.flatMap((row, t) => row.filter((_, p) => p !== t)));
    await expect(first.locator('td').nth(2).textContent().then((t) => Number(text(t).split(' ')[0]))).resolves.toBe(largest);
    const [t, p] = [SPECIES.indexOf((await first.locator('td').nth(0).textContent())!), SPECIES.indexOf((await first.locator('td').nth(1).textContent())!)];
    expect(after.confusion[t]?.[p]).toBe(largest);
    await expect(page.getByRole('heading', { name: 'Misclassified test rows' }).count()).resolves.toBe(1);

    // Filter: a menu of the 60 names with their counts.
    const pick = page.getByLabel('true class');
    const wrong = after.wrongPerClass.reduce((a, b) => a + b, 0);
    await expect(pick.locator('option').count()).resolves.toBe(61);
    await expect(pick.locator('option').first().textContent()).resolves.toBe(`all (${wrong})`);
    await expect(pick.locator('option').nth(5).textContent()).resolves.toBe(`species 05 (${after.wrongPerClass[4]})`);
    // A tile: the row's three features as a strip and as numbers, captioned by name.
    const tile = page.locator('.tiles li').first();
    await tile.locator('.strip span').first().waitFor();
    await expect(tile.locator('.strip span').count()).resolves.toBe(3);
    const index = Number(await tile.getAttribute('data-index'));
    const [sample] = await lab.datasetSamples(runs.table!.config.data, 'test', [index]);
    const shown = (await tile.locator('.nums').textContent())!.split(' ').map(Number);
    shown.forEach((v, i) => expect(v).toBeCloseTo(sample!.values[i]!, 2));
    await expect(tile.getByRole('img').getAttribute('aria-label')).resolves.toBe(`true: ${SPECIES[sample!.label]}, predicted: ${SPECIES[after.predictions[index]!]}`);
    // Choosing a class in the menu keeps only its rows.
    const withErrors = after.wrongPerClass.findIndex((n) => n > 0);
    await pick.selectOption(String(withErrors));
    await expect.poll(() => page.locator('.tiles li').count()).toBe(after.wrongPerClass[withErrors]);
    await saveScreenshot(page, 'run-table-classes');
    expect(pageErrors).toEqual([]);
  });

  it('a LoRA on another data set than its base’s says so: domain shift on its page and in the Runs table', async () => {
    const run = runs.shifted!;
    expect(run.baseDataset?.name).toBe('Shapes');
    await go(`#/runs/${run.id}`);
    await page.locator('.page-head [data-status="completed"]').waitFor();
    await expect(page.getByTestId('run-dataset').textContent().then(text)).resolves.toBe('data Gems · 8×8 colour · 4 classes');
    await expect(page.getByTestId('domain-shift').textContent().then(text)).resolves.toBe('domain shift: base trained on Shapes');
    const matrix = page.getByRole('table', { name: 'Confusion matrix' });
    await expect(matrix.getByRole('rowheader').allTextContents()).resolves.toEqual(GEMS);
    await go('#/runs');
    const cell = page.locator(`table.runs tbody tr[data-run-id="${run.id}"]`).getByTestId('run-dataset');
    await expect(cell.textContent().then(text)).resolves.toBe('Gems from Shapes');
    await expect(page.locator(`table.runs tbody tr[data-run-id="${runs.lora!.id}"]`).getByTestId('run-dataset').locator('.shift').count()).resolves.toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
