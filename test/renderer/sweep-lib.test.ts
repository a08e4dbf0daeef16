/**
 * The Sweep pages' pure parts (issue 14): axis scales of the parallel coordinates (log
 * for a path spanning more than a decade, categories evenly spaced, the objective's
 * better end on top), brushing as a filter of the lines, the New sweep form's axes and
 * its count of points × seeds (budget keeping whole points), the figures in their units,
 * and when a sweep or a run deserves a notice.
 */
import { describe, expect, it } from 'vitest';
import { EndNotices } from '../../src-main/app/notifier.ts';
import type { RunView } from '../../src-main/contract/api.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { SweepPointView, SweepView } from '../../src-main/contract/sweep.ts';
import { axesOf, brushFrom, brushed, goodness, linesOf, position, scaleFor, ticks, valueAt } from '../../src-renderer/lib/parallel-coords.ts';
import { buildAxis, configPaths, countRuns, parseValues, valuesPlaceholder } from '../../src-renderer/lib/sweep-axes.ts';
import { fmtParam, fmtStat } from '../../src-renderer/lib/sweep-format.ts';

const stat = { n: 0, mean: null, std: null, min: null, max: null, ci95: null };

function point(index: number, params: Record<string, number | string>, values: (number | null)[]): SweepPointView {
  return {
    index,
    params,
    objective: stat,
    runs: values.map((v, k) => ({ seedIndex: k, seed: k, runId: index * 10 + k + 1, state: v === null ? 'running' : 'completed', attempts: 1, step: null, totalSteps: null, value: v })),
  };
}

describe('axis scales', () => {
  it('a numeric path spanning more than a decade is log, positions by log distance', () => {
    const s = scaleFor([0.001, 0.003, 0.01, 0.03]);
    expect(s.kind).toBe('log');
    expect(position(s, 0.001)).toBeCloseTo(0);
    expect(position(s, 0.03)).toBeCloseTo(1);
    // 0.01 is two thirds of the way in log space (log 10 of 30), not a third in linear.
    expect(position(s, 0.01)).toBeCloseTo(Math.log(10) / Math.log(30));
    expect(valueAt(s, position(s, 0.003)!)).toBeCloseTo(0.003);
    expect(ticks(s).map((t) => t.value)).toEqual([0.001, 0.01]);
  });

  it('within a decade, or with zero, it is linear; a constant path sits in the middle', () => {
    expect(scaleFor([1, 2, 4]).kind).toBe('linear');
    expect(scaleFor([0, 100]).kind).toBe('linear');
    expect(position(scaleFor([1, 2, 4]), 2)).toBeCloseTo(1 / 3);
    expect(position(scaleFor([5, 5]), 5)).toBe(0.5);
  });

  it('text values are categories, evenly spaced in first-seen order; numbers among text sort', () => {
    const s = scaleFor(['sgd', 'adam', 'sgd']);
    expect(s).toEqual({ kind: 'category', values: ['sgd', 'adam'] });
    expect(position(s, 'sgd')).toBe(0);
    expect(position(s, 'adam')).toBe(1);
    expect(position(s, 'rmsprop')).toBeNull();
    const three = scaleFor(['c', 'a', 'b']);
    expect(position(three, 'a')).toBe(0.5);
    expect(scaleFor([null, 2, 1])).toEqual({ kind: 'category', values: ['null', '2', '1'] });
  });

  it('the objective axis puts the better end on top: lower-is-better axes are reversed', () => {
    const points = [point(0, { 'lora.r': 1 }, [10, 20]), point(1, { 'lora.r': 4 }, [4, null])];
    const lines = linesOf(points, 'focusWrong');
    const axes = axesOf(['lora.r'], points, lines, { key: 'focusWrong', label: 'wrong', better: 'lower' });
    expect(axes.map((a) => a.key)).toEqual(['lora.r', 'focusWrong']);
    const obj = axes[1]!.scale;
    expect(position(obj, 4)).toBe(1);
    expect(position(obj, 20)).toBe(0);
    expect(goodness(4, lines, 'lower')).toBe(1);
    expect(goodness(20, lines, 'lower')).toBe(0);
  });
});

