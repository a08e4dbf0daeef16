/**
 * Runs and Models in a real browser (issue 12, items 2, 3 and 9): every action stays in
 * reach at 1024 and 800 px wide, light and dark (no sideways scrolling, nothing clipped);
 * a delete that would be refused says so in its dialog, before anything happens, and
 * names what is in the way; the Runs table shows what a LoRA run did to the other digits
 * next to its focus count. Data: one tiny base run and a LoRA run on digit 7 from it,
 * trained through the API.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src-main/contract/api.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 16, 10];
const TINY = { sizes: SIZES, batchSize: 32, lr: 0.003, trainLimit: 600, testLimit: 500, evalEvery: 0 };

let e2e: E2E | undefined;
let lab: Lab;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];
let base: RunView;
let lora: RunView;

beforeAll(async () => {
  e2e = await startE2E({
    prefix: 'lora-lab-e2e-runs-models-',
    // Chromium logs 4xx answers; no refusal is expected here, so none is claimed.
  });
  ({ lab, page, pageErrors, browser } = e2e);
  base = await lab.waitForRun((await lab.createRun({ name: 'rm base', config: { ...defaultConfig('base'), ...TINY, maxSteps: 60 } })).id);
  expect(base.status).toBe('completed');
  const created = await lab.createRun({
    name: 'rm lora on 7',
    baseModelId: base.modelId,
    config: { ...defaultConfig('lora'), ...TINY, classes: [7], maxSteps: 30, lr: 0.01, lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } },
  });
  lora = await lab.waitForRun(created.id);
  expect(lora.status).toBe('completed');
}, 60_000);

afterAll(async () => {
  await e2e?.close();
});

async function go(p: Page, hash: string): Promise<void> {
  await p.evaluate((h) => (location.hash = h), hash);
}

/**
 * Every visible action (button, link styled as one, menu item, nav link) that is not
 * wholly inside the window, or sits in an ancestor that scrolls or clips sideways; and
 * whether the page itself scrolls sideways. With a modal dialog open, its actions only.
 */
async function outOfReach(p: Page): Promise<{ pageScrolls: boolean; clipped: string[] }> {
  return p.evaluate(() => {
    const clipped: string[] = [];
    const scope = document.querySelector('dialog[open]') ?? document.body;
    for (const el of scope.querySelectorAll<HTMLElement>('button, a.button, [role="menuitem"], nav a')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const label = `${el.tagName.toLowerCase()} “${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim()}”`;
      if (r.left < 0 || r.right > window.innerWidth + 0.5) {
        clipped.push(`${label} at x ${Math.round(r.left)}–${Math.round(r.right)} of ${window.innerWidth}`);
        continue;
      }
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX === 'visible') continue;
        const ar = a.getBoundingClientRect();
        if (a.scrollWidth > a.clientWidth + 1 || r.right > ar.right + 0.5 || r.left < ar.left - 0.5) {
          clipped.push(`${label} inside a ${a.tagName.toLowerCase()}.${a.className.split(' ')[0]} that scrolls or clips sideways (${a.scrollWidth} > ${a.clientWidth})`);
          break;
        }
      }
    }
    const doc = document.documentElement;
    return { pageScrolls: doc.scrollWidth > doc.clientWidth, clipped };
  });
}

const dialog = () => page.getByRole('dialog');
const runRow = (p: Page, id: number) => p.getByRole('table', { name: 'runs' }).locator(`tr[data-run-id="${id}"]`);

