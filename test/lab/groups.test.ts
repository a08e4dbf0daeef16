/**
 * lab/groups.ts on a real Store (a temp SQLite file): runs, evaluations and metrics made
 * through the repositories (no trainer), grouped and compared; every figure recomputed
 * here by hand from the rows the test wrote.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetRef } from '../../src-main/contract/api.ts';
import { LabError } from '../../src-main/contract/api.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { RunConfig } from '../../src-main/contract/config.ts';
import type { GroupView } from '../../src-main/contract/groups.ts';
import { tQuantile, welch } from '../../src-main/contract/stats.ts';
import type { SweepSpec } from '../../src-main/contract/sweep.ts';
import { compareGroups, groupRuns } from '../../src-main/lab/groups.ts';
import { datasetRef } from '../../src-main/lab/views.ts';
import type { Store } from '../../src-main/store/store.ts';
import { openStore } from '../../src-main/store/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const TEST_PER_CLASS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
const FOCUS = 7;

interface Made {
  id: number;
  r: number;
  lr: number;
  seed: number;
  wrong: number[];
  wrongBefore: number[];
  finalLoss: number;
  wallSeconds: number;
}

let tmp: ReturnType<typeof tempDir>;
let store: Store;
let baseId: number;
const made: Made[] = [];
const refOf = (id: number): DatasetRef | null => datasetRef(store, id);

function config(r: number, lr: number, seed: number): RunConfig {
  const cfg = defaultConfig('lora');
  cfg.sizes = [784, 32, 10];
  cfg.classes = [FOCUS];
  cfg.lr = lr;
  cfg.seed = seed;
  if (cfg.lora) {
    cfg.lora.r = r;
    cfg.lora.alpha = r;
  }
  return cfg;
}

function evaluation(wrong: number[]) {
  const total = TEST_PER_CLASS.reduce((s, n) => s + n, 0);
  const w = wrong.reduce((s, n) => s + n, 0);
  return { accuracy: 1 - w / total, loss: 0.1, total, correct: total - w, wrongPerClass: wrong, countPerClass: TEST_PER_CLASS, confusion: [], predictions: new Uint8Array(0) };
}

/** A completed LoRA run with its evaluations, summary and metrics, all through the repositories. */
function completedRun(r: number, lr: number, seed: number, steps: number, link?: { sweepId: number; point: number; seedIndex: number }): Made {
  const run = store.runs.create({ name: `r${r} lr${lr} s${seed}`, kind: 'lora', config: config(r, lr, seed), baseModelId: baseId, sweep: link ?? null });
  if (link) store.sweeps.attachRun(link, run.id);
  store.runs.markRunning(run.id, 'cpu', 'cpu');
  // Deterministic but different per run: class c's wrong count moves with r, lr and the seed.
  const wrong = TEST_PER_CLASS.map((_, c) => 5 + ((c * 7 + seed * 3 + r * 5 + Math.round(lr * 1000)) % 11) + (c === FOCUS ? 20 - 3 * r : 0));
  const wrongBefore = TEST_PER_CLASS.map((_, c) => 6 + c + (c === FOCUS ? 30 : 0));
  const finalLoss = 0.05 * r + 0.01 * seed + lr;
  const wallSeconds = 2 + 0.25 * seed + r;
  store.evaluations.put(run.id, 'before', 0, evaluation(wrongBefore));
  store.evaluations.put(run.id, 'after', steps, evaluation(wrong));
  // Ragged: runs of different lengths, the loss every step, val every 2nd (odd seeds) or 3rd step.
  const points = [];
  for (let s = 1; s <= steps; s++) {
    points.push({ key: 'train/loss', step: s, value: 1 / s + 0.01 * seed + 0.1 * r, time: 1_700_000_000_000 + s });
    if (s % (seed % 2 ? 2 : 3) === 0) points.push({ key: 'val/accuracy', step: s, value: 0.9 + 0.001 * s + 0.002 * seed, time: 1_700_000_000_000 + s });
  }
  store.metrics.append(run.id, points);
  store.runs.finish(run.id, 'completed', {
    summary: { steps, epochs: 1, examples: 100, stepsPerEpoch: 10, finalLoss, wallSeconds, samplesPerSec: 100, trainableParams: 10, totalParams: 100, baseParams: 90, percentTrainable: 10, backend: 'cpu' },
  });
  const m = { id: run.id, r, lr, seed, wrong, wrongBefore, finalLoss, wallSeconds };
  made.push(m);
  return m;
}