describe('lines and brushing', () => {
  const points = [
    point(0, { lr: 0.001, 'lora.r': 1 }, [0.9, 0.91]),
    point(1, { lr: 0.01, 'lora.r': 1 }, [0.8, 0.82]),
    point(2, { lr: 0.1, 'lora.r': 4 }, [0.95, null]),
  ];
  const lines = linesOf(points, 'accuracy');
  const axes = axesOf(['lr', 'lora.r'], points, lines, { key: 'accuracy', label: 'acc', better: 'higher' });

  it('one line per completed run with a value; running runs have none', () => {
    expect(lines.map((l) => l.runId)).toEqual([1, 2, 11, 12, 21]);
    expect(lines[4]!.values).toEqual({ lr: 0.1, 'lora.r': 4, accuracy: 0.95 });
  });

  it('no brush keeps every line; a brush keeps the lines inside it; brushes on two axes intersect', () => {
    expect(brushed(lines, axes, {})).toHaveLength(5);
    // lr is log over 0.001…0.1: the lower half holds 0.001 and 0.01 (at 0 and 0.5).
    const lower = brushed(lines, axes, { lr: { lo: 0, hi: 0.5 } });
    expect(lower.map((l) => l.point)).toEqual([0, 0, 1, 1]);
    const both = brushed(lines, axes, { lr: { lo: 0, hi: 0.5 }, accuracy: { lo: 0.5, hi: 1 } });
    expect(both.map((l) => l.runId)).toEqual([1, 2]);
    expect(brushed(lines, axes, { 'lora.r': { lo: 0.9, hi: 1 } }).map((l) => l.runId)).toEqual([21]);
  });

  it('a drag becomes an ordered, clamped brush; a click is none', () => {
    expect(brushFrom(0.8, 0.2)).toEqual({ lo: 0.2, hi: 0.8 });
    expect(brushFrom(-0.5, 1.4)).toEqual({ lo: 0, hi: 1 });
    expect(brushFrom(0.5, 0.503)).toBeNull();
  });
});