describe('runs and models in a browser', () => {
  it('keeps every action in reach without sideways scrolling at 1024×768 and 800×600, light and dark', async () => {
    const pages: { hash: string; ready: (p: Page) => ReturnType<Page['locator']> }[] = [
      { hash: '#/runs', ready: (p) => runRow(p, lora.id) },
      { hash: `#/runs/${lora.id}`, ready: (p) => p.getByRole('heading', { name: 'Configuration' }) },
      { hash: `#/runs/${base.id}`, ready: (p) => p.getByRole('heading', { name: 'Configuration' }) },
      { hash: '#/new', ready: (p) => p.getByRole('button', { name: /start/i }).first() },
      { hash: `#/compare?ids=${base.id},${lora.id}`, ready: (p) => p.getByRole('heading', { name: 'Summary' }) },
      { hash: `#/merge?base=${base.modelId}&adapters=${lora.adapterId}`, ready: (p) => p.getByRole('heading', { name: 'Merge adapters' }) },
      { hash: '#/models', ready: (p) => p.getByRole('table', { name: 'adapters' }) },
    ];
    const problems: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      for (const viewport of [{ width: 1024, height: 768 }, { width: 800, height: 600 }]) {
        const ctx = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1 });
        const p = await ctx.newPage();
        p.setDefaultTimeout(20_000);
        p.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
        await p.goto(e2e!.server.url);
        const where = `${colorScheme} ${viewport.width}px`;
        for (const { hash, ready } of pages) {
          await go(p, hash);
          await ready(p).waitFor();
          const r = await outOfReach(p);
          if (r.pageScrolls) problems.push(`${where} ${hash}: the page scrolls sideways`);
          for (const c of r.clipped) problems.push(`${where} ${hash}: ${c}`);
          if (hash === '#/runs') {
            // The row menu, and the delete dialog it leads to.
            await p.getByRole('button', { name: `actions for ${lora.name}` }).click();
            await p.getByRole('menuitem', { name: 'Delete…' }).waitFor();
            for (const c of (await outOfReach(p)).clipped) problems.push(`${where} runs menu: ${c}`);
            await p.getByRole('menuitem', { name: 'Delete…' }).click();
            await p.getByRole('dialog').waitFor();
            for (const c of (await outOfReach(p)).clipped) problems.push(`${where} delete dialog: ${c}`);
            await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
          }
        }
        if (colorScheme === 'dark' && viewport.width === 1024) {
          await go(p, '#/runs');
          await runRow(p, lora.id).waitFor();
          await saveScreenshot(p, 'runs-1024-dark');
          await go(p, '#/models');
          await p.getByRole('table', { name: 'adapters' }).waitFor();
          await saveScreenshot(p, 'models-1024-dark');
        }
        await ctx.close();
      }
    }
    expect(problems).toEqual([]);
  }, 90_000);

  it('says up front, in the dialog, that a base run others use cannot be deleted, and deletes nothing', async () => {
    await go(page, '#/runs');
    await runRow(page, base.id).waitFor();
    await page.getByRole('button', { name: `actions for ${base.name}` }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    const refusal = page.getByRole('dialog', { name: `“${base.name}” cannot be deleted yet` });
    await refusal.waitFor();
    // It names and links the run in the way, offers no plain Delete, and promises no undo.
    await refusal.getByTestId('delete-blockers').getByRole('link', { name: lora.name }).waitFor();
    await expect(refusal.getByRole('button', { name: 'Delete', exact: true }).count()).resolves.toBe(0);
    expect(await refusal.textContent()).not.toMatch(/undo/i);
    await refusal.getByRole('button', { name: 'Close', exact: true }).click();
    await refusal.waitFor({ state: 'detached' });
    // Nothing disappeared, nothing claimed success, and the Lab still has both runs.
    await expect(runRow(page, base.id).count()).resolves.toBe(1);
    await expect(page.getByText(/^Deleted /).count()).resolves.toBe(0);
    expect((await lab.listRuns()).map((r) => r.id).sort()).toEqual([base.id, lora.id].sort());
  });

  it('shows beside the focus count what the LoRA run did to the other digits, from its evaluations', async () => {
    const { evaluations } = await lab.getRun(lora.id);
    const acc = (e: NonNullable<typeof evaluations.after>) => {
      let right = 0;
      let n = 0;
      for (let d = 0; d < 10; d++) {
        if (d === 7) continue;
        n += e.countPerClass[d] ?? 0;
        right += (e.countPerClass[d] ?? 0) - (e.wrongPerClass[d] ?? 0);
      }
      return `${((right / n) * 100).toFixed(1)}%`;
    };
    const text = `other digits ${acc(evaluations.before!)} → ${acc(evaluations.after!)}`;
    await go(page, '#/runs');
    await runRow(page, lora.id).getByText(text).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('says the same from the run page, whose link leads to the run in the way', async () => {
    await go(page, `#/runs/${base.id}`);
    await page.getByRole('button', { name: 'Delete…' }).click();
    await dialog().waitFor();
    await expect(dialog().getByRole('heading').textContent()).resolves.toBe(`“${base.name}” cannot be deleted yet`);
    await expect(dialog().textContent()).resolves.toContain('Nothing has been deleted');
    await dialog().getByRole('link', { name: lora.name }).click();
    await page.waitForFunction((id) => location.hash === `#/runs/${id}`, lora.id);
    await expect(dialog().count()).resolves.toBe(0);
    expect((await lab.listRuns()).map((r) => r.id).sort()).toEqual([base.id, lora.id].sort());
  });

  it('says so on Models too: a model with dependents, an adapter that belongs to a run', async () => {
    await go(page, '#/models');
    const models = page.getByRole('table', { name: 'models' });
    await models.locator(`tr[data-model="${base.modelId}"]`).getByRole('button', { name: 'Delete…' }).click();
    await dialog().waitFor();
    await expect(dialog().getByRole('heading').textContent()).resolves.toBe(`“${base.name}” cannot be deleted yet`);
    await expect(dialog().getByRole('link', { name: lora.name }).getAttribute('href')).resolves.toBe(`#/runs/${lora.id}`);
    await expect(dialog().getByRole('button', { name: 'Delete', exact: true }).count()).resolves.toBe(0);
    await dialog().getByRole('button', { name: 'Close' }).click();

    const adapters = page.getByRole('table', { name: 'adapters' });
    await adapters.locator(`tr[data-adapter="${lora.adapterId}"]`).getByRole('button', { name: 'Delete…' }).click();
    await dialog().waitFor();
    await expect(dialog().getByRole('heading').textContent()).resolves.toBe(`“${lora.name}” cannot be deleted yet`);
    await expect(dialog().getByTestId('delete-blockers').getByRole('link', { name: lora.name }).getAttribute('href')).resolves.toBe(`#/runs/${lora.id}`);
    await expect(dialog().getByRole('button', { name: 'Delete', exact: true }).count()).resolves.toBe(0);
    await dialog().getByRole('button', { name: 'Close' }).click();
    await expect(page.getByRole('alert').count()).resolves.toBe(0);
    await expect(models.locator(`tr[data-model="${base.modelId}"]`).isVisible()).resolves.toBe(true);
    await expect(adapters.locator(`tr[data-adapter="${lora.adapterId}"]`).isVisible()).resolves.toBe(true);
  });

  it('offers to delete the run in the way too, and then both go (dependent first) without an error', async () => {
    await go(page, '#/runs');
    await page.getByRole('button', { name: `actions for ${base.name}` }).click();
    await page.getByRole('menuitem', { name: 'Delete…' }).click();
    await dialog().getByRole('button', { name: 'Delete all 2 runs…' }).click();
    await expect(dialog().getByRole('heading').textContent()).resolves.toBe('Delete 2 runs?');
    await expect(dialog().textContent()).resolves.toContain(lora.name);
    // Focus moved to the new confirmation (the button it was on is gone).
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Delete 2 runs');
    await page.keyboard.press('Enter');
    await expect(runRow(page, base.id).count()).resolves.toBe(0);
    await expect(runRow(page, lora.id).count()).resolves.toBe(0);
    // The undo window passes (the toast's own timer), then the Lab has deleted both.
    await page.getByTestId('toast').filter({ hasText: 'Deleted 2 runs' }).waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(async () => (await lab.listRuns()).length, { timeout: 10_000 }).toBe(0);
    await expect(page.getByText('Could not delete').count()).resolves.toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
