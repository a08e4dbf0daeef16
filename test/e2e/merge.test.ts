/**
 * Merge, export and import end to end, in a real browser (issue 5's "Done when"):
 * Debian chromium driven by playwright-core against the web-mode server over a real Lab
 * (temporary database and export folder, real trainer processes, tiny runs). A base
 * model and two adapters on different digits are trained through the API; everything
 * after that happens in the UI: two merge methods previewed side by side, one saved as a
 * model, exported as safetensors (and an adapter as a PEFT folder) with SHA-256 checked
 * against the files, the overwrite question, the safetensors imported back as a new
 * model that evaluates exactly like the merged one, deletes, and the Run and Compare
 * exports. Screenshots go to test-results/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergeRequest, RunView } from '../../src-main/contract/api.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';


const SIZES = [784, 64, 10];
const MERGED = 'merged 7+3 linear';
const MERGED_FILE = `${MERGED}.safetensors`;
const PEFT_FOLDER = 'adapter on 7-peft';

let e2e: E2E | undefined;
let lab: Lab | undefined;
let page: Page;
let pageErrors: string[] = [];
/** Chromium logs every 4xx answer; the refusals this test provokes (409 taken name, 400 broken file, 409 delete) are expected. */
const refusals: string[] = [];
const ids = { baseModel: 0, run7: 0, run3: 0, adapter7: 0, adapter3: 0, merged: 0, imported: 0 };

function theLab(): Lab {
  if (!lab) throw new Error('the lab did not open');
  return lab;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const exported = (name: string) => join(theLab().exportDir, name);

/** Confirmations would cover the page in screenshots (behind a modal dialog they cannot be clicked). */
async function dismissToasts(): Promise<void> {
  const close = page.getByTestId('toast').getByRole('button', { name: 'dismiss' });
  // One at a time: the list shifts as each goes (or expires by itself meanwhile).
  for (let i = 0; i < 10 && (await close.count()) > 0; i++) await close.first().click({ timeout: 2000 }).catch(() => undefined);
}

async function screenshot(name: string): Promise<void> {
  if ((await page.locator('dialog[open]').count()) === 0) await dismissToasts();
  await saveScreenshot(page, name);
}

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

async function nav(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name, exact: true }).click();
}

const modelRow = (id: number) => page.getByRole('table', { name: 'models' }).locator(`tr[data-model="${id}"]`);
const adapterRow = (id: number) => page.getByRole('table', { name: 'adapters' }).locator(`tr[data-adapter="${id}"]`);
/** Wrong counts per digit in a table row (its ten per-class cells, `td.per-class-n`). */
async function digitCells(row: ReturnType<Page['locator']>): Promise<number[]> {
  const cells = await row.locator('td.per-class-n').allTextContents();
  expect(cells).toHaveLength(10);
  return cells.map(Number);
}

function loraConfig(digit: number): RunConfig {
  return {
    ...defaultConfig('lora'),
    sizes: SIZES,
    classes: [digit],
    batchSize: 16,
    maxSteps: 30,
    lr: 0.001,
    trainLimit: 600,
    testLimit: 1000,
    evalEvery: 0,
    lora: { ...defaultLora(SIZES), r: 2, alpha: 2 },
  };
}

