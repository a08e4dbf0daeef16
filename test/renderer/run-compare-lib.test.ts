/**
 * The pure logic behind the Run and Compare pages: progress in words (never "0 / 0"
 * while loading or evaluating), chart axis ranges (accuracy within 0–100%), x as % of
 * each run for runs of very different lengths, the focus classes' wrong counts, and
 * class names as the per-class figures show them (MNIST's digits, other sets' names).
 */
import { describe, expect, it } from 'vitest';
import type { RunProgress, RunStatus } from '../../src-main/contract/api.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { classTicks, groupedBarOptions, lineOptions } from '../../src-renderer/lib/charts.ts';
import { classNames, classNoun, commonNoun, describeClasses, groupByClasses, listNames, sameClasses, shortName } from '../../src-renderer/lib/classes.ts';
import { focusSummary, runLength } from '../../src-renderer/lib/compare-summary.ts';
import { focusCell, otherCell } from '../../src-renderer/lib/focus-cells.ts';
import { describeProgress, fmtSteps } from '../../src-renderer/lib/format.ts';
import { align, defaultXAxis, xValues } from '../../src-renderer/lib/series.ts';
import type { ChartColors } from '../../src-renderer/lib/chart-colors.ts';

const progress = (phase: RunProgress['phase'], step: number, totalSteps: number): RunProgress => ({
  phase,
  step,
  totalSteps,
  epoch: 0,
  loss: phase === 'training' ? 0.5 : null,
  samplesPerSec: 0,
  etaSeconds: 0,
});

const colors: ChartColors = { text: '#000', muted: '#666', grid: '#ddd', axis: '#999', surface: '#fff', palette: ['#00f', '#f80'], before: '#888', after: '#00f' };

/** The y (or x) range uPlot would ask the chart's options for, given the data's extent. */
function range(opts: ReturnType<typeof lineOptions>, key: 'x' | 'y', min: number, max: number): [number, number] {
  const r = opts.scales?.[key]?.range;
  expect(typeof r).toBe('function'); // uPlot's own range doubles a lone value (0.75 → an axis to 150%)
  return (r as (u: unknown, min: number, max: number, key: string) => [number, number])(null, min, max, key);
}

describe('progress text', () => {
  it('names the phase while loading data or evaluating, with no step count and an indeterminate bar', () => {
    expect(describeProgress(progress('loading', 0, 0))).toMatchObject({ phase: 'Loading data…', fraction: null, steps: null });
    expect(describeProgress(progress('evaluating', 0, 0))).toMatchObject({ phase: 'Evaluating before training…', fraction: null, steps: null });
    const final = describeProgress(progress('evaluating', 400, 400));
    expect(final.phase).toBe('Evaluating on the test set after 400 steps…');
    expect(final.fraction).toBeNull();
    expect(describeProgress(null, 'queued').phase).toBe('Queued…');
    for (const p of [progress('loading', 0, 0), progress('evaluating', 0, 0), progress('evaluating', 400, 400)]) {
      expect(JSON.stringify(describeProgress(p))).not.toMatch(/0 \/ 0|\(0%\)/);
    }
  });

  it('counts steps while training', () => {
    expect(describeProgress(progress('training', 120, 400))).toMatchObject({ phase: 'Training', fraction: 0.3, steps: 'step 120 / 400 (30%)' });
  });

  it('the Steps cell: live steps, the phase instead of "0 / 0", and how far a stopped run got', () => {
    const run = (status: RunStatus, p: RunProgress | null, maxSteps: number | null = null) => ({ status, summary: null, progress: p, config: { maxSteps } });
    expect(fmtSteps(run('running', progress('loading', 0, 0)))).toBe('loading');
    expect(fmtSteps(run('running', progress('evaluating', 0, 0)))).toBe('evaluating');
    expect(fmtSteps(run('running', progress('training', 12, 50)))).toBe('12 / 50');
    expect(fmtSteps(run('cancelled', progress('training', 37, 1688)))).toBe('37 of 1,688');
    expect(fmtSteps(run('interrupted', progress('loading', 0, 0)))).toBe('0');
    expect(fmtSteps(run('cancelled', null, 100))).toBe('≤ 100'); // cancelled while queued: never ran
    expect(fmtSteps({ status: 'completed', summary: { steps: 1688 }, progress: null, config: { maxSteps: null } })).toBe('1,688');
  });
});

