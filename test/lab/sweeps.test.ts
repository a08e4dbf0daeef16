/**
 * Sweeps through a real Lab on a temporary database with real trainer processes: a
 * fine-tune grid × seeds stored whole, an invalid spec refused before anything is
 * stored, a cancel mid-sweep, and ASHA stopping the runs a bad learning rate ruins.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../../src-main/contract/api.ts';
import { LabError } from '../../src-main/contract/api.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { SweepView } from '../../src-main/contract/sweep.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { SweepSpecError } from '../../src-main/lab/sweep-service.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];

describe('sweeps', () => {
  const tmp = tempDir();
  let lab: Lab;
  let modelId = 0;
  const events: LabEvent[] = [];
  const sweepEvents = (id: number) => events.flatMap((e) => (e.type === 'sweep' && e.sweep.id === id ? [e.sweep] : []));

  beforeAll(async () => {
    lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } }, metricFlushMs: 50 });
    lab.subscribe((e) => events.push(e));
    const base: RunConfig = { ...defaultConfig('base'), sizes, trainLimit: 500, testLimit: 300, maxSteps: 40, evalEvery: 0 };
    const run = await lab.waitForRun((await lab.createRun({ config: base })).id);
    expect(run.status, run.error ?? '').toBe('completed');
    modelId = run.modelId!;
  }, 60_000);
  afterAll(async () => {
    await lab.close();
    tmp.cleanup();
  });

  it('trains every point × seed of a fine-tune grid and stores each run whole', async () => {
    const created = await lab.createSweep({
      name: 'rank × lr',
      start: { kind: 'finetune', baseModelId: modelId },
      overrides: { maxSteps: 10, testLimit: 300, evalEvery: 5, evalSubset: 100 },
      axes: [{ path: 'lora.r', values: [1, 2] }, { path: 'lr', values: [0.001, 0.01] }],
      seeds: 2,
      concurrency: 2,
      tags: ['grid'],
    });
    expect(created).toMatchObject({ name: 'rank × lr', status: 'running', points: 4, seeds: 2, paths: ['lora.r', 'lr'], drivenHere: true, objective: { figure: 'focusWrong', better: 'lower' } });
    expect(created.counts).toMatchObject({ total: 8, pending: 6 });
    expect(created.counts.queued + created.counts.running).toBe(2); // concurrency 2
    const done = await lab.waitForSweep(created.id);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.counts).toEqual({ total: 8, pending: 0, queued: 0, running: 0, completed: 8, failed: 0, cancelled: 0, pruned: 0 });
    expect(done.finishedAt).not.toBeNull();
    expect(done.drivenHere).toBe(false);
    expect(done.etaSeconds).toBeNull();

    const runs = (await lab.listRuns()).filter((r) => r.sweep?.sweepId === created.id);
    expect(runs).toHaveLength(8);
    for (const r of runs) {
      expect(r.status).toBe('completed');
      expect(r.attempt).toBe(1);
      expect(r.tags).toEqual(['grid', `sweep:${created.id}`]);
      const d = await lab.getRun(r.id);
      expect(d.metrics['train/loss']!.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(d.metrics['val/accuracy']!.steps).toEqual([5]);
      expect(d.evaluations.before!.total).toBe(300);
      expect(d.evaluations.after!.total).toBe(300);
    }
    // Each (point, seed) once, with the point's values and the seed in its config.
    const places = runs.map((r) => `${r.sweep!.point}/${r.sweep!.seedIndex}:${r.config.lora!.r}/${r.config.lr}/${r.config.seed}`).sort();
    expect(places).toEqual(['0/0:1/0.001/0', '0/1:1/0.001/1', '1/0:1/0.01/0', '1/1:1/0.01/1', '2/0:2/0.001/0', '2/1:2/0.001/1', '3/0:2/0.01/0', '3/1:2/0.01/1']);
    expect(runs.find((r) => r.sweep!.point === 3 && r.sweep!.seedIndex === 1)!.name).toBe('rank × lr · lora.r=2 lr=0.01 · seed 1');

    const detail = await lab.getSweep(created.id);
    expect(detail.config).toMatchObject({ kind: 'lora', maxSteps: 10, sizes });
    expect(detail.baseModelId).toBe(modelId);
    expect(detail.pointList.map((p) => [p.index, p.params, p.runs.length, p.objective.n])).toEqual([
      [0, { 'lora.r': 1, lr: 0.001 }, 2, 2],
      [1, { 'lora.r': 1, lr: 0.01 }, 2, 2],
      [2, { 'lora.r': 2, lr: 0.001 }, 2, 2],
      [3, { 'lora.r': 2, lr: 0.01 }, 2, 2],
    ]);
    const first = detail.pointList[0]!.runs[0]!;
    expect(first).toMatchObject({ seedIndex: 0, seed: 0, state: 'completed', attempts: 1, step: 10, totalSteps: 10 });
    expect(first.value).toBe(runs.find((r) => r.id === first.runId)!.focusWrong);
    expect(detail.runsByStatus.completed!.sort()).toEqual(runs.map((r) => r.id).sort());
    const means = detail.pointList.map((p) => p.objective.mean!);
    expect(detail.best!.objective.mean).toBe(Math.min(...means));
    expect(detail.best!.runIds).toHaveLength(2);
    expect(detail.groups.map((g) => g.n)).toEqual([2, 2, 2, 2]);
    expect(detail.importance.map((i) => [i.path, i.n])).toEqual([['lora.r', 8], ['lr', 8]]);
    expect((await lab.getSweep(created.id, 'accuracy')).objective).toEqual({ figure: 'accuracy', better: 'higher' });
    await expect(lab.getSweep(created.id, 'nope')).rejects.toThrow(/unknown objective "nope"/);

    const statuses = sweepEvents(created.id).map((s) => s.status);
    expect(statuses[0]).toBe('running');
    expect(statuses.at(-1)).toBe('completed');
    expect((await lab.listSweeps()).map((s) => s.id)).toContain(created.id);
    await expect(lab.resumeSweep(created.id)).rejects.toThrow(/is completed; only a paused sweep can be resumed/);
    await expect(lab.cancelSweep(created.id)).rejects.toMatchObject({ status: 409 });
  }, 120_000);

  it('refuses an invalid spec with every problem, storing nothing', async () => {
    const before = (await lab.listSweeps()).length;
    const err = await lab
      .createSweep({ start: { kind: 'finetune', baseModelId: modelId }, axes: [{ path: 'lora.r', values: [1, 5000] }, { path: 'lr', values: [] }], seeds: 3, budget: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SweepSpecError);
    expect((err as LabError).status).toBe(400);
    expect((err as SweepSpecError).issues).toEqual(['lr: the axis has no values', 'budget: 2 runs is a budget below one point (each point runs 3 seeds)']);
    expect((err as Error).message).toBe('invalid sweep: lr: the axis has no values; budget: 2 runs is a budget below one point (each point runs 3 seeds)');
    const rank = await lab.createSweep({ start: { kind: 'finetune', baseModelId: modelId }, axes: [{ path: 'lora.r', values: [1, 5000] }] }).catch((e: Error) => e);
    expect((rank as Error).message).toBe('invalid sweep: lora.r=5000: rank 5000 is larger than layer linear1 allows (min(in, out) = 16); lora.r=5000: rank 5000 is larger than layer linear2 allows (min(in, out) = 10)');
    await expect(lab.createSweep({ start: { kind: 'finetune', baseModelId: 999 }, axes: [] })).rejects.toMatchObject({ status: 404, message: 'model 999 does not exist' });
    await expect(lab.createSweep({ start: { kind: 'base' }, axes: [{ path: 'lr', values: [1] }], seeds: 0 } as never)).rejects.toThrow(/^invalid sweep: seeds: /);
    expect(await lab.listSweeps()).toHaveLength(before);
  });

  it('cancels mid-sweep: pending points and the running run stop, nothing more starts', async () => {
    const sweep = await lab.createSweep({
      start: { kind: 'base' },
      config: { ...defaultConfig('base'), sizes, trainLimit: 500, testLimit: 200, epochs: 1000, maxSteps: 100_000, evalEvery: 0 },
      axes: [{ path: 'lr', values: [0.001, 0.003, 0.01] }],
      seeds: 2,
    });
    // Wait until its first run trains.
    await new Promise<void>((resolve) => {
      const off = lab.subscribe((e) => {
        if (e.type === 'progress' && e.progress.step > 0 && lab.store.runs.get(e.runId).sweep?.sweepId === sweep.id) off(), resolve();
      });
    });
    const cancelled = await lab.cancelSweep(sweep.id);
    expect(cancelled.status).toBe('cancelled');
    const done: SweepView = await lab.waitForSweep(sweep.id);
    expect(done.status).toBe('cancelled');
    expect(done.counts).toMatchObject({ total: 6, pending: 0, queued: 0, running: 0, completed: 0, cancelled: 6 });
    const runs = (await lab.listRuns()).filter((r) => r.sweep?.sweepId === sweep.id);
    expect(runs.map((r) => r.status)).toEqual(['cancelled']); // one run had started; the other points never got one
    expect(runs[0]!.progress!.step).toBeGreaterThan(0);
    await expect(lab.resumeSweep(sweep.id)).rejects.toMatchObject({ status: 409 });

    // Deleting the sweep keeps its runs, unlinked.
    await lab.deleteSweep(sweep.id);
    expect(lab.store.runs.get(runs[0]!.id).sweep).toBeNull();
    await expect(lab.getSweep(sweep.id)).rejects.toMatchObject({ status: 404 });
    expect(events.some((e) => e.type === 'sweep-deleted' && e.id === sweep.id)).toBe(true);
  }, 60_000);

  it('ASHA stops the runs a useless learning rate leaves behind; they keep their metrics and are never completed', async () => {
    const sweep = await lab.createSweep({
      start: { kind: 'base' },
      config: { ...defaultConfig('base'), sizes, trainLimit: 500, testLimit: 200, epochs: 100, maxSteps: 1000, evalEvery: 50, evalSubset: 100 },
      // Good first: the bad ones meet the good runs' values at the first rung.
      axes: [{ path: 'lr', values: [0.01, 0.00001] }],
      seeds: 2,
      prune: { kind: 'asha', metric: 'val/accuracy', eta: 2, minSteps: 50, graceRuns: 3 },
    });
    const done = await lab.waitForSweep(sweep.id);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.counts).toMatchObject({ total: 4, completed: 2, pruned: 2 });
    const detail = await lab.getSweep(sweep.id);
    const bad = detail.pointList[1]!;
    expect(bad.params).toEqual({ lr: 0.00001 });
    expect(bad.runs.map((r) => r.state)).toEqual(['pruned', 'pruned']);
    expect(bad.objective.n).toBe(0);
    expect(detail.pointList[0]!.runs.map((r) => r.state)).toEqual(['completed', 'completed']);
    for (const r of bad.runs) {
      const run = await lab.getRun(r.runId!);
      expect(run.status).toBe('cancelled');
      expect(run.error).toMatch(/^pruned by ASHA at step \d+: val\/accuracy [\d.]+, below the top 1\/2 of \d runs at that rung \(≥ [\d.]+\)$/);
      // A run long enough (1000 steps) that the stop lands well before its end, on any machine.
      expect(run.metrics['train/loss']!.steps.length).toBeGreaterThanOrEqual(50);
      expect(run.metrics['train/loss']!.steps.length).toBeLessThan(1000);
      expect(r.step).toBeGreaterThanOrEqual(50);
    }
    expect(Object.keys(lab.store.sweeps.runs(sweep.id)[2]!.rungs)).toContain('50');
    expect(detail.best!.params).toEqual({ lr: 0.01 });
  }, 120_000);

  it('closing the Lab pauses its sweep with the queue intact; the next Lab with resumeSweeps finishes it', async () => {
    const file = join(tmp.dir, 'close.db');
    const opts = { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } }, metricFlushMs: 50 };
    const a = Lab.open(file, opts);
    const sweep = await a.createSweep({
      start: { kind: 'base' },
      config: { ...defaultConfig('base'), sizes, trainLimit: 500, testLimit: 200, epochs: 100, maxSteps: 400, evalEvery: 0 },
      axes: [{ path: 'lr', values: [0.001, 0.003] }],
      concurrency: 2,
    });
    await new Promise<void>((resolve) => {
      const off = a.subscribe((e) => {
        if (e.type === 'progress' && e.progress.step > 0) off(), resolve();
      });
    });
    await a.close();
    const b = Lab.open(file, { ...opts, recover: false });
    const paused = b.store.sweeps.get(sweep.id);
    expect(paused).toMatchObject({ status: 'paused', owner: null });
    const rows = b.store.sweeps.runs(sweep.id);
    expect(rows.map((r) => r.state).every((st) => st === 'queued' || st === 'running')).toBe(true);
    // Its runs are interrupted (the trainer stopped, or never started), to be queued again on resume.
    const left = rows.map((r) => b.store.runs.get(r.runId!));
    expect(left.map((r) => r.status)).toEqual(['interrupted', 'interrupted']);
    const started = new Set(left.filter((r) => r.startedAt !== null).map((r) => r.id));
    expect(started.size).toBeGreaterThan(0);
    await b.close();
    const c = Lab.open(file, { ...opts, resumeSweeps: true });
    try {
      const done = await c.waitForSweep(sweep.id);
      expect(done.status, done.error ?? '').toBe('completed');
      expect(done.counts).toMatchObject({ total: 2, completed: 2 });
      const runs = (await c.listRuns()).filter((r) => r.sweep?.sweepId === sweep.id);
      expect(runs).toHaveLength(2);
      // A run that had started is attempt 2; one still waiting in the queue never started, so it stays attempt 1.
      for (const r of runs) expect(r.attempt).toBe(started.has(r.id) ? 2 : 1);
      for (const r of runs) expect((await c.getRun(r.id)).metrics['train/loss']!.steps).toHaveLength(400);
    } finally {
      await c.close();
    }
  }, 120_000);
});