describe('the New sweep form', () => {
  const cfg = defaultConfig('lora');
  const paths = configPaths(cfg);

  it('offers the config’s scalar paths, not kind, data or seed', () => {
    const names = paths.map((p) => p.path);
    expect(names).toEqual(expect.arrayContaining(['lr', 'batchSize', 'maxSteps', 'optimizer', 'lora.r', 'lora.alpha', 'lora.init', 'testLimit']));
    expect(names).not.toContain('seed');
    expect(names).not.toContain('kind');
    expect(names).not.toContain('data');
    expect(names).not.toContain('lora.targets');
    expect(paths.find((p) => p.path === 'optimizer')?.type).toBe('text');
    expect(paths.find((p) => p.path === 'testLimit')).toMatchObject({ type: 'number', value: null, nullable: true });
  });

  it('parses a comma list by the path’s type and says what is wrong', () => {
    const r = paths.find((p) => p.path === 'lora.r')!;
    expect(parseValues('1, 2,4 ,', r)).toEqual({ values: [1, 2, 4], issue: null });
    expect(parseValues('1, two', r).issue).toBe('“two” is not a number');
    expect(parseValues(' , ', r).issue).toMatch(/at least one value/);
    expect(parseValues('adam, sgd', paths.find((p) => p.path === 'optimizer')!).values).toEqual(['adam', 'sgd']);
    expect(parseValues('100, null', paths.find((p) => p.path === 'maxSteps')!).values).toEqual([100, null]);
  });

  it('offers the LoRA variant, init (their choices) and LoRA-FA (true/false) as axis paths', () => {
    expect(paths.find((p) => p.path === 'lora.variant')).toMatchObject({ type: 'text', value: 'lora', options: ['lora', 'dora'] });
    expect(paths.find((p) => p.path === 'lora.init')).toMatchObject({ type: 'text', options: ['kaiming', 'gaussian', 'pissa', 'olora'] });
    const fa = paths.find((p) => p.path === 'lora.freezeA')!;
    expect(fa).toMatchObject({ type: 'boolean', value: false });
    expect(parseValues('false, true', fa)).toEqual({ values: [false, true], issue: null });
    expect(parseValues('true, yes', fa).issue).toBe('“yes” is not true or false');
    const variant = paths.find((p) => p.path === 'lora.variant')!;
    expect(parseValues('lora, dora', variant).values).toEqual(['lora', 'dora']);
    expect(parseValues('lora, vera', variant).issue).toBe('“vera” is not one of lora, dora');
    expect(valuesPlaceholder(variant)).toBe('lora, dora');
    expect(valuesPlaceholder(fa)).toBe('false, true');
    expect(valuesPlaceholder(paths.find((p) => p.path === 'lr'))).toBe('1, 2, 4');
    const d = { path: 'lora.freezeA', mode: 'choice' as const, values: 'true,false', min: '', max: '' };
    expect(buildAxis(d, paths).axis).toEqual({ path: 'lora.freezeA', distribution: { kind: 'choice', values: [true, false] } });
    expect(buildAxis({ ...d, mode: 'uniform', min: '0', max: '1' }, paths).issue).toBe('lora.freezeA takes true or false: list its values (grid or choice)');
    // A config stored before variants existed still offers them, at plain LoRA.
    const old = defaultConfig('lora');
    delete (old.lora as Partial<NonNullable<typeof old.lora>>).variant;
    delete (old.lora as Partial<NonNullable<typeof old.lora>>).freezeA;
    expect(configPaths(old).filter((p) => p.path === 'lora.variant' || p.path === 'lora.freezeA').map((p) => [p.path, p.value])).toEqual([['lora.variant', 'lora'], ['lora.freezeA', false]]);
    // A base config has no lora paths.
    expect(configPaths(defaultConfig('base')).some((p) => p.path.startsWith('lora.'))).toBe(false);
  });

  it('builds grid and random axes; a distribution needs numbers with min ≤ max (log: min > 0)', () => {
    const d = { path: 'lr', mode: 'grid' as const, values: '0.001, 0.01', min: '', max: '' };
    expect(buildAxis(d, paths)).toEqual({ axis: { path: 'lr', values: [0.001, 0.01] }, issue: null });
    expect(buildAxis({ ...d, mode: 'log-uniform', min: '1e-4', max: '1e-2' }, paths).axis).toEqual({ path: 'lr', distribution: { kind: 'log-uniform', min: 1e-4, max: 1e-2 } });
    expect(buildAxis({ ...d, mode: 'log-uniform', min: '0', max: '1' }, paths).issue).toBe('log-uniform needs min > 0');
    expect(buildAxis({ ...d, mode: 'uniform', min: '2', max: '1' }, paths).issue).toBe('min is larger than max');
    expect(buildAxis({ ...d, path: 'optimizer', mode: 'int', min: '1', max: '2' }, paths).issue).toMatch(/takes text/);
    expect(buildAxis({ ...d, path: 'nope' }, paths).issue).toMatch(/not a path/);
  });

  it('counts grid points × trials × seeds, and a budget keeps whole points', () => {
    const grid = [{ path: 'lora.r', values: [1, 2, 4] }, { path: 'lr', values: [1e-3, 3e-3, 1e-2] }];
    expect(countRuns({ axes: grid, trials: null, seeds: 3, budget: null })).toMatchObject({ points: 9, runs: 27, text: '9 points × 3 seeds = 27 runs' });
    expect(countRuns({ axes: [], trials: null, seeds: 1, budget: null }).text).toBe('1 point × 1 seed = 1 run');
    const random = [...grid.slice(0, 1), { path: 'lr', distribution: { kind: 'log-uniform' as const, min: 1e-4, max: 1e-2 } }];
    expect(countRuns({ axes: random, trials: 5, seeds: 2, budget: null })).toMatchObject({ points: 15, runs: 30 });
    const cut = countRuns({ axes: grid, trials: null, seeds: 3, budget: 10 });
    expect(cut).toMatchObject({ points: 3, allPoints: 9, runs: 9 });
    expect(cut.text).toBe('3 points × 3 seeds = 9 runs (the budget keeps 3 of 9 points)');
    expect(countRuns({ axes: grid, trials: null, seeds: 3, budget: 2 }).points).toBe(0);
  });
});