describe('chart axes', () => {
  it('an accuracy axis stays within 0–100%, even around one lone point', () => {
    const acc = lineOptions(colors, [{ label: 'val accuracy', color: '#0a0', points: true }], { x: 'step', percent: true });
    for (const [min, max] of [[0.75, 0.75], [0.1, 0.98], [0.999, 1], [1, 1], [0, 0]] as const) {
      const [lo, hi] = range(acc, 'y', min, max);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(lo).toBeLessThanOrEqual(min);
      expect(hi).toBeGreaterThanOrEqual(max);
      expect(hi).toBeGreaterThan(lo);
    }
  });

  it('a loss axis never goes below zero; x spans the data, "% of run" spans 0–100', () => {
    const loss = lineOptions(colors, [{ label: 'train loss', color: '#00f' }], { x: 'step' });
    const [lo, hi] = range(loss, 'y', 0.02, 2.3);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeGreaterThanOrEqual(2.3);
    expect(range(loss, 'y', 0.4, 0.4)[0]).toBeGreaterThanOrEqual(0);
    expect(range(loss, 'x', 1, 400)).toEqual([1, 400]);
    const [x0, x1] = range(loss, 'x', 50, 50);
    expect(x0).toBeGreaterThanOrEqual(0);
    expect(x1).toBeGreaterThan(50);
    const share = lineOptions(colors, [{ label: 'run', color: '#00f' }], { x: 'share' });
    expect(range(share, 'x', 1, 100)).toEqual([0, 100]);
    expect(share.axes?.[0]?.label).toBe("% of each run's steps");
  });
});

describe('comparing runs of very different lengths', () => {
  const series = (n: number) => ({ steps: Array.from({ length: n }, (_, i) => i + 1), values: Array.from({ length: n }, () => 1), times: Array.from({ length: n }, (_, i) => i) });

  it('defaults to x as % of each run when one run is ten times longer', () => {
    expect(defaultXAxis([6000, 100, 100])).toBe('share');
    expect(defaultXAxis([6000, 5000])).toBe('step');
    expect(defaultXAxis([100])).toBe('step');
  });

  it('"% of run" puts every run from 0 to 100%, whatever its length', () => {
    const base = xValues(series(6000), 'share', { stepsPerEpoch: 6000, startedAt: null, totalSteps: 6000 });
    const lora = xValues(series(100), 'share', { stepsPerEpoch: 100, startedAt: null, totalSteps: 100 });
    expect(base.at(-1)).toBe(100);
    expect(lora.at(-1)).toBe(100);
    expect(lora[49]).toBe(50);
    // On a shared step axis the fine-tune would end at 100 of 6,000 (1.7%); here both span it.
    const [xs] = align([{ x: base, y: base }, { x: lora, y: lora }]);
    expect(Math.max(...lora) / Math.max(...xs)).toBe(1);
  });

  it('a run\'s length: its summary, its plan while it trains, how far it got when stopped', () => {
    const cfg = { ...defaultConfig('lora'), maxSteps: 100 };
    expect(runLength({ status: 'running', summary: null, progress: progress('training', 10, 100), config: cfg }, series(10))).toBe(100);
    expect(runLength({ status: 'cancelled', summary: null, progress: progress('training', 37, 100), config: cfg }, series(37))).toBe(37);
    expect(runLength({ status: 'cancelled', summary: null, progress: null, config: cfg }, series(40))).toBe(40);
    expect(runLength({ status: 'queued', summary: null, progress: null, config: cfg }, null)).toBe(100);
  });
});

describe('focus digits in the Compare summary', () => {
  const evaluation = (wrong: number[]) => ({ wrongPerClass: wrong, countPerClass: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100] });
  const before = evaluation([1, 1, 1, 1, 1, 1, 1, 37, 1, 1]);
  const after = evaluation([2, 2, 2, 2, 2, 2, 2, 5, 2, 2]);

  it('a fine-tune on 7: wrong on 7 before → after of its images, and accuracy on the other digits', () => {
    const f = focusSummary({ kind: 'lora', config: { ...defaultConfig('lora'), classes: [7] } }, { before, after });
    expect(f).toEqual({ classes: [7], names: ['7'], wrongBefore: 37, wrongAfter: 5, images: 100, otherBefore: 1 - 9 / 900, otherAfter: 1 - 18 / 900, otherImages: 900 });
  });

  it('a base run on every digit has no focus; a base run has no "before"', () => {
    expect(focusSummary({ kind: 'base', config: defaultConfig('base') }, { after })).toBeNull();
    const f = focusSummary({ kind: 'base', config: { ...defaultConfig('base'), classes: [3, 7] } }, { before, after });
    expect(f?.wrongBefore).toBeNull();
    expect(f?.wrongAfter).toBe(7);
  });
});

