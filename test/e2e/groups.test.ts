/**
 * Groups of runs in a real browser (issue 14, "Groups, for any runs"): runs made directly
 * in the store (2 configs × 4 seeds with known figures, a failed run, a lone third
 * config), the Runs page grouped by config minus the seed (n, mean ± std with units,
 * "—" for a lone run's std, per-class counts, the run left out and why), two groups
 * compared (band charts, the band switch, the summary, the difference line with Welch's
 * p-value computed here independently of stats.ts), and Compare of plain runs offering
 * "group these by seed".
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import type { Evaluation, MetricPoint, RunSummary } from '../../src-main/contract/protocol.ts';
import type { Lab } from '../../src-main/lab/lab.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SIZES = [784, 32, 10];
const MINUS = '\u2212';
/** Wrong 7s after training per seed: group A (rank 1) and group B (rank 4). */
const WRONG7 = { a: [20, 22, 18, 24], b: [12, 14, 11, 15] };
/** Every other class gets this many wrong, out of 100 test samples per class. */
const OTHER_WRONG = 5;

let e2e: E2E | undefined;
let lab: Lab | undefined;
let page: Page;
let pageErrors: string[] = [];
const ids = { a: [] as number[], b: [] as number[], failed: 0, lone: 0 };

// ── plain-JS statistics, for expectations (not the app's stats.ts) ────────────
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sampleVar = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
const sd = (xs: number[]) => Math.sqrt(sampleVar(xs));