describe('figures', () => {
  it('fractions read as percentages with the std in points; other units plainly; n = 0 is a dash', () => {
    expect(fmtStat({ ...stat, n: 3, mean: 0.9123, std: 0.0041 }, 'fraction')).toBe('91.23% ± 0.41');
    expect(fmtStat({ ...stat, n: 1, mean: 13, std: null }, 'test samples')).toBe('13');
    expect(fmtStat({ ...stat, n: 4, mean: 13.75, std: 4.9 }, 'test samples')).toBe('13.75 ± 4.9');
    expect(fmtStat(stat, 'fraction')).toBe('—');
    expect(fmtParam('lr', 0.003)).toBe('3e-3');
    expect(fmtParam('lora.r', 4)).toBe('4');
  });
});

describe('end notices', () => {
  const counts = { total: 6, pending: 0, queued: 0, running: 0, completed: 5, failed: 0, cancelled: 0, pruned: 1 };
  const sweep = (status: SweepView['status'], finishedAt: number | null): SweepView => ({
    id: 3, name: 'grid', status, spec: { start: { kind: 'base' }, axes: [] }, paths: [], points: 2, seeds: 3, counts, objective: { figure: 'accuracy', better: 'higher' },
    createdAt: 0, finishedAt, etaSeconds: null, drivenHere: true, owner: null, error: null,
  });
  const run = (status: RunView['status'], secs: number, link: RunView['sweep'] = null) =>
    ({ id: 9, name: 'long one', status, startedAt: 1_000, finishedAt: 1_000 + secs * 1000, sweep: link, accuracy: 0.9, error: null }) as unknown as RunView;

  it('a sweep that ends is told once, with its counts', () => {
    const n = new EndNotices(() => 10_000);
    expect(n.notice({ type: 'sweep', sweep: sweep('running', null) })).toBeNull();
    const told = n.notice({ type: 'sweep', sweep: sweep('completed', 9_000) });
    expect(told).toEqual({ title: 'Sweep “grid” completed', body: '5 of 6 runs completed, 1 pruned.', route: '#/sweeps/3' });
    expect(n.notice({ type: 'sweep', sweep: sweep('completed', 9_000) })).toBeNull();
  });

  it('a sweep first seen long after it ended is history, not news', () => {
    const n = new EndNotices(() => 10_000_000);
    expect(n.notice({ type: 'sweep', sweep: sweep('cancelled', 1_000) })).toBeNull();
  });

  it('a run over a minute is told when it ends; a short run or a sweep’s run is not', () => {
    const now = () => 1_000 + 90_000;
    expect(new EndNotices(now).notice({ type: 'run', run: run('completed', 61) })?.title).toBe('Run “long one” completed');
    expect(new EndNotices(now).notice({ type: 'run', run: run('completed', 59) })).toBeNull();
    expect(new EndNotices(now).notice({ type: 'run', run: run('completed', 80, { sweepId: 3, point: 0, seedIndex: 0 }) })).toBeNull();
    expect(new EndNotices(now).notice({ type: 'run', run: run('running', 80) })).toBeNull();
  });
});
