/**
 * The Adapter page in a real browser (issue 16) on the classic MLP (784→1000→2000→10,
 * few steps): reached from the Models page, it shows per layer the figures the API
 * computes (the numbers on the page are the analysis'), the spectrum and intruder
 * charts, pictures of the first layer; choosing a second adapter (rank 8 against 64)
 * puts it in the address and draws φ as heatmaps with a cell per (i, j); bad intruder
 * settings are refused in the form, which submits with Enter. Runs are made through
 * the API; what is tested is clicked.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, DEFAULT_SIZES, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { fmtNum } from '../../src-renderer/lib/format.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

let e2e: E2E | undefined;
let lab: Lab;
let page: Page;
let pageErrors: string[] = [];
const adapters = { r8: 0, r64: 0 };

function loraConfig(r: number): RunConfig {
  const lora = { ...defaultLora(DEFAULT_SIZES), r, alpha: r, targets: ['linear1', 'linear2'] };
  return { ...defaultConfig('lora'), classes: [7], batchSize: 16, maxSteps: 30, trainLimit: 600, testLimit: 200, evalEvery: 0, lr: 0.003, lora };
}

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-adapter-', concurrency: 2 });
  ({ lab, page, pageErrors } = e2e);
  const base = await lab.waitForRun((await lab.createRun({ name: 'classic base', config: { ...defaultConfig('base'), batchSize: 32, maxSteps: 60, trainLimit: 2000, testLimit: 200, evalEvery: 0 } })).id);
  expect(base.status).toBe('completed');
  const runs = await Promise.all([8, 64].map((r) => lab.createRun({ name: `rank ${r} on 7`, baseModelId: base.modelId!, config: loraConfig(r) })));
  const [r8, r64] = await Promise.all(runs.map((r) => lab.waitForRun(r.id)));
  adapters.r8 = r8!.adapterId!;
  adapters.r64 = r64!.adapterId!;
}, 240_000);

afterAll(async () => {
  await e2e?.close();
});

const layerCard = (layer: string) => page.locator(`section.layer[data-layer="${layer}"]`);

describe('the Adapter page', { timeout: 240_000 }, () => {
  it('is reached from the Models page and shows each layer’s figures as the API computes them', async () => {
    await page.evaluate(() => (location.hash = '#/models'));
    await page.locator(`tr[data-adapter="${adapters.r8}"]`).getByRole('link', { name: 'Analyse' }).click();
    await page.getByRole('heading', { name: 'What the adapter learned' }).waitFor();
    await layerCard('linear2').waitFor({ timeout: 120_000 });
    const api = await lab.analyzeAdapter({ target: { kind: 'adapter', id: adapters.r8 } });
    for (const l of api.layers) {
      const card = layerCard(l.layer);
      await expect(card.locator('[data-figure="rank90"]').textContent()).resolves.toBe(String(l.rank90));
      await expect(card.locator('[data-figure="intruders"]').textContent()).resolves.toMatch(new RegExp(`^${l.intruders!.count} of 10`));
      await expect(card.locator('[data-figure="effectiveRank"]').textContent()).resolves.toBe(fmtNum(l.effectiveRank, 3));
      // One bar per singular value, one per checked direction.
      await expect(card.locator('figure.spectrum').first().locator('rect').count()).resolves.toBe(8);
      await expect(card.locator('figure.spectrum').nth(1).locator('rect').count()).resolves.toBe(10);
    }
    await expect(page.getByTestId('analysis-about').textContent()).resolves.toMatch(/LoRA r = 8/);
    // Pictures of the first layer: 8 directions and the 4 largest rows, at 28×28.
    const pics = page.locator('section.pics canvas');
    await expect(pics.count()).resolves.toBe(12);
    await expect(pics.first().evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).resolves.toEqual([28, 28]);
    // The picture is drawn: not a blank canvas.
    const inked = await pics.first().evaluate((c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let coloured = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) coloured++;
      return coloured;
    });
    expect(inked).toBeGreaterThan(100);
  });

  it('compares with rank 64: the address says so and φ is a heatmap of 8 × 64 cells per layer and side', async () => {
    await page.getByLabel('Compare with (φ)').selectOption(String(adapters.r64));
    await page.getByRole('button', { name: 'Analyse' }).click();
    await page.waitForFunction((vs) => location.hash.endsWith(`?vs=${vs}`), adapters.r64);
    const maps = page.getByRole('region', { name: 'subspace similarity' }).locator('figure.phi');
    await maps.first().waitFor({ timeout: 120_000 });
    await expect(maps.count()).resolves.toBe(4);
    await expect(maps.first().locator('rect').count()).resolves.toBe(8 * 64);
    const api = await lab.analyzeAdapter({ target: { kind: 'adapter', id: adapters.r8 }, vs: { kind: 'adapter', id: adapters.r64 }, intruders: false });
    const phi11 = api.similarity!.layers[0]!.phi[0]![0]!;
    await expect(maps.first().locator('rect').first().locator('title').textContent()).resolves.toBe(`φ(1, 1) = ${fmtNum(phi11, 3)}`);
    await saveScreenshot(page, 'adapter-page');
  });

  it('refuses bad intruder settings in the form and submits with Enter', async () => {
    const k = page.getByLabel('top k');
    await k.fill('0');
    await page.getByRole('alert').filter({ hasText: 'k is a whole number from 1 to 64' }).waitFor();
    await expect(page.getByRole('button', { name: 'Analyse' }).isDisabled()).resolves.toBe(true);
    await k.fill('5');
    await k.press('Enter');
    await layerCard('linear1').locator('[data-figure="intruders"]').filter({ hasText: /of 5$/ }).waitFor({ timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  });
});