let failedId: number;
let queuedId: number;

beforeAll(() => {
  tmp = tempDir('lora-lab-groups-');
  store = openStore(join(tmp.dir, 'lab.db'));
  baseId = store.models.create({ name: 'base', kind: 'base', sizes: [784, 32, 10], datasetId: 1 }).id;
  for (const r of [1, 4]) for (const lr of [0.001, 0.003]) for (const seed of [0, 1, 2]) completedRun(r, lr, seed, 6 + seed * 2);
  const failed = store.runs.create({ name: 'diverged', kind: 'lora', config: config(1, 0.001, 3), baseModelId: baseId });
  store.runs.markRunning(failed.id, 'cpu', 'cpu');
  store.runs.finish(failed.id, 'failed', { error: 'the loss diverged at step 4\nstack …' });
  failedId = failed.id;
  queuedId = store.runs.create({ name: 'waiting', kind: 'lora', config: config(4, 0.003, 3), baseModelId: baseId }).id;
});

afterAll(() => {
  store?.close();
  tmp?.cleanup();
});

const allIds = () => [...made.map((m) => m.id), failedId, queuedId];
const meanOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const stdOf = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - meanOf(xs)) ** 2, 0) / (xs.length - 1));
const otherAccuracy = (wrong: number[]) => {
  const w = wrong.reduce((s, x, c) => s + (c === FOCUS ? 0 : x), 0);
  const n = TEST_PER_CLASS.reduce((s, x, c) => s + (c === FOCUS ? 0 : x), 0);
  return 1 - w / n;
};
const accuracy = (wrong: number[]) => 1 - wrong.reduce((s, x) => s + x, 0) / TEST_PER_CLASS.reduce((s, x) => s + x, 0);

function expectGroupFigures(g: GroupView, members: Made[]) {
  expect(g.n).toBe(members.length);
  expect(g.completedIds).toEqual(members.map((m) => m.id));
  expect(g.seeds).toEqual(members.map((m) => m.seed));
  const cases: [keyof GroupView['figures'], number[]][] = [
    ['accuracy', members.map((m) => accuracy(m.wrong))],
    ['focusWrong', members.map((m) => m.wrong[FOCUS] as number)],
    ['focusWrongBefore', members.map((m) => m.wrongBefore[FOCUS] as number)],
    ['otherAccuracy', members.map((m) => otherAccuracy(m.wrong))],
    ['finalLoss', members.map((m) => m.finalLoss)],
    ['wallSeconds', members.map((m) => m.wallSeconds)],
  ];
  for (const [key, xs] of cases) {
    const s = g.figures[key];
    expect(s.n).toBe(xs.length);
    expect(s.mean).toBeCloseTo(meanOf(xs), 12);
    expect(s.std).toBeCloseTo(stdOf(xs), 12);
    expect(s.min).toBe(Math.min(...xs));
    expect(s.max).toBe(Math.max(...xs));
    expect(s.ci95).toBeCloseTo((tQuantile(0.975, xs.length - 1) * stdOf(xs)) / Math.sqrt(xs.length), 12);
  }
  expect(g.wrongPerClass).toHaveLength(10);
  g.wrongPerClass.forEach((s, c) => {
    const xs = members.map((m) => m.wrong[c] as number);
    expect(s.n).toBe(xs.length);
    expect(s.mean).toBeCloseTo(meanOf(xs), 12);
    expect(s.std).toBeCloseTo(stdOf(xs), 12);
  });
}