/** ln Γ(x) by Stirling's series with the recurrence up to x ≥ 8 (accurate to ~1e-10). */
function lnGammaRef(x: number): number {
  let shift = 0;
  while (x < 8) {
    shift -= Math.log(x);
    x += 1;
  }
  const x2 = 1 / (x * x);
  return shift + (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + (1 / (12 * x)) * (1 - x2 * (1 / 30 - x2 * (1 / 105 - x2 / 140)));
}

/** P(|T| > |t|) for Student's t with df degrees of freedom, by Simpson's rule over the density. */
function twoSidedP(t: number, df: number): number {
  const c = Math.exp(lnGammaRef((df + 1) / 2) - lnGammaRef(df / 2)) / Math.sqrt(df * Math.PI);
  const f = (x: number) => c * (1 + (x * x) / df) ** (-(df + 1) / 2);
  const n = 20_000;
  const h = Math.abs(t) / n;
  let s = f(0) + f(Math.abs(t));
  for (let i = 1; i < n; i++) s += f(i * h) * (i % 2 ? 4 : 2);
  return 1 - 2 * ((s * h) / 3);
}

/** The t with P(|T| > t) = 0.05, by bisection on twoSidedP. */
function t975Ref(df: number): number {
  let lo = 0;
  let hi = 50;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (twoSidedP(mid, df) > 0.05) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function welchRef(a: number[], b: number[]): { diff: number; lo: number; hi: number; p: number; df: number } {
  const va = sampleVar(a) / a.length;
  const vb = sampleVar(b) / b.length;
  const se = Math.sqrt(va + vb);
  const diff = mean(b) - mean(a);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const half = t975Ref(df) * se;
  return { diff, lo: diff - half, hi: diff + half, p: twoSidedP(diff / se, df), df };
}

// ── runs made in the store ───────────────────────────────────────────────────
function theLab(): Lab {
  if (!lab) throw new Error('the lab did not open');
  return lab;
}

function loraConfig(r: number, seed: number): RunConfig {
  return { ...defaultConfig('lora'), sizes: SIZES, seed, classes: [7], maxSteps: 20, testLimit: 1000, lora: { ...defaultLora(SIZES), r, alpha: 1 } };
}

/** A 10-class evaluation, 100 test samples per class, with the given wrong count on 7. */
function evaluation(wrong7: number): Evaluation {
  const wrongPerClass = Array.from({ length: 10 }, (_, c) => (c === 7 ? wrong7 : OTHER_WRONG));
  const confusion = wrongPerClass.map((w, t) => Array.from({ length: 10 }, (_, p) => (p === t ? 100 - w : p === (t + 1) % 10 ? w : 0)));
  const correct = 1000 - wrongPerClass.reduce((s, w) => s + w, 0);
  return {
    accuracy: correct / 1000,
    loss: 0.2,
    total: 1000,
    correct,
    wrongPerClass,
    countPerClass: Array(10).fill(100),
    confusion,
    predictions: new Uint8Array(1000),
  };
}

const accuracyOf = (wrong7: number) => 1 - (wrong7 + 9 * OTHER_WRONG) / 1000;

function summary(finalLoss: number, wallSeconds: number): RunSummary {
  return { steps: 20, epochs: 1, examples: 200, stepsPerEpoch: 20, finalLoss, wallSeconds, samplesPerSec: 100, trainableParams: 100, totalParams: 25_000, baseParams: 24_900, percentTrainable: 0.4, backend: 'wasm' };
}

/** A completed fine-tune with 20 loss points and three validation accuracies. */
function completedRun(name: string, r: number, seed: number, wrong7: number): number {
  const store = theLab().store;
  const id = store.runs.create({ name, kind: 'lora', config: loraConfig(r, seed), status: 'running' }).id;
  const points: MetricPoint[] = [];
  for (let step = 0; step < 20; step++) points.push({ key: 'train/loss', step, value: 2 / (step + 1) + seed * 0.01 + (r === 4 ? -0.05 : 0), time: 1_700_000_000_000 + step * 100 });
  for (const step of [0, 10, 19]) points.push({ key: 'val/accuracy', step, value: 0.8 + step / 200 + seed * 0.002, time: 1_700_000_000_000 + step * 100 });
  store.metrics.append(id, points);
  store.evaluations.put(id, 'before', 0, evaluation(33));
  store.evaluations.put(id, 'after', 20, evaluation(wrong7));
  store.runs.finish(id, 'completed', { summary: summary(2 / 20 + seed * 0.01, 2 + seed * 0.5) });
  return id;
}

async function go(hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-groups-' });
  ({ lab, page, pageErrors } = e2e);
  for (let seed = 0; seed < 4; seed++) ids.a.push(completedRun(`rank 1 seed ${seed}`, 1, seed, WRONG7.a[seed] as number));
  for (let seed = 0; seed < 4; seed++) ids.b.push(completedRun(`rank 4 seed ${seed}`, 4, seed, WRONG7.b[seed] as number));
  const store = theLab().store;
  ids.failed = store.runs.create({ name: 'rank 1 seed 9 (failed)', kind: 'lora', config: loraConfig(1, 9), status: 'running' }).id;
  store.runs.finish(ids.failed, 'failed', { error: 'the trainer ran out of memory' });
  ids.lone = completedRun('rank 8 seed 0', 8, 0, 16);
});

afterAll(async () => {
  await e2e?.close();
});

describe('groups of runs', () => {
  it('the Runs page, grouped, shows n and mean ± std with units, a lone run\'s std as "—", per-class counts and the run left out', async () => {
    // The runs were written to the store directly (no events): load the page afresh.
    await go('#/runs');
    await page.reload();
    await page.getByRole('table', { name: 'runs' }).waitFor();
    // Keyboard reachable: focus the switch and press Space.
    const toggle = page.getByRole('switch', { name: 'Group' });
    await toggle.focus();
    await page.keyboard.press('Space');
    expect(await toggle.isChecked()).toBe(true);

    const table = page.getByRole('table', { name: 'groups' });
    await table.waitFor();
    const rows = table.locator('tbody tr[data-group]');
    await expect.poll(() => rows.count()).toBe(3);
    expect((await table.locator('thead th').allTextContents()).map((t) => t.trim())).toEqual(
      expect.arrayContaining(['lora.r', 'test accuracy (%)', 'wrong on digit 7 (test samples)', 'wall time (s)']),
    );

    const rowA = table.locator('tr[data-group="lora.r=1"]');
    const rowB = table.locator('tr[data-group="lora.r=4"]');
    expect((await rowA.locator('td[data-n]').innerText()).trim()).toBe('4 of 5'); // the failed run belongs to it but is not counted
    expect(await rowB.locator('td[data-n]').getAttribute('data-n')).toBe('4');
    const accA = WRONG7.a.map(accuracyOf);
    const expectAcc = `${(mean(accA) * 100).toFixed(2)} ± ${(sd(accA) * 100).toFixed(2)}%`;
    expect(await rowA.locator('td[data-figure="accuracy"] .stat').getAttribute('data-stat')).toBe(expectAcc);
    expect(await rowA.locator('td[data-figure="focusWrong"] .stat').getAttribute('data-stat')).toBe(`${mean(WRONG7.a).toFixed(1)} ± ${sd(WRONG7.a).toFixed(1)}`);
    expect(await rowB.locator('td[data-figure="focusWrong"] .stat').getAttribute('data-stat')).toBe(`${mean(WRONG7.b).toFixed(1)} ± ${sd(WRONG7.b).toFixed(1)}`);
    expect(await rowA.locator('td[data-figure="focusWrongBefore"] .stat').getAttribute('data-stat')).toBe('33.0 ± 0.0');

    // The lone rank-8 run: n = 1, its std "—" with a reason.
    const lone = table.locator('tr[data-group="lora.r=8"]');
    const std = lone.locator('td[data-figure="focusWrong"] .std');
    expect(await std.innerText()).toBe('—');
    expect(await std.getAttribute('title')).toMatch(/only 1 run .*at least two/);

    // Per class, by name: group A's 7s.
    await rowA.getByRole('button', { name: /wrong per class/ }).click();
    const perClass = page.getByRole('table', { name: 'wrong per class of lora.r=1' });
    expect(await perClass.locator('tr[data-class="7"] .stat').getAttribute('data-stat')).toBe(`${mean(WRONG7.a).toFixed(1)} ± ${sd(WRONG7.a).toFixed(1)}`);
    expect(await perClass.locator('tr[data-class="3"] .stat').getAttribute('data-stat')).toBe('5.0 ± 0.0');

    // The failed run is listed with its reason.
    const excluded = page.getByTestId('excluded-runs');
    await excluded.locator('summary').click();
    expect(await excluded.innerText()).toMatch(/rank 1 seed 9 \(failed\)\s*— failed: the trainer ran out of memory/);
    await saveScreenshot(page, 'groups-runs');
  });

  it('"group by" picks other paths, and the default comes back', async () => {
    await page.getByRole('button', { name: /lora\.r · default/ }).click();
    await page.getByRole('group', { name: 'group by paths' }).getByRole('checkbox', { name: 'seed' }).check();
    const table = page.getByRole('table', { name: 'groups' });
    // lora.r × seed: every run alone (10 groups: the failed seed 9 run too, with n = 0).
    await expect.poll(() => table.locator('tbody tr[data-group]').count()).toBe(10);
    await page.getByRole('button', { name: 'Default: config minus the seed' }).click();
    await expect.poll(() => table.locator('tbody tr[data-group]').count()).toBe(3);
  });

  it('two groups compared: bands per metric, the summary, and the difference with Welch\'s p', async () => {
    const table = page.getByRole('table', { name: 'groups' });
    await table.getByRole('checkbox', { name: 'select group lora.r=1' }).check();
    await table.getByRole('checkbox', { name: 'select group lora.r=4' }).check();
    await page.getByRole('link', { name: 'Compare 2 groups' }).click();
    await page.waitForFunction(() => location.hash.startsWith('#/compare?groups='));
    expect(await page.evaluate(() => location.hash)).toBe(`#/compare?groups=${ids.a.join(',')};${ids.b.join(',')}`);

    await page.getByRole('heading', { name: 'Compare 2 groups' }).waitFor();
    expect(await page.locator('.group-chip[data-group="group A"]').innerText()).toMatch(/lora\.r=1[\s\S]*n = 4/);
    expect(await page.locator('.group-chip[data-group="group B"]').innerText()).toMatch(/lora\.r=4[\s\S]*n = 4/);
    // One band chart per metric with a curve, drawn.
    await expect.poll(() => page.locator('.band-chart canvas').count()).toBe(2);
    expect(await page.locator('[data-metric]').evaluateAll((els) => els.map((e) => e.getAttribute('data-metric')))).toEqual(['train/loss', 'val/accuracy']);
    await page.getByRole('button', { name: '95% CI of the mean' }).click();
    await expect.poll(() => page.locator('.band-chart[data-band="ci95"]').count()).toBe(2);

    // The summary: every figure per group with n.
    const summaryTable = page.getByRole('table', { name: 'group summary' });
    expect(await summaryTable.locator('tr[data-figure="focusWrong"] td[data-group="group B"] .stat').getAttribute('data-stat')).toBe(`${mean(WRONG7.b).toFixed(1)} ± ${sd(WRONG7.b).toFixed(1)}`);
    expect(await summaryTable.locator('tr[data-figure="focusWrong"] td[data-group="group B"]').innerText()).toMatch(/\(n = 4\)/);

    // The plain-language line, against a Welch test computed here.
    const w = welchRef(WRONG7.a, WRONG7.b);
    expect(w.diff).toBe(-8);
    const p = String(Number(w.p.toPrecision(2)));
    const line = `Group B gets ${Math.abs(w.diff).toFixed(1)} fewer wrong 7s than group A (95% CI ${(-w.hi).toFixed(1)}–${(-w.lo).toFixed(1)}, p = ${p}, Welch's t-test, n = 4 and 4).`;
    expect(await page.getByTestId('difference-line').innerText()).toBe(line);
    const focusRow = page.getByRole('table', { name: 'difference of the groups' }).locator('tr[data-figure="focusWrong"]');
    expect(await focusRow.locator('td').first().innerText()).toBe(`${MINUS}8.0`);
    expect(await focusRow.locator('td.p').innerText()).toBe(p);
    // Class 7 tested as its own row, named.
    expect(await page.getByRole('table', { name: 'difference of the groups' }).locator('tr[data-figure="wrong:7"] th').innerText()).toMatch(/^wrong on 7/);
    await saveScreenshot(page, 'groups-compare');
    // Classes other than the focus ones with p ≥ 0.05 wait behind a button.
    const diffTable = page.getByRole('table', { name: 'difference of the groups' });
    expect(await diffTable.locator('tr[data-figure="wrong:3"]').count()).toBe(0);
    await page.getByRole('button', { name: /All 10 classes/ }).click();
    await diffTable.locator('tr[data-figure="wrong:3"]').waitFor();
  });

  it('Compare of plain runs offers "group these by seed"', async () => {
    await go(`#/compare?ids=${[...ids.a, ...ids.b].join(',')}`);
    await page.getByRole('heading', { name: 'Compare 8 runs' }).waitFor();
    await page.getByRole('link', { name: 'Group these by seed' }).click();
    await page.getByRole('heading', { name: 'Compare 2 groups' }).waitFor();
    expect(await page.evaluate(() => location.hash)).toBe(`#/compare?groups=${ids.a.join(',')};${ids.b.join(',')}`);
    await page.getByTestId('difference-line').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
