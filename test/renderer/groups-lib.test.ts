/**
 * The pure logic behind the group views: a figure's mean ± std with its unit (accuracy
 * as %, counts, seconds; "—" for the std where n < 2, and why), differences with their
 * signs and ranges, p-values, the plain-language line for the focus figure, the band
 * chart's aligned table and options (bands between the right edge series), and runs
 * grouped by config minus the seed on the page.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { GroupSeries, GroupTest, Stat } from '../../src-main/contract/groups.ts';
import type { DatasetRef } from '../../src-main/contract/api.ts';
import { bandData, bandEdges, bandOptions, withAlpha } from '../../src-renderer/lib/group-bands.ts';
import {
  differenceLine,
  fmtDiff,
  fmtFigure,
  fmtP,
  fmtRange,
  fmtStat,
  figureDef,
  figureHeader,
  focusFigure,
  paramText,
  shownFigures,
  statParts,
  stdTitle,
  wrongNoun,
} from '../../src-renderer/lib/group-format.ts';
import { groupPathOptions, seedGroups, seedGroupsWorthIt } from '../../src-renderer/lib/seed-groups.ts';
import type { ChartColors } from '../../src-renderer/lib/chart-colors.ts';

const stat = (n: number, mean: number | null, std: number | null): Stat => ({ n, mean, std, min: mean, max: mean, ci95: null });
const MINUS = '\u2212';
const mnist: DatasetRef = { id: 1, name: 'MNIST', kind: 'image', shape: [28, 28, 1], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
const fashion: DatasetRef = { id: 2, name: 'Fashion-MNIST', kind: 'image', shape: [28, 28, 1], classes: ['T-shirt', 'Trouser', 'Pullover'] };

describe('mean ± std with units', () => {
  it('shows accuracy as a percentage, counts with one decimal, seconds with their unit', () => {
    expect(fmtStat(stat(4, 0.915, 0.0129099), 'fraction')).toBe('91.50 ± 1.29%');
    expect(fmtStat(stat(8, 13.75, 4.9), 'test samples')).toBe('13.8 ± 4.9');
    expect(fmtStat(stat(3, 2.4137, 0.1234), 's')).toBe('2.41 ± 0.123 s');
    expect(fmtStat(stat(3, 0.04567, 0.00123), 'cross-entropy')).toBe('0.0457 ± 0.00123');
    expect(fmtFigure(0.5, 'fraction')).toBe('50.00%');
    expect(fmtFigure(null, 's')).toBe('—');
  });

  it('gives "—" for the std where n < 2, with a title that says why', () => {
    const one = statParts(stat(1, 0.9, null), 'fraction');
    expect(one.text).toBe('90.00% ± —');
    expect(one.std).toBe('—');
    expect(one.title).toMatch(/only 1 run .* at least two/);
    expect(statParts(stat(0, null, null), 'fraction').text).toBe('—');
    expect(stdTitle(stat(0, null, null))).toMatch(/no completed run/);
    expect(stdTitle(stat(5, 1, 0.1))).toMatch(/over 5 runs/);
  });

  it('states units in the header and picks the figures some group has', () => {
    expect(figureHeader(figureDef('accuracy'))).toBe('test accuracy (%)');
    expect(figureHeader(figureDef('wallSeconds'))).toBe('wall time (s)');
    expect(figureHeader(figureDef('focusWrong'))).toBe('wrong on the focus classes (test samples)');
    const base = { figures: { accuracy: stat(2, 0.9, 0.01), focusWrong: stat(0, null, null), focusWrongBefore: stat(0, null, null), otherAccuracy: stat(0, null, null), finalLoss: stat(2, 0.1, 0.01), wallSeconds: stat(2, 3, 1) } };
    expect(shownFigures([base]).map((f) => f.key)).toEqual(['accuracy', 'finalLoss', 'wallSeconds']);
    expect(focusFigure([base])).toBe('accuracy');
    expect(focusFigure([base, { figures: { ...base.figures, focusWrong: stat(2, 3, 1) } }])).toBe('focusWrong');
  });
});

describe('differences, ranges and p-values', () => {
  it('signs differences, in percentage points for accuracies', () => {
    expect(fmtDiff(-7.4, 'test samples')).toBe(`${MINUS}7.4`);
    expect(fmtDiff(0.0042, 'fraction')).toBe('+0.42 pp');
    expect(fmtDiff(0, 's')).toBe('0 s');
    expect(fmtDiff(null, 's')).toBe('—');
    expect(fmtRange(3.1, 11.7, 'test samples')).toBe('3.1–11.7');
    expect(fmtRange(-1.2, 3.4, 'test samples')).toBe(`${MINUS}1.2 to 3.4`);
  });

  it('writes p with two significant digits, tiny ones as "< 0.001"', () => {
    expect(fmtP(0.002)).toBe('p = 0.002');
    expect(fmtP(0.04567)).toBe('p = 0.046');
    expect(fmtP(0.51234)).toBe('p = 0.51');
    expect(fmtP(0.0000123)).toBe('p < 0.001');
    expect(fmtP(null)).toBe('p —');
  });

  it('names the focus classes\' wrong answers', () => {
    expect(wrongNoun(mnist, [7])).toBe('wrong 7s');
    expect(wrongNoun(mnist, [3, 7])).toBe('wrong answers on digits 3, 7');
    expect(wrongNoun(fashion, [1])).toBe('wrong answers on Trouser');
  });
});

describe('the plain-language difference line', () => {
  const test = (over: Partial<GroupTest>): GroupTest => ({ figure: 'focusWrong', diff: -7.4, ci95: [-11.7, -3.1], t: -3.6, df: 13.2, p: 0.00213, ...over });

  it('states fewer wrong answers with the CI of the reduction, p, the test and both n', () => {
    const line = differenceLine({ test: test({}), a: 'group A', b: 'group B', nA: 8, nB: 8, dataset: mnist, classes: [7] });
    expect(line).toBe("group B gets 7.4 fewer wrong 7s than group A (95% CI 3.1–11.7, p = 0.0021, Welch's t-test, n = 8 and 8)");
  });

  it('states more wrong answers, and a CI that crosses zero with "to"', () => {
    const line = differenceLine({ test: test({ diff: 1.5, ci95: [-0.5, 3.5], p: 0.13 }), a: 'group A', b: 'group B', nA: 4, nB: 5, dataset: mnist, classes: [7] });
    expect(line).toBe(`group B gets 1.5 more wrong 7s than group A (95% CI ${MINUS}0.5 to 3.5, p = 0.13, Welch's t-test, n = 4 and 5)`);
  });

  it('states accuracy in percentage points', () => {
    const line = differenceLine({ test: test({ figure: 'accuracy', diff: 0.0123, ci95: [0.004, 0.0206], p: 0.01 }), a: 'group A', b: 'group B', nA: 3, nB: 3, dataset: mnist, classes: [] });
    expect(line).toBe("group B's test accuracy is 1.23 percentage points higher than group A's (95% CI 0.40–2.06, p = 0.01, Welch's t-test, n = 3 and 3)");
  });

  it('says why there is no CI or p-value when a group has one run', () => {
    const line = differenceLine({ test: test({ ci95: null, p: null, t: null, df: null }), a: 'group A', b: 'group B', nA: 1, nB: 4, dataset: mnist, classes: [7] });
    expect(line).toBe('group B gets 7.4 fewer wrong 7s than group A (no confidence interval or p-value: group A has 1 completed run, at least two are needed, n = 1 and 4)');
  });
});

describe('band series', () => {
  const series: GroupSeries = {
    steps: [0, 10, 20],
    mean: [1, 0.5, 0.25],
    std: [0.1, 0.2, 0],
    n: [3, 3, 1],
    lo95: [0.8, 0.1, 0.25],
    hi95: [1.2, 0.9, 0.25],
    members: [
      { steps: [0, 10, 20], values: [1.1, 0.7, 0.25], times: [0, 1, 2] },
      { steps: [0, 10], values: [0.9, 0.3], times: [0, 1] },
      { steps: [0, 10, 15], values: [1, 0.5, NaN], times: [0, 1, 2] },
    ],
  };

  it('edges are mean ± std or the 95% CI, unknown where fewer than two runs have the step', () => {
    expect(bandEdges(series, 'std')).toEqual({ lo: [0.9, 0.3, null], hi: [1.1, 0.7, null] });
    expect(bandEdges(series, 'ci95')).toEqual({ lo: [0.8, 0.1, null], hi: [1.2, 0.9, null] });
  });

  it('aligns members, edges and means of every group on one x, with bands between each group\'s edges', () => {
    const other: GroupSeries = { ...series, steps: [5], mean: [2], std: [0.5], n: [2], lo95: [1], hi95: [3], members: [] };
    const { data, layout } = bandData([{ label: 'A', color: '#2f6ad9', series }, { label: 'B', color: '#e8743b', series: other }, { label: 'C', color: '#000', series: null }], 'std', true);
    expect(data[0]).toEqual([0, 5, 10, 15, 20]);
    expect(layout.groups[0]).toEqual({ members: [1, 2, 3], lo: 4, hi: 5, mean: 6 });
    expect(layout.groups[1]).toEqual({ members: [], lo: 7, hi: 8, mean: 9 });
    expect(layout.count).toBe(12);
    expect(data[6]).toEqual([1, null, 0.5, null, 0.25]); // A's mean
    expect(data[3]).toEqual([1, null, 0.5, null, null]); // a NaN point is a gap
    expect(data[8]).toEqual([null, 2.5, null, null, null]); // B's upper edge
    expect(data[10]).toEqual([null, null, null, null, null]); // C has no curve
    const opts = bandOptions({ text: '#000', muted: '#666', grid: '#ddd', axis: '#999', surface: '#fff', palette: ['#00f'], before: '#888', after: '#00f' } satisfies ChartColors, [{ label: 'A', color: '#2f6ad9' }, { label: 'B', color: '#e8743b' }, { label: 'C', color: '#000' }], layout);
    expect(opts.series).toHaveLength(13);
    expect(opts.bands).toEqual([
      { series: [5, 4], fill: 'rgba(47, 106, 217, 0.18)' },
      { series: [8, 7], fill: 'rgba(232, 116, 59, 0.18)' },
      { series: [11, 10], fill: 'rgba(0, 0, 0, 0.18)' },
    ]);
    expect(opts.series[6]?.width).toBe(2); // the mean, drawn over its band
    expect(opts.legend?.show).toBe(false);
  });

  it('leaves the members out when asked, and handles 30 runs × 1000 steps', () => {
    const big: GroupSeries = {
      steps: Array.from({ length: 1000 }, (_, i) => i),
      mean: Array(1000).fill(1),
      std: Array(1000).fill(0.1),
      n: Array(1000).fill(15),
      lo95: Array(1000).fill(0.9),
      hi95: Array(1000).fill(1.1),
      members: Array.from({ length: 15 }, () => ({ steps: Array.from({ length: 1000 }, (_, i) => i), values: Array(1000).fill(1), times: Array(1000).fill(0) })),
    };
    const without = bandData([{ label: 'A', color: '#000', series: big }], 'ci95', false);
    expect(without.layout.groups[0]?.members).toEqual([]);
    const withAll = bandData([{ label: 'A', color: '#000', series: big }, { label: 'B', color: '#111', series: big }], 'std', true);
    expect(withAll.data).toHaveLength(1 + 2 * (15 + 3));
    expect(withAll.data[0]).toHaveLength(1000);
    expect(withAlpha('#abc', 0.5)).toBe('rgba(170, 187, 204, 0.5)');
    expect(withAlpha('red', 0.5)).toBe('red');
  });
});

describe('grouping on the page', () => {
  const cfg = (seed: number, r: number) => {
    const c = defaultConfig('lora');
    c.seed = seed;
    if (c.lora) c.lora.r = r;
    return c;
  };

  it('groups runs by config minus the seed, in first-seen order', () => {
    const runs = [
      { id: 1, config: cfg(0, 1) },
      { id: 2, config: cfg(0, 4) },
      { id: 3, config: cfg(1, 1) },
      { id: 4, config: cfg(1, 4) },
      { id: 5, config: cfg(2, 1) },
    ];
    expect(seedGroups(runs)).toEqual([[1, 3, 5], [2, 4]]);
    expect(seedGroupsWorthIt(seedGroups(runs))).toBe(true);
    expect(seedGroupsWorthIt(seedGroups([runs[0]!, runs[1]!]))).toBe(false);
  });

  it('offers the differing paths first', () => {
    const opts = groupPathOptions([cfg(0, 1), cfg(1, 4)]);
    expect(opts.slice(0, 2)).toEqual([{ path: 'seed', differs: true }, { path: 'lora.r', differs: true }]);
    expect(opts.find((o) => o.path === 'lr')).toEqual({ path: 'lr', differs: false });
  });

  it('shows grouping values by name: classes, sizes, data sets, numbers', () => {
    expect(paramText('classes', '[3,7]', mnist)).toBe('3, 7');
    expect(paramText('classes', '[1]', fashion)).toBe('Trouser');
    expect(paramText('sizes', '[784,32,10]', mnist)).toBe('784→32→10');
    expect(paramText('data', 2, fashion)).toBe('Fashion-MNIST');
    expect(paramText('lr', 0.003, mnist)).toBe('0.003');
    expect(paramText('lora.init', null, mnist)).toBe('—');
  });
});