describe('groupRuns', () => {
  it('groups by every differing path but the seed, with figures as recomputed', () => {
    const t = groupRuns(store, { runIds: allIds() }, refOf);
    expect(t.by).toEqual(['lr', 'lora.r', 'lora.alpha']);
    expect(t.groups.map((g) => g.label)).toEqual([
      'lr=0.001 lora.r=1 lora.alpha=1',
      'lr=0.003 lora.r=1 lora.alpha=1',
      'lr=0.001 lora.r=4 lora.alpha=4',
      'lr=0.003 lora.r=4 lora.alpha=4',
    ]);
    const [g1, , , g4] = t.groups as [GroupView, GroupView, GroupView, GroupView];
    expect(g1.params).toEqual({ lr: 0.001, 'lora.r': 1, 'lora.alpha': 1 });
    expect(g1.key).toBe(JSON.stringify([0.001, 1, 1]));
    expect(g1.dataset?.name).toBe('mnist');
    expectGroupFigures(g1, made.filter((m) => m.r === 1 && m.lr === 0.001));
    expectGroupFigures(g4, made.filter((m) => m.r === 4 && m.lr === 0.003));
    // The failed run belongs to group 1, the queued one to group 4: listed, not counted.
    expect(g1.runIds).toContain(failedId);
    expect(g1.n).toBe(3);
    expect(g4.runIds).toContain(queuedId);
    expect(t.excluded).toEqual([
      { id: failedId, name: 'diverged', reason: 'failed: the loss diverged at step 4' },
      { id: queuedId, name: 'waiting', reason: 'queued, not trained yet' },
    ]);
    expect(t.figures.map((f) => f.key)).toContain('focusWrong');
  });

  it('groups by the picked keys, leaves or a whole object', () => {
    const t = groupRuns(store, { runIds: allIds(), by: ['lora.r'] }, refOf);
    expect(t.by).toEqual(['lora.r']);
    expect(t.groups.map((g) => [g.label, g.n, g.runIds.length])).toEqual([
      ['lora.r=1', 6, 7],
      ['lora.r=4', 6, 7],
    ]);
    expectGroupFigures(t.groups[1] as GroupView, made.filter((m) => m.r === 4));
    const byObject = groupRuns(store, { runIds: allIds(), by: ['lora'] }, refOf);
    expect(byObject.groups).toHaveLength(2);
    expect(JSON.parse(byObject.groups[0]?.params['lora'] as string)).toMatchObject({ r: 1, alpha: 1 });
    // By nothing: one group of everything; by the seed: a group per seed.
    expect(groupRuns(store, { runIds: allIds(), by: [] }, refOf).groups.map((g) => [g.label, g.n])).toEqual([['all runs', 12]]);
    expect(groupRuns(store, { runIds: allIds(), by: ['seed'] }, refOf).groups.map((g) => g.n)).toEqual([4, 4, 4, 0]);
  });

  it('runs alike but the seed form one group with an empty key', () => {
    const ids = made.filter((m) => m.r === 1 && m.lr === 0.003).map((m) => m.id);
    const t = groupRuns(store, { runIds: ids }, refOf);
    expect(t.by).toEqual([]);
    expect(t.groups).toHaveLength(1);
    expect(t.groups[0]?.label).toBe('all runs');
    expect(t.groups[0]?.seeds).toEqual([0, 1, 2]);
  });

  it('refuses bad requests with one clear line and the right status', () => {
    const err = (f: () => unknown): LabError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(LabError);
        return e as LabError;
      }
      throw new Error('no error thrown');
    };
    const missing = err(() => groupRuns(store, { runIds: [made[0]?.id as number, 99_999] }, refOf));
    expect([missing.status, missing.message]).toEqual([404, 'run 99999 does not exist']);
    expect(err(() => groupRuns(store, {}, refOf)).status).toBe(400);
    expect(err(() => groupRuns(store, { runIds: [1], sweepId: 1 }, refOf)).message).toMatch(/not both/);
    expect(err(() => groupRuns(store, { sweepId: 4242 }, refOf)).status).toBe(404);
    const by = err(() => groupRuns(store, { runIds: allIds(), by: ['lora.rank'] }, refOf));
    expect(by.status).toBe(400);
    expect(by.message).toMatch(/^unknown config path "lora.rank" to group by \(the runs have: kind, data, .*lora\.r,/);
    expect(err(() => groupRuns(store, { runIds: [made[0]?.id as number, made[0]?.id as number] }, refOf)).message).toBe('a run is listed twice');
    expect(err(() => compareGroups(store, { groups: [{ runIds: [99_999] }] }, refOf)).status).toBe(404);
    expect(err(() => compareGroups(store, { groups: [{ runIds: [made[0]?.id as number] }, { runIds: [made[0]?.id as number] }] }, refOf)).message).toMatch(/in group 1 and group 2/);
    expect(err(() => compareGroups(store, { groups: [] }, refOf)).status).toBe(400);
  });

  it('groups a sweep’s runs in start order and says which were pruned', () => {
    const spec = { start: { kind: 'finetune', baseModelId: baseId }, axes: [{ path: 'lora.r', values: [2, 8] }], seeds: 2 } as SweepSpec;
    const points = [2, 8].flatMap((r, point) => [0, 1].map((seedIndex) => ({ point, seedIndex, params: { 'lora.r': r }, seed: 10 + seedIndex })));
    const sweep = store.sweeps.create({ name: 'rank sweep', spec, config: config(1, 0.01, 10), baseModelId: baseId, owner: null, runs: points });
    const before = made.length;
    const ids = points.slice(0, 3).map((p) => completedRun(p.params['lora.r'], 0.01, p.seed, 5, { sweepId: sweep.id, point: p.point, seedIndex: p.seedIndex }).id);
    // The last point's second seed: stopped by ASHA (cancelled, its state pruned).
    const last = points[3] as (typeof points)[number];
    const link = { sweepId: sweep.id, point: last.point, seedIndex: last.seedIndex };
    const pruned = store.runs.create({ name: 'pruned one', kind: 'lora', config: config(8, 0.01, last.seed), baseModelId: baseId, sweep: link });
    store.sweeps.attachRun(link, pruned.id);
    store.runs.markRunning(pruned.id, 'cpu', 'cpu');
    store.runs.finish(pruned.id, 'cancelled', { error: 'pruned by ASHA at step 2: val/accuracy 0.9, below the top 1/3' });
    store.sweeps.setState(link, 'pruned');
    const t = groupRuns(store, { sweepId: sweep.id }, refOf);
    expect(t.by).toEqual(['lora.r', 'lora.alpha']);
    expect(t.groups.map((g) => [g.label, g.runIds, g.completedIds])).toEqual([
      ['lora.r=2 lora.alpha=2', [ids[0], ids[1]], [ids[0], ids[1]]],
      ['lora.r=8 lora.alpha=8', [ids[2], pruned.id], [ids[2]]],
    ]);
    expect(t.excluded).toEqual([{ id: pruned.id, name: 'pruned one', reason: 'pruned: pruned by ASHA at step 2: val/accuracy 0.9, below the top 1/3' }]);
    expectGroupFigures(t.groups[0] as GroupView, made.slice(before, before + 2));
    // A group of one: n 1, the mean is its value, no std and no interval.
    expect(t.groups[1]?.figures.accuracy).toMatchObject({ n: 1, std: null, ci95: null });
    made.splice(before); // the other tests use the 12 runs of the first grid only
  });

  it('a sweep with no run yet has no groups, whatever it is grouped by', () => {
    const spec = { start: { kind: 'finetune', baseModelId: baseId }, axes: [{ path: 'lr', values: [0.1] }] } as SweepSpec;
    const sweep = store.sweeps.create({ name: 'fresh', spec, config: config(1, 0.1, 0), baseModelId: baseId, owner: null, runs: [{ point: 0, seedIndex: 0, params: { lr: 0.1 }, seed: 0 }] });
    expect(groupRuns(store, { sweepId: sweep.id, by: ['lr'] }, refOf)).toMatchObject({ by: ['lr'], groups: [], excluded: [] });
    expect(groupRuns(store, { sweepId: sweep.id }, refOf).by).toEqual([]);
  });
});

