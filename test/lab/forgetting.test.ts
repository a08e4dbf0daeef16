/**
 * Learning against forgetting through the Lab on real tiny runs (LoRA at ranks 1 and 4
 * and a full fine-tune, all on digit 7, quick evaluations every 5 steps): end points
 * recomputed from the stored evaluations, trajectories from the logged slice metrics
 * with the n of the test samples they used, the Pareto front by brute force, a sweep's
 * runs, and what is left out and why.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { sliceAccuracies } from '../../src-main/trainer/loop.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
let lab: Lab;
let baseRun = 0;
const ids: Record<string, number> = {};

function fineTune(kind: 'lora' | 'full', r: number, digit = 7): RunConfig {
  const c = { ...defaultConfig(kind), sizes, batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 5, evalSubset: 100, maxSteps: 20, classes: [digit], lr: 0.01 };
  if (c.lora) c.lora = { ...c.lora, r, alpha: r, targets: ['linear1', 'linear2'] };
  return c;
}

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), { concurrency: 2, host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
  const base = await lab.waitForRun((await lab.createRun({ name: 'fg base', config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 640, testLimit: 200, evalEvery: 0, maxSteps: 30 } })).id);
  baseRun = base.id;
  const made = await Promise.all(
    (
      [
        ['r1', fineTune('lora', 1)],
        ['r4', fineTune('lora', 4)],
        ['full', fineTune('full', 0)],
        ['on3', fineTune('lora', 1, 3)],
      ] as const
    ).map(async ([k, config]) => [k, (await lab.createRun({ name: `fg ${k}`, config, baseModelId: base.modelId! })).id] as const),
  );
  for (const [k, id] of made) ids[k] = (await lab.waitForRun(id)).id;
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

const acc = (e: { wrongPerClass: number[]; countPerClass: number[] }, inFocus: (c: number) => boolean) => {
  let right = 0;
  let n = 0;
  e.countPerClass.forEach((count, c) => {
    if (!inFocus(c)) return;
    right += count - e.wrongPerClass[c]!;
    n += count;
  });
  return { accuracy: right / n, n };
};

describe('forgetting', () => {
  it('sets each fine-tune’s learning on the slice against what it lost on the rest, from its evaluations', async () => {
    const view = await lab.forgetting({ runIds: [ids['r1']!, ids['r4']!, ids['full']!] });
    expect(view.focusClasses).toEqual(['7']);
    expect(view.dataset?.name).toBe('mnist');
    expect(view.runs.map((r) => r.method)).toEqual(['LoRA r1', 'LoRA r4', 'full fine-tune']);
    for (const r of view.runs) {
      const { before, after } = (await lab.getRun(r.runId)).evaluations;
      const f0 = acc(before!, (c) => c === 7);
      const f1 = acc(after!, (c) => c === 7);
      const o0 = acc(before!, (c) => c !== 7);
      const o1 = acc(after!, (c) => c !== 7);
      expect(r.before).toEqual({ focus: f0, other: o0 });
      expect(r.after).toEqual({ focus: f1, other: o1 });
      expect(r.learned).toBeCloseTo(f1.accuracy - f0.accuracy, 12);
      expect(r.forgotten).toBeCloseTo(o0.accuracy - o1.accuracy, 12);
      expect(r.before.focus.n + r.before.other.n).toBe(200);
    }
  });

  it('draws each run’s trajectory from the base through its quick evaluations, with their n', async () => {
    const view = await lab.forgetting({ runIds: [ids['r4']!] });
    const r = view.runs[0]!;
    expect(r.trajectory.map((p) => [p.step, p.source])).toEqual([
      [0, 'before'],
      [5, 'quick'],
      [10, 'quick'],
      [15, 'quick'],
      [20, 'after'],
    ]);
    expect(r.trajectory[0]).toMatchObject({ learned: 0, forgotten: 0 });
    const labels = (await lab.datasetLabels(1, 'test')).subarray(0, 100);
    const sevens = labels.filter((l) => l === 7).length;
    const detail = await lab.getRun(r.runId);
    for (const p of r.trajectory.filter((q) => q.source === 'quick')) {
      expect([p.focus.n, p.other.n]).toEqual([sevens, 100 - sevens]);
      const i = detail.metrics['val/focus_accuracy']!.steps.indexOf(p.step);
      expect(p.focus.accuracy).toBe(detail.metrics['val/focus_accuracy']!.values[i]);
      expect(p.learned).toBeCloseTo(p.focus.accuracy - r.before.focus.accuracy, 12);
    }
  });

  it('marks the Pareto front: no run learned at least as much while forgetting at most as much', async () => {
    const view = await lab.forgetting({ runIds: [ids['r1']!, ids['r4']!, ids['full']!] });
    for (const r of view.runs) {
      const dominated = view.runs.some((q) => q !== r && q.learned >= r.learned && q.forgotten <= r.forgotten && (q.learned > r.learned || q.forgotten < r.forgotten));
      expect(r.pareto).toBe(!dominated);
    }
    expect(view.front.length).toBeGreaterThan(0);
    const front = view.front.map((id) => view.runs.find((r) => r.runId === id)!);
    for (let i = 1; i < front.length; i++) expect(front[i]!.forgotten).toBeGreaterThanOrEqual(front[i - 1]!.forgotten);
  });

  it('says which runs it leaves out and why', async () => {
    const view = await lab.forgetting({ runIds: [ids['r1']!, baseRun, ids['on3']!] });
    expect(view.runs.map((r) => r.runId)).toEqual([ids['r1']]);
    expect(view.skipped).toEqual([
      { runId: baseRun, name: 'fg base', reason: expect.stringMatching(/a base run/) as string },
      { runId: ids['on3'], name: 'fg on3', reason: expect.stringMatching(/another slice .*classes 3\) than the first run's .*classes 7\)/) as string },
    ]);
    await expect(lab.forgetting({ runIds: [999] })).rejects.toMatchObject({ status: 404 });
    await expect(lab.forgetting({})).rejects.toThrow(/runIds.*or a sweep/);
    await expect(lab.forgetting({ runIds: [1], sweepId: 1 })).rejects.toThrow(/one of the two/);
  });

  it('takes a sweep’s runs', async () => {
    const sweep = await lab.createSweep({ start: { kind: 'run', runId: ids['r1']! }, overrides: { maxSteps: 10 }, axes: [{ path: 'lora.r', values: [1, 2] }], seeds: 1 });
    await lab.waitForSweep(sweep.id);
    const view = await lab.forgetting({ sweepId: sweep.id });
    expect(view.runs.map((r) => r.rank).sort()).toEqual([1, 2]);
    expect(view.runs.every((r) => r.steps === 10 && r.trajectory.length === 3)).toBe(true); // base, step 5, end
  });
});

describe('sliceAccuracies (the trainer’s quick-evaluation metrics)', () => {
  it('splits an evaluation into the focus classes and the rest', () => {
    const ev = { countPerClass: [10, 20, 30], wrongPerClass: [1, 5, 3] };
    expect(sliceAccuracies(ev, [1])).toEqual([
      ['val/focus_accuracy', 15 / 20],
      ['val/other_accuracy', (9 + 27) / 40],
    ]);
    expect(sliceAccuracies(ev, null)).toEqual([]);
    expect(sliceAccuracies(ev, [0, 1, 2])).toEqual([]);
  });
});