beforeAll(async () => {
  e2e = await startE2E({
    prefix: 'lora-lab-e2e-merge-',
    concurrency: 2,
    expectedConsoleError: (text) => {
      if (!/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return false;
      refusals.push(text);
      return true;
    },
  });
  ({ lab, page, pageErrors } = e2e);
});

afterAll(async () => {
  await e2e?.close();
});

describe('merge, export and import in a browser', () => {
  it('trains a tiny base model and fine-tunes two adapters on digits 7 and 3 (through the API)', async () => {
    const l = theLab();
    const base = await l.createRun({
      name: 'mg base',
      config: { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 100, lr: 0.003, trainLimit: 2000, testLimit: 1000, evalEvery: 0 },
    });
    const done = await l.waitForRun(base.id);
    expect(done.status).toBe('completed');
    ids.baseModel = done.modelId as number;
    const runs: RunView[] = await Promise.all(
      [7, 3].map((d) => l.createRun({ name: `adapter on ${d}`, baseModelId: ids.baseModel, config: loraConfig(d) })),
    );
    const [r7, r3] = await Promise.all(runs.map((r) => l.waitForRun(r.id)));
    expect([r7?.status, r3?.status]).toEqual(['completed', 'completed']);
    ids.run7 = r7!.id;
    ids.run3 = r3!.id;
    ids.adapter7 = r7!.adapterId as number;
    ids.adapter3 = r3!.adapterId as number;
  });

  it('combines them on the Merge page with two methods and shows both previews side by side', async () => {
    await nav('Merge');
    await page.getByRole('heading', { name: 'Merge adapters' }).waitFor();
    // The only model with adapters is chosen for us.
    await expect(page.getByLabel('Base model').locator('option:checked').textContent()).resolves.toContain('mg base');
    const preview = page.getByRole('button', { name: 'Preview', exact: true });
    await expect(preview.isDisabled()).resolves.toBe(true);

    await page.getByRole('checkbox', { name: 'adapter on 7' }).check();
    await page.getByRole('checkbox', { name: 'adapter on 3' }).check();
    // Weights from the keyboard: arrows step by 0.1.
    const w7 = page.getByLabel('weight of adapter on 7');
    await w7.focus();
    await w7.press('ArrowUp');
    await expect(w7.inputValue()).resolves.toBe('1.1');
    await w7.press('ArrowDown');
    await expect(w7.inputValue()).resolves.toBe('1');
    await page.getByLabel('Test images').fill('500');

    // A negative weight (task negation) is a weight like any other.
    await w7.fill('-0.5');
    await expect(w7.getAttribute('aria-invalid')).resolves.toBeNull();
    await expect(preview.isDisabled()).resolves.toBe(false);
    await w7.fill('1');

    // Every PEFT method is listed with a hint; each shows only the parameters it reads:
    // linear none, svd a rank, ties a density and a sign method, the dare ones a seed too.
    const method = page.getByLabel('Method', { exact: true });
    const options = await method.locator('option').allTextContents();
    expect(options.map((o) => o.split(' — ')[0])).toEqual(['linear', 'cat', 'svd', 'ties', 'ties_svd', 'dare_linear', 'dare_ties', 'dare_linear_svd', 'dare_ties_svd', 'magnitude_prune', 'magnitude_prune_svd']);
    for (const o of options) expect(o.split(' — ')[1]?.length ?? 0).toBeGreaterThan(10);
    await expect(page.getByLabel('Rank k').count()).resolves.toBe(0);
    await method.selectOption('dare_ties');
    await page.getByLabel('Density').waitFor();
    await page.getByLabel('Majority sign').waitFor();
    await page.getByLabel('Seed').waitFor();
    await expect(page.getByLabel('Rank k').count()).resolves.toBe(0); // factor-wise: the adapters' rank
    await method.selectOption('ties_svd');
    await page.getByLabel('Rank k').waitFor();
    await expect(page.getByLabel('Seed').count()).resolves.toBe(0);
    await method.selectOption('magnitude_prune');
    await page.getByLabel('Density').waitFor();
    await expect(page.getByLabel('Majority sign').count()).resolves.toBe(0);
    await method.selectOption('linear');
    await expect(page.getByLabel('Density').count()).resolves.toBe(0);

    await preview.click();
    await page.getByRole('button', { name: 'Previewing…' }).waitFor(); // busy while the trainer evaluates
    const latest = page.getByRole('table', { name: 'preview', exact: true });
    await latest.locator('tr[data-row="combined (linear)"]').waitFor({ timeout: 60_000 });
    await latest.locator('tr[data-row="“adapter on 7” alone"]').waitFor();
    await latest.locator('tr[data-row="“adapter on 3” alone"]').waitFor();

    await method.selectOption('svd');
    await page.getByLabel('Rank k').fill('1');
    await page.getByLabel('Rank k').press('Enter'); // Enter previews
    await latest.locator('tr[data-row="combined (svd)"]').waitFor({ timeout: 60_000 });

    const history = page.getByRole('table', { name: 'previews' });
    const rows = history.locator('tr[data-preview]');
    await expect.poll(() => rows.count()).toBe(2);
    await expect(rows.locator('td.method').allTextContents()).resolves.toEqual(['svd, rank 1', 'linear']);

    // What the page shows is what the service computes.
    const req: MergeRequest = {
      baseModelId: ids.baseModel,
      adapters: [
        { adapterId: ids.adapter7, weight: 1 },
        { adapterId: ids.adapter3, weight: 1 },
      ],
      method: 'svd',
      rank: 1,
      testLimit: 500,
    };
    const api = await theLab().previewMerge(req);
    expect(await digitCells(history.locator('tr[data-preview="2"]'))).toEqual(api.combined.wrongPerClass);
    expect(await digitCells(latest.locator('tr[data-row="combined (svd)"]'))).toEqual(api.combined.wrongPerClass);
    expect(await digitCells(latest.locator('tr[data-row^="base"]'))).toEqual(api.base.wrongPerClass);
    expect(await page.locator('.uplot canvas').count()).toBeGreaterThanOrEqual(2); // latest preview and history bars
    await screenshot('merge');
  });

  it('saves the linear combination as a merged model and links to Models', async () => {
    await page.getByRole('button', { name: 'save preview 1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save the combination' });
    await dialog.getByLabel('Name').fill(MERGED);
    await dialog.getByRole('radio', { name: /a merged model/ }).check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: `Saved “${MERGED}” as a merged model` }).filter({ hasText: 'See it in Models' }).waitFor();
    const merged = (await theLab().listModels()).find((m) => m.name === MERGED);
    expect(merged).toMatchObject({ kind: 'merged', parentModelId: ids.baseModel });
    expect(merged?.origin).toMatchObject({ merge: { method: 'linear' } });
    ids.merged = merged!.id;
    await page.getByRole('link', { name: 'See it in Models' }).click();
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    await modelRow(ids.merged).getByText('linear merge of “adapter on 7” ×1, “adapter on 3” ×1 into').waitFor();
  });

  it('exports the merged model as safetensors from Models; the SHA-256 shown is the file’s', async () => {
    await dismissToasts();
    await modelRow(ids.merged).getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: `Export “${MERGED}”` });
    await dialog.getByTestId('export-folder').filter({ hasText: theLab().exportDir }).waitFor();
    const name = dialog.getByLabel('File name');
    await expect(name.inputValue()).resolves.toBe(MERGED_FILE);
    // Validated as the server validates.
    await name.fill('.hidden');
    await dialog.getByText('a name may not start with a dot').waitFor();
    await expect(dialog.getByRole('button', { name: 'Export', exact: true }).isDisabled()).resolves.toBe(true);
    await name.fill('sub/dir.safetensors');
    await dialog.getByText('“/” not allowed').waitFor();
    await name.fill(MERGED_FILE);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();

    const result = dialog.getByTestId('export-result');
    await result.waitFor();
    const file = exported(MERGED_FILE);
    expect(existsSync(file)).toBe(true);
    await expect(result.getByTestId('sha256').textContent()).resolves.toBe(sha256(file));
    await result.getByText(file).waitFor();
    await screenshot('export');
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('asks before replacing an export of the same name, and replaces it only when told', async () => {
    const file = exported(MERGED_FILE);
    const before = statSync(file);
    await modelRow(ids.merged).getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: `Export “${MERGED}”` });
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    const ask = dialog.getByRole('alertdialog', { name: 'replace it?' });
    await ask.getByText('already exists').waitFor();
    await ask.getByRole('button', { name: 'Keep it, choose another name' }).click();
    await ask.waitFor({ state: 'detached' });
    expect(statSync(file).ino).toBe(before.ino); // untouched

    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    await ask.getByRole('button', { name: 'Replace it' }).click();
    await dialog.getByTestId('export-result').waitFor();
    expect(statSync(file).ino).not.toBe(before.ino); // a new file renamed into place
    await expect(dialog.getByTestId('sha256').textContent()).resolves.toBe(sha256(file));
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('exports an adapter as a PEFT folder; every file’s SHA-256 matches', async () => {
    await adapterRow(ids.adapter7).getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export “adapter on 7”' });
    await expect(dialog.getByRole('radio', { name: /PEFT adapter/ }).isChecked()).resolves.toBe(true);
    await expect(dialog.getByLabel('Folder name').inputValue()).resolves.toBe(PEFT_FOLDER);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    const files = dialog.getByRole('list', { name: 'exported files' }).locator('li');
    await expect.poll(() => files.count()).toBe(2);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) {
      const path = join(exported(PEFT_FOLDER), f);
      await expect(files.and(page.locator(`[data-file="${f}"]`)).getByTestId('sha256').textContent()).resolves.toBe(sha256(path));
    }
    const config = JSON.parse(readFileSync(join(exported(PEFT_FOLDER), 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 2 });
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('imports the safetensors back as a new model from Models; it evaluates exactly like the merged model', async () => {
    const folder = page.getByRole('table', { name: 'export folder' });
    await folder.locator(`tr[data-entry="${MERGED_FILE}"]`).waitFor();
    await folder.locator(`tr[data-entry="${PEFT_FOLDER}"]`).waitFor();
    await page.getByRole('button', { name: `import ${MERGED_FILE} as a model` }).click();
    const dialog = page.getByRole('dialog', { name: 'Import a model' });
    await dialog.getByLabel('Name').fill('reimported 7+3');
    await dialog.getByRole('button', { name: 'Import as model' }).click();
    await dialog.waitFor({ state: 'detached' });

    const imported = (await theLab().listModels()).find((m) => m.name === 'reimported 7+3');
    expect(imported?.kind).toBe('imported');
    ids.imported = imported!.id;
    const row = modelRow(ids.imported);
    await row.getByText(`imported from ${MERGED_FILE}`).waitFor();

    await row.getByRole('button', { name: 'Evaluate' }).click();
    await modelRow(ids.merged).getByRole('button', { name: 'Evaluate' }).click();
    const shown = page.getByRole('table', { name: 'evaluation of reimported 7+3' });
    await shown.waitFor({ timeout: 60_000 });
    await page.getByRole('table', { name: `evaluation of ${MERGED}` }).waitFor({ timeout: 60_000 });

    const [fromMerged, fromImport] = await Promise.all([theLab().evaluateModel(ids.merged), theLab().evaluateModel(ids.imported)]);
    expect(fromImport.wrongPerClass).toEqual(fromMerged.wrongPerClass);
    expect(fromImport.accuracy).toBe(fromMerged.accuracy);
    expect(await digitCells(shown.locator('tbody tr'))).toEqual(fromImport.wrongPerClass);
    expect(await digitCells(page.getByRole('table', { name: `evaluation of ${MERGED}` }).locator('tbody tr'))).toEqual(fromMerged.wrongPerClass);
  });

  it('imports the PEFT folder as an adapter on a chosen base; a broken file is refused plainly and nothing is stored', async () => {
    await page.getByRole('button', { name: `import ${PEFT_FOLDER} as an adapter` }).click();
    let dialog = page.getByRole('dialog', { name: 'Import an adapter' });
    await dialog.getByLabel('Base model').selectOption({ label: 'mg base — 784 → 64 → 10 (base)' });
    await dialog.getByLabel('Name').fill('adapter 7 imported');
    await dialog.getByRole('button', { name: 'Import as adapter' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('table', { name: 'adapters' }).getByText('adapter 7 imported').waitFor();
    expect((await theLab().listAdapters()).find((a) => a.name === 'adapter 7 imported')?.baseModelId).toBe(ids.baseModel);

    // A header length far past the end of the file.
    const bad = Buffer.alloc(16);
    bad.writeBigUInt64LE(1n << 40n, 0);
    writeFileSync(exported('broken.safetensors'), bad);
    const models = (await theLab().listModels()).length;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: 'import broken.safetensors as a model' }).click();
    dialog = page.getByRole('dialog', { name: 'Import a model' });
    await dialog.getByRole('button', { name: 'Import as model' }).click();
    const error = dialog.getByRole('alert');
    await error.getByText('Could not import broken.safetensors:').waitFor();
    expect((await error.textContent())?.length).toBeGreaterThan('Could not import broken.safetensors: '.length);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await theLab().listModels()).length).toBe(models);
    await screenshot('models');
  });

  it('deletes: a model others depend on is refused with the reason, an imported adapter goes', async () => {
    await modelRow(ids.baseModel).getByRole('button', { name: 'Delete…' }).click();
    // Refused up front: the dialog names what uses the model and offers no Delete that cannot work.
    const refusal = page.getByRole('dialog', { name: '“mg base” cannot be deleted yet' });
    await refusal.getByTestId('delete-blockers').getByRole('link', { name: 'adapter on 7' }).first().waitFor();
    await expect(refusal.getByRole('button', { name: 'Delete', exact: true }).count()).resolves.toBe(0);
    await refusal.getByRole('button', { name: 'Close', exact: true }).click();
    await refusal.waitFor({ state: 'detached' });
    expect((await theLab().listModels()).some((m) => m.id === ids.baseModel)).toBe(true);

    const adapter = (await theLab().listAdapters()).find((a) => a.name === 'adapter 7 imported')!;
    await adapterRow(adapter.id).getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog', { name: 'Delete this adapter?' }).getByRole('button', { name: 'Delete' }).click();
    await adapterRow(adapter.id).waitFor({ state: 'detached' });
    expect((await theLab().listAdapters()).some((a) => a.id === adapter.id)).toBe(false);
  });

  it('exports a LoRA run merged into its base from the Run page, and compared metrics as CSV from Compare', async () => {
    await go(`#/runs/${ids.run7}`);
    await page.getByRole('button', { name: 'Export…' }).click();
    let dialog = page.getByRole('dialog', { name: 'Export “adapter on 7”' });
    await dialog.getByText('merged into its base: safetensors').click();
    await expect(dialog.getByLabel('File name').inputValue()).resolves.toBe('adapter on 7-merged.safetensors');
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    await dialog.getByTestId('export-result').waitFor();
    await expect(dialog.getByTestId('sha256').textContent()).resolves.toBe(sha256(exported('adapter on 7-merged.safetensors')));
    await dialog.getByRole('button', { name: 'Done' }).click();

    await go(`#/compare?ids=${ids.run7},${ids.run3}`);
    await page.getByRole('button', { name: 'Export metrics…' }).click();
    dialog = page.getByRole('dialog', { name: /^Export “comparison of runs/ });
    await expect(dialog.getByRole('radio').count()).resolves.toBe(2); // CSV and JSON only
    const name = await dialog.getByLabel('File name').inputValue();
    expect(name).toMatch(/\.csv$/);
    await dialog.getByRole('button', { name: 'Export', exact: true }).click();
    await dialog.getByTestId('export-result').waitFor();
    expect(readFileSync(exported(name), 'utf8').length).toBeGreaterThan(0);
    await dialog.getByRole('button', { name: 'Done' }).click();
  });

  it('explains an adapter named in the address that was trained on another model; previews outlive the page', async () => {
    await go(`#/merge?base=${ids.imported}&adapters=${ids.adapter7}`);
    await page
      .getByRole('alert')
      .filter({ hasText: `adapter ${ids.adapter7} “adapter on 7” was trained on model ${ids.baseModel}, not on model ${ids.imported}` })
      .waitFor();
    await page.getByText('No adapter was trained on this model.').waitFor();
    // The previews outlived the trips to other pages.
    await expect(page.getByRole('table', { name: 'previews' }).locator('tr[data-preview]').count()).resolves.toBe(2);

    // Back from another page without an address: the form is as it was for the newest preview.
    await go('#/models');
    await nav('Merge');
    await expect(page.getByLabel('Base model').locator('option:checked').textContent()).resolves.toContain('mg base');
    await expect(page.getByRole('checkbox', { name: 'adapter on 7' }).isChecked()).resolves.toBe(true);
    await expect(page.getByRole('checkbox', { name: 'adapter on 3' }).isChecked()).resolves.toBe(true);
    await expect(page.getByLabel('Rank k').inputValue()).resolves.toBe('1');
    await expect(page.getByLabel('Test images').inputValue()).resolves.toBe('500');
  });

  it('raised no errors in the page; the only refused calls were the provoked ones', () => {
    expect(pageErrors).toEqual([]);
    expect(refusals.map((r) => /status of (\d+)/.exec(r)?.[1]).sort()).toEqual(['400', '409', '409']);
  });
});