describe('focus classes of a data set with named classes', () => {
  const fashion = { id: 3, name: 'Fashion-MNIST', kind: 'image' as const, shape: [28, 28, 1], classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress'] };
  const ev = (wrong: number[]) => ({ wrongPerClass: wrong, countPerClass: [50, 50, 50, 50] });

  it('names the focus classes from the run\'s data set, sorted by class', () => {
    const f = focusSummary({ kind: 'lora', config: { ...defaultConfig('lora'), classes: [3, 1] }, dataset: fashion }, { before: ev([1, 20, 1, 30]), after: ev([2, 4, 2, 6]) });
    expect(f).toMatchObject({ classes: [1, 3], names: ['Trouser', 'Dress'], wrongBefore: 50, wrongAfter: 10, images: 100, otherImages: 100 });
    expect(describeClasses(fashion, f!.names)).toBe('Trouser, Dress');
  });

  it('a subset that is every class of the data set is no focus', () => {
    expect(focusSummary({ kind: 'lora', config: { ...defaultConfig('lora'), classes: [0, 1, 2, 3] }, dataset: fashion }, { after: ev([1, 1, 1, 1]) })).toBeNull();
  });
});

describe('class names', () => {
  const mnist = { id: 1, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
  const shapes = { id: 4, classes: ['Apple', 'Leaf', 'Sky', 'Sunflower-yellow'] };

  it('MNIST keeps saying digit; any other data set says class', () => {
    expect(classNoun(mnist)).toBe('digit');
    expect(classNoun(mnist, true)).toBe('digits');
    expect(classNoun(shapes)).toBe('class');
    expect(classNoun(null, true)).toBe('classes');
    expect(commonNoun([mnist, mnist])).toBe('digit');
    expect(commonNoun([mnist, shapes], true)).toBe('classes');
    expect(describeClasses(mnist, ['7'])).toBe('digit 7');
    expect(describeClasses(mnist, ['3', '8'])).toBe('digits 3, 8');
    expect(describeClasses(shapes, ['Sky'])).toBe('Sky');
    expect(listNames(['a', 'b', 'c', 'd', 'e', 'f'], 4)).toBe('a, b, c, d +2 more');
  });

  it('unknown data sets fall back to the class indices; long names are cut with an ellipsis', () => {
    expect(classNames(null, 3)).toEqual(['0', '1', '2']);
    expect(classNames(shapes)).toEqual(shapes.classes);
    expect(shortName('Sunflower-yellow', 12)).toBe('Sunflower-y…');
    expect(shortName('Sky', 12)).toBe('Sky');
  });

  it('groups runs by class list: only equal lists (same names, same order) share per-class figures', () => {
    expect(sameClasses(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(sameClasses(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(sameClasses(['a'], null)).toBe(false);
    const groups = groupByClasses([mnist, shapes, mnist], (d) => d.classes);
    expect(groups.map((g) => g.indices)).toEqual([[0, 2], [1]]);
  });

  it('the per-class bar chart spans every class and names them on its axis, every k-th when crowded', () => {
    const opts = groupedBarOptions(colors, [{ label: 'after', color: '#00f' }], { classes: shapes.classes, noun: 'class' });
    expect(opts.scales?.x?.range).toEqual([-0.6, 3.6]);
    expect(opts.axes?.[0]?.label).toBe('true class');
    const value = opts.series?.[0]?.value as (u: unknown, v: number) => string;
    expect(value(null, 2)).toBe('Sky');
    // 600 px for 4 classes: every name, cut to 12 characters; 200 px for 50 classes (4 px each): every 5th.
    expect(classTicks({ bbox: { width: 600 } }, [0, 1, 2, 3], shapes.classes, true)).toEqual(['Apple', 'Leaf', 'Sky', 'Sunflower-y…']);
    const fifty = Array.from({ length: 50 }, (_, i) => `class ${i}`);
    const ticks = classTicks({ bbox: { width: 200 } }, fifty.map((_, i) => i), fifty, true);
    expect(ticks.filter((t) => t !== '')).toHaveLength(10);
    expect(ticks[5]).toBe('class 5');
    expect(ticks[4]).toBe('');
    // Upright digits in 60 px slots: each one.
    expect(classTicks({ bbox: { width: 600 } }, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], false)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('the Runs table focus column', () => {
  const shapes = { id: 4, name: 'Shapes', kind: 'image' as const, shape: [8, 8, 3], classes: ['Apple', 'Leaf', 'Sky', 'Sunflower-yellow'] };
  const mnist = { id: 1, name: 'mnist', kind: 'image' as const, shape: [28, 28, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };

  it('names the focus classes beside the wrong count before → after', () => {
    expect(focusCell({ focusWrong: 4, focusWrongBefore: 33, focusClasses: ['Leaf', 'Sky'], dataset: shapes })).toEqual({
      on: 'on Leaf, Sky',
      title: 'wrong answers on the test samples of classes Leaf, Sky: before → after training',
      text: '33 → 4',
      better: true,
    });
    expect(focusCell({ focusWrong: 5, focusWrongBefore: null, focusClasses: ['7'], dataset: mnist })).toMatchObject({ on: 'on 7', text: '5', better: null });
    expect(focusCell({ focusWrong: null, focusWrongBefore: null, focusClasses: null, dataset: mnist })).toMatchObject({ on: null, text: '—' });
  });

  it('says "other digits" for MNIST and "other classes" elsewhere, naming them in the tooltip', () => {
    const run = (dataset: typeof shapes, classes: number[]) => ({ otherAccuracy: 0.9, otherAccuracyBefore: 0.95, otherCount: 30, dataset, config: { ...defaultConfig('lora'), classes } });
    expect(otherCell(run(shapes, [2]))).toEqual({
      text: 'other classes 95.0% → 90.0%',
      title: 'test accuracy on the other classes (Apple, Leaf, Sunflower-yellow; n = 30): before → after training',
      better: false,
    });
    expect(otherCell(run(mnist, [7]))?.text).toBe('other digits 95.0% → 90.0%');
  });
});
