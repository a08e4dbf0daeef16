/**
 * The run manager and Lab service against a real database file and real trainer
 * processes, on small MNIST slices.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { OWNER } from '../../src-main/lab/run-manager.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 64, 10];
const base = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes, batchSize: 16, trainLimit: 480, testLimit: 500, evalEvery: 10, evalSubset: 100, maxSteps: 30, ...over,
});
const lora = (over: Partial<RunConfig> = {}): RunConfig => {
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, testLimit: 500, evalEvery: 0, maxSteps: 15, classes: [7], ...over };
  c.lora = { ...c.lora!, targets: ['linear1', 'linear2'], init: 'gaussian' };
  return c;
};

describe('run manager', () => {
  const tmp = tempDir();
  const dbFile = join(tmp.dir, 'lab.db');
  let lab: Lab;
  const events: LabEvent[] = [];

  beforeAll(() => {
    lab = Lab.open(dbFile, { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } }, metricFlushMs: 50 });
    lab.subscribe((e) => events.push(e));
  });
  afterAll(async () => {
    await lab.close();
    tmp.cleanup();
  });

  let baseRunId = 0;
  let modelId = 0;

  it('a base run goes queued → running → completed and stores metrics, evaluation and its model', async () => {
    const run = await lab.createRun({ config: base(), tags: ['smoke'] });
    expect(run.status).toBe('queued');
    baseRunId = run.id;
    const done = await lab.waitForRun(run.id);
    expect(done.status).toBe('completed');
    expect(done.backend).toBe('wasm');
    expect(done.modelId).not.toBeNull();
    modelId = done.modelId!;
    const statuses = events.filter((e) => e.type === 'run' && e.run.id === run.id).map((e) => (e.type === 'run' ? e.run.status : ''));
    expect(statuses[0]).toBe('queued');
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('completed');
    expect(events.some((e) => e.type === 'progress' && e.runId === run.id)).toBe(true);

    const detail = await lab.getRun(run.id);
    expect(detail.metrics['train/loss']!.steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(detail.metrics['val/accuracy']!.steps).toEqual([10, 20]);
    expect(detail.metrics['test/accuracy']!.values[0]).toBeCloseTo(detail.evaluations.after!.accuracy, 10);
    expect(detail.evaluations.after!.total).toBe(500);
    expect(detail.evaluations.after!.predictions).toHaveLength(500);
    expect(detail.summary!.steps).toBe(30);
    expect(detail.tags).toEqual(['smoke']);
    const weights = lab.store.tensors.get({ modelId });
    expect(weights['linear1.weight']!.shape).toEqual([64, 784]);
    expect((await lab.listModels())[0]).toMatchObject({ id: modelId, kind: 'base', sourceRunId: run.id });
  });

  it('a LoRA run on the stored model creates an adapter and before/after evaluations', async () => {
    const run = await lab.createRun({ config: lora(), baseModelId: modelId });
    const done = await lab.waitForRun(run.id);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.adapterId).not.toBeNull();
    expect(done.focusWrongBefore).not.toBeNull();
    expect(done.focusWrong!).toBeLessThanOrEqual(done.focusWrongBefore!);
    const adapter = lab.store.adapters.get(done.adapterId!);
    expect(adapter).toMatchObject({ runId: run.id, baseModelId: modelId });
    expect(adapter.info).toMatchObject({ r: 1, alpha: 1, targets: ['linear1', 'linear2'], init: 'gaussian' });
    expect(Object.keys(lab.store.tensors.get({ adapterId: adapter.id })).sort()).toEqual(['linear1.lora_A', 'linear1.lora_B', 'linear2.lora_A', 'linear2.lora_B']);
    // The base model is now in use: it cannot be deleted from under the adapter and run.
    expect(() => lab.store.models.delete(modelId)).toThrow(/is used by run \d+ .*adapter \d+.*delete those first/);
  });

  it('refuses a LoRA run without a base model or on a model of another shape', async () => {
    await expect(lab.createRun({ config: lora() })).rejects.toThrow(/needs a base model/);
    await expect(lab.createRun({ config: lora({ sizes: [784, 32, 10] }), baseModelId: modelId })).rejects.toThrow(/has layers 784→64→10/);
    await expect(lab.createRun({ config: lora(), baseModelId: 999 })).rejects.toMatchObject({ status: 404 });
    await expect(lab.createRun({ config: base({ lr: -1 }) })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/lr: learning rate/) });
  });

  it('runs queue in order with concurrency 1, and cancel works for queued and running runs', async () => {
    const long = base({ maxSteps: 100000, epochs: 1000, trainLimit: null, evalEvery: 0 });
    const a = await lab.createRun({ name: 'long', config: long });
    const b = await lab.createRun({ name: 'queued', config: base() });
    expect(lab.manager.running).toEqual([a.id]);
    expect(lab.manager.queued).toEqual([b.id]);
    const cancelledB = await lab.cancelRun(b.id);
    expect(cancelledB.status).toBe('cancelled');
    await new Promise<void>((resolve) => {
      const off = lab.subscribe((e) => {
        if (e.type === 'progress' && e.runId === a.id && e.progress.step >= 3) {
          off();
          resolve();
        }
      });
    });
    await lab.cancelRun(a.id);
    const done = await lab.waitForRun(a.id);
    expect(done.status).toBe('cancelled');
    expect(lab.store.metrics.count(a.id, 'train/loss')).toBeGreaterThanOrEqual(3);
    await expect(lab.cancelRun(a.id)).rejects.toMatchObject({ status: 409 });
  });

  it('a trainer killed with SIGKILL fails its run with the reason, and the next run still starts', async () => {
    const run = await lab.createRun({ config: base({ maxSteps: 100000, epochs: 1000, trainLimit: null, evalEvery: 0 }) });
    const next = await lab.createRun({ config: base({ maxSteps: 5 }) });
    await new Promise<void>((resolve) => {
      const off = lab.subscribe((e) => {
        if (e.type === 'progress' && e.runId === run.id && e.progress.step >= 2) {
          off();
          const pid = lab.manager.pidOf(run.id);
          process.kill(pid!, 'SIGKILL');
          resolve();
        }
      });
    });
    const failed = await lab.waitForRun(run.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/killed by SIGKILL/);
    expect((await lab.waitForRun(next.id)).status).toBe('completed');
  });

  it('lists with filters, compares runs, renames, tags and deletes', async () => {
    const all = await lab.listRuns();
    expect(all.length).toBeGreaterThanOrEqual(6);
    expect((await lab.listRuns({ kind: 'lora' })).every((r) => r.kind === 'lora')).toBe(true);
    expect((await lab.listRuns({ tag: 'smoke' })).map((r) => r.id)).toEqual([baseRunId]);
    expect((await lab.listRuns({ status: 'cancelled' })).length).toBe(2);
    expect((await lab.listRuns({ params: { 'lora.r': 1 } })).every((r) => r.kind === 'lora')).toBe(true);

    const loraRun = (await lab.listRuns({ kind: 'lora' }))[0]!;
    const c = await lab.compareRuns([baseRunId, loraRun.id]);
    const differs = c.params.filter((p) => p.differs).map((p) => p.path);
    expect(differs).toEqual(expect.arrayContaining(['kind', 'classes', 'lora.r', 'maxSteps']));
    expect(c.params.find((p) => p.path === 'lr')!.differs).toBe(false);
    expect(c.metrics['train/loss']).toHaveLength(2);
    expect(c.metrics['train/loss']![1]!.steps).toHaveLength(15);
    expect(c.metrics['val/accuracy']![1]).toBeNull();
    expect(c.summary.find((s) => s.key === 'train/loss')!.perRun[0]!.best).toBeLessThanOrEqual(c.summary.find((s) => s.key === 'train/loss')!.perRun[0]!.final);

    await lab.renameRun(baseRunId, '  renamed base  ');
    expect((await lab.getRun(baseRunId)).name).toBe('renamed base');
    await lab.setTags(baseRunId, ['a', 'b', 'a', ' ']);
    expect((await lab.getRun(baseRunId)).tags).toEqual(['a', 'b']);
    await lab.setNotes(baseRunId, 'note');
    await expect(lab.renameRun(baseRunId, '')).rejects.toMatchObject({ status: 400 });

    // The base run's model is used by the LoRA run: deleting it is refused, nothing lost.
    await expect(lab.deleteRun(baseRunId)).rejects.toMatchObject({ status: 409 });
    expect(lab.store.runs.find(baseRunId)).toBeDefined();
    await lab.deleteRun(loraRun.id);
    expect(lab.store.runs.find(loraRun.id)).toBeUndefined();
    expect(lab.store.metrics.count(loraRun.id)).toBe(0);
    expect(lab.store.adapters.find(loraRun.adapterId!)).toBeUndefined();
    expect(events.some((e) => e.type === 'run-deleted' && e.id === loraRun.id)).toBe(true);
    await expect(lab.getRun(loraRun.id)).rejects.toMatchObject({ status: 404 });
  });

  it('serves test images by index', async () => {
    const [img] = await lab.datasetSamples(1, 'test', [0]);
    expect(img!.label).toBe(7);
    expect(img!.values).toHaveLength(784);
    await expect(lab.datasetSamples(1, 'test', [10000])).rejects.toMatchObject({ status: 404 });
  });
});

describe('recovery', () => {
  it('marks runs of a dead process interrupted and leaves a live process’s runs alone', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'lab.db');
      const first = Lab.open(file);
      const dead = first.store.runs.create({ name: 'orphan', kind: 'base', config: base() });
      first.store.runs.setOwner(dead.id, 'this-host-is-gone/1');
      // A live process that is not this one (the test runner that started us).
      const live = first.store.runs.create({ name: 'mine', kind: 'base', config: base() });
      first.store.runs.setOwner(live.id, `${(await import('node:os')).hostname()}/${process.ppid}`);
      first.store.runs.markRunning(live.id, 'wasm', 'test');
      const deadHere = first.store.runs.create({ name: 'dead pid', kind: 'base', config: base() });
      first.store.runs.markRunning(deadHere.id, 'wasm', 'test');
      first.store.runs.setOwner(deadHere.id, `${(await import('node:os')).hostname()}/2147483646`);
      first.store.close();

      const second = Lab.open(file, { recover: true });
      expect(second.recovered).toEqual([deadHere.id]);
      expect(second.store.runs.get(deadHere.id)).toMatchObject({ status: 'interrupted', error: expect.stringMatching(/interrupted/) });
      expect(second.store.runs.get(live.id).status).toBe('running');
      expect(second.store.runs.get(dead.id).status).toBe('queued'); // another machine's: not ours to judge
      second.store.close();
    } finally {
      tmp.cleanup();
    }
  });
});

describe('dead owners while open', () => {
  it('an earlier process with this PID (a restarted container) left the run: it is interrupted, ours are not', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'lab.db');
      const first = Lab.open(file, { recover: false });
      const stale = first.store.runs.create({ name: 'same pid, earlier life', kind: 'base', config: base() });
      first.store.runs.setOwner(stale.id, OWNER);
      first.store.runs.markRunning(stale.id, 'wasm', 'test');
      const second = Lab.open(file, { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
      expect(second.recovered).toEqual([stale.id]);
      // A run this process really trains is held by its manager, and stays.
      const mine = await second.createRun({ config: base({ maxSteps: 100000, epochs: 1000, trainLimit: null, evalEvery: 0 }) });
      expect(second.manager.recover()).toEqual([]);
      expect(first.manager.recover()).toEqual([]);
      await second.cancelRun(mine.id);
      expect((await second.waitForRun(mine.id)).status).toBe('cancelled');
      await second.close();
      first.store.close();
    } finally {
      tmp.cleanup();
    }
  });
});

describe('test-set labels', () => {
  it('are served whole, in test-set order', async () => {
    const tmp = tempDir();
    const lab = Lab.open(join(tmp.dir, 'lab.db'));
    try {
      const labels = await lab.datasetLabels(1, 'test');
      expect(labels).toHaveLength(10000);
      expect(labels[0]).toBe(7);
      expect(labels[0]).toBe((await lab.datasetSamples(1, 'test', [0]))[0]!.label);
    } finally {
      await lab.close();
      tmp.cleanup();
    }
  });
});

describe('closing the lab', () => {
  it('marks a run still training as interrupted (not failed), with the reason', async () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'lab.db');
      const lab = Lab.open(file, { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
      const run = await lab.createRun({ config: base({ maxSteps: 100000, epochs: 1000, trainLimit: null, evalEvery: 0 }) });
      await new Promise<void>((resolve) => {
        const off = lab.subscribe((e) => {
          if (e.type === 'progress' && e.runId === run.id && e.progress.step >= 2) {
            off();
            resolve();
          }
        });
      });
      await lab.close();
      const again = Lab.open(file);
      expect(again.store.runs.get(run.id)).toMatchObject({ status: 'interrupted', error: 'interrupted: LoRA Lab was closed while this run was running' });
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });
});