describe('compareGroups', () => {
  const r1 = () => made.filter((m) => m.r === 1);
  const r4 = () => made.filter((m) => m.r === 4);

  it('aligns each group’s curves by step over ragged runs: mean, std, n, 95% band, members', () => {
    const c = compareGroups(store, { groups: [{ runIds: r1().map((m) => m.id) }, { runIds: [...r4().map((m) => m.id), queuedId] }] }, refOf);
    expect(c.groups.map((g) => g.name)).toEqual(['lora.r=1 lora.alpha=1', 'lora.r=4 lora.alpha=4']);
    expect(c.groups[0]?.params).toEqual({ 'lora.r': 1, 'lora.alpha': 1 });
    expect(Object.keys(c.series)).toEqual(['train/loss', 'val/accuracy']);
    const loss = c.series['train/loss']?.[0];
    if (!loss) throw new Error('no train/loss series');
    // Seeds 0, 1, 2 ran 6, 8, 10 steps: steps 1–10, n 6 up to step 6, 4 at 7–8, 2 at 9–10.
    expect(loss.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(loss.n).toEqual([6, 6, 6, 6, 6, 6, 4, 4, 2, 2]);
    expect(loss.members.map((s) => s.steps.length)).toEqual(r1().map((m) => 6 + m.seed * 2));
    for (const [i, step] of loss.steps.entries()) {
      const xs = r1().filter((m) => 6 + m.seed * 2 >= step).map((m) => 1 / step + 0.01 * m.seed + 0.1);
      const half = (tQuantile(0.975, xs.length - 1) * stdOf(xs)) / Math.sqrt(xs.length);
      expect(loss.mean[i]).toBeCloseTo(meanOf(xs), 12);
      expect(loss.std[i]).toBeCloseTo(stdOf(xs), 12);
      expect(loss.lo95[i]).toBeCloseTo(meanOf(xs) - half, 12);
      expect(loss.hi95[i]).toBeCloseTo(meanOf(xs) + half, 12);
    }
    // val/accuracy every 3rd step for seeds 0 (6 steps) and 2 (10), every 2nd for seed 1 (8),
    // two runs (lr 0.001, 0.003) per seed: the union of the steps, with n per step.
    const val = c.series['val/accuracy']?.[1];
    expect(val?.steps).toEqual([2, 3, 4, 6, 8, 9]);
    expect(val?.n).toEqual([2, 4, 2, 6, 2, 2]);
    // Step 2 has only the seed-1 runs (lr 0.001 and 0.003): same value, so std 0 and a band of width 0.
    expect(val?.std[0]).toBe(0);
    expect(val?.lo95[0]).toBeCloseTo(val?.mean[0] as number, 15);
    // The queued run is in the group but not among its completed members.
    expect(c.groups[1]?.runIds).toContain(queuedId);
    expect(val?.members).toHaveLength(6);
  });

  it('states Welch’s test on every figure and class, b − a, as stats.ts computes it', () => {
    const a = r1();
    const b = r4();
    const c = compareGroups(store, { groups: [{ name: 'rank 1', runIds: a.map((m) => m.id) }, { name: 'rank 4', runIds: b.map((m) => m.id) }] }, refOf);
    expect(c.groups.map((g) => g.name)).toEqual(['rank 1', 'rank 4']);
    expect(c.tests.map((t) => t.figure)).toEqual(['accuracy', 'focusWrong', 'focusWrongBefore', 'otherAccuracy', 'finalLoss', 'wallSeconds', ...Array.from({ length: 10 }, (_, k) => `wrong:${k}`)]);
    const test = (f: string) => c.tests.find((t) => t.figure === f);
    const focus = welch(a.map((m) => m.wrong[FOCUS] as number), b.map((m) => m.wrong[FOCUS] as number));
    expect(test('focusWrong')).toEqual({ figure: 'focusWrong', ...focus });
    expect(test(`wrong:${FOCUS}`)).toEqual({ figure: `wrong:${FOCUS}`, ...focus });
    expect(test('focusWrong')?.diff).toBeCloseTo(meanOf(b.map((m) => m.wrong[FOCUS] as number)) - meanOf(a.map((m) => m.wrong[FOCUS] as number)), 12);
    expect(test('focusWrong')?.p).toBeGreaterThan(0);
    expect(test('finalLoss')).toEqual({ figure: 'finalLoss', ...welch(a.map((m) => m.finalLoss), b.map((m) => m.finalLoss)) });
    expect(test('accuracy')).toEqual({ figure: 'accuracy', ...welch(a.map((m) => accuracy(m.wrong)), b.map((m) => accuracy(m.wrong))) });
    // The before figure is the same base for every run: both variances 0, no test, diff 0.
    expect(test('focusWrongBefore')).toEqual({ figure: 'focusWrongBefore', diff: 0, ci95: null, t: null, df: null, p: null });
  });

  it('one group: no tests, a default name; three groups: no tests either', () => {
    const one = compareGroups(store, { groups: [{ runIds: r1().map((m) => m.id) }] }, refOf);
    expect(one.groups[0]?.name).toBe('group 1');
    expect(one.tests).toEqual([]);
    const ids = made.map((m) => m.id);
    const three = compareGroups(store, { groups: [{ runIds: ids.slice(0, 4) }, { runIds: ids.slice(4, 8) }, { runIds: ids.slice(8) }] }, refOf);
    expect(three.groups.map((g) => g.name)).toEqual(['group 1', 'group 2', 'group 3']);
    expect(three.tests).toEqual([]);
    expect(three.series['train/loss']).toHaveLength(3);
  });
});
