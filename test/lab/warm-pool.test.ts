/**
 * The run manager's warm trainers, with real processes and a real database file: the
 * next queued run reuses an idle trainer (same pid), a killed one is never reused, an
 * idle one exits after warmIdleMs and at shutdown, a cleanly cancelled run's trainer is
 * reused, a crash in a reused trainer is reported as any crash, and a LoRA run on a base
 * another run evaluated copies that `before` evaluation — the one its trainer computes.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { RunManager } from '../../src-main/lab/run-manager.ts';
import { type Store, openStore } from '../../src-main/store/store.ts';
import { TrainerHost } from '../../src-main/trainer/host.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 32, 10];
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const baseCfg: RunConfig = { ...defaultConfig('base'), sizes, batchSize: 16, trainLimit: 480, testLimit: 300, evalEvery: 0, maxSteps: 20 };
const loraCfg = (seed: number, over: Partial<RunConfig> = {}): RunConfig => {
  const c: RunConfig = { ...defaultConfig('lora'), sizes, seed, batchSize: 10, testLimit: 300, evalEvery: 0, maxSteps: 10, classes: [7], ...over };
  c.lora = { ...c.lora!, r: 1 + (seed % 3), init: 'gaussian', targets: ['linear1', 'linear2'] };
  return c;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('warm trainers in the run manager', () => {
  const tmp = tempDir('lora-lab-warm-');
  let store: Store;
  let manager: RunManager;
  let modelId = 0;
  /** The trainer pid each run trained in, as seen while it ran. */
  const pids = new Map<number, number>();
  /** Called with (run id, step) on every training progress. */
  let onStep: (id: number, step: number) => void = () => undefined;

  const open = (warmIdleMs: number) =>
    new RunManager(
      store,
      {
        runChanged: () => undefined,
        progress: (id, p) => {
          const pid = manager.pidOf(id);
          if (pid) pids.set(id, pid);
          if (p.phase === 'training') onStep(id, p.step);
        },
        metrics: () => undefined,
        modelCreated: () => undefined,
      },
      { host: { env }, metricFlushMs: 50, warmIdleMs, ownerCheckMs: 0 },
    );
  const lora = (seed: number, over: Partial<RunConfig> = {}) => {
    const cfg = loraCfg(seed, over);
    const run = store.runs.create({ name: `lora ${cfg.seed}`, kind: 'lora', config: cfg, baseModelId: modelId });
    manager.enqueue(run.id);
    return run.id;
  };

  beforeAll(async () => {
    store = openStore(join(tmp.dir, 'lab.db'));
    manager = open(60_000);
    const run = store.runs.create({ name: 'base', kind: 'base', config: baseCfg });
    manager.enqueue(run.id);
    const done = await manager.wait(run.id);
    expect(done.status).toBe('completed');
    modelId = done.modelId!;
  });
  afterAll(async () => {
    await manager.shutdown();
    store.close();
    tmp.cleanup();
  });

  it('reuses the idle trainer for the next run, and the second run copies the base evaluation it would compute', async () => {
    const idleAfterBase = manager.idleTrainers;
    expect(idleAfterBase).toHaveLength(1);
    const a = lora(1);
    expect((await manager.wait(a)).status).toBe('completed');
    const b = lora(2);
    const run = await manager.wait(b);
    expect(run).toMatchObject({ status: 'completed', exitReason: 'clean-exit' });
    expect(pids.get(a)).toBe(idleAfterBase[0]);
    expect(pids.get(b)).toBe(pids.get(a));
    expect(manager.idleTrainers).toEqual([pids.get(b)]);
    // b's before evaluation was copied from a's (its trainer skipped it) …
    const copied = store.evaluations.get(b).before!;
    expect(copied).toEqual(store.evaluations.get(a).before);
    // … and is exactly what a fresh trainer computes for b's own config.
    const h = new TrainerHost({ env });
    const fresh = await h.run({ runId: 'x', config: store.runs.get(b).config, data: MNIST, baseWeights: store.tensors.get({ modelId }) });
    await h.close();
    expect(fresh.status).toBe('completed');
    if (fresh.status === 'completed') expect({ ...fresh.evaluations.before, step: 0 }).toEqual(copied);
    expect(store.evaluations.get(b).after!.total).toBe(300);
  });

  it('a cancelled run that stopped cleanly leaves its trainer warm for the next one', async () => {
    const id = lora(3, { maxSteps: 1_000_000, epochs: 1000 });
    onStep = (run, step) => {
      if (run === id && step >= 2) manager.cancel(id);
    };
    expect((await manager.wait(id)).status).toBe('cancelled');
    onStep = () => undefined;
    const next = lora(4);
    expect((await manager.wait(next)).status).toBe('completed');
    expect(pids.get(next)).toBe(pids.get(id));
  });

  it('a crash in a reused trainer is reported as before, and the killed trainer is never reused', async () => {
    const warmPid = manager.idleTrainers[0]!;
    const id = lora(5, { maxSteps: 1_000_000, epochs: 1000 });
    onStep = (run, step) => {
      if (run === id && step >= 2) process.kill(manager.pidOf(id)!, 'SIGKILL');
    };
    const failed = await manager.wait(id);
    onStep = () => undefined;
    expect(pids.get(id)).toBe(warmPid);
    expect(failed).toMatchObject({ status: 'failed', exitReason: 'killed' });
    expect(failed.error).toMatch(/^the trainer was killed by SIGKILL at step \d+/);
    expect(manager.idleTrainers).toEqual([]);
    const next = lora(6);
    expect((await manager.wait(next)).status).toBe('completed');
    expect(pids.get(next)).not.toBe(warmPid);
  });

  it('a job that fails on its own (a config the trainer refuses) keeps the trainer; one killed while idle is dropped', async () => {
    const warmPid = manager.idleTrainers[0]!;
    const id = lora(7, { lr: -1 });
    const failed = await manager.wait(id);
    expect(failed).toMatchObject({ status: 'failed', exitReason: 'abnormal-exit' });
    expect(failed.error).toMatch(/lr: learning rate must be/);
    expect(manager.idleTrainers).toEqual([warmPid]);
    process.kill(warmPid, 'SIGKILL');
    while (alive(warmPid)) await sleep(50);
    await sleep(1500); // the exit is reported once the child's pipes close
    const next = lora(8);
    expect((await manager.wait(next)).status).toBe('completed');
    expect(pids.get(next)).not.toBe(warmPid);
  });

  it('raises its concurrency on request and never lowers it; idle trainers stay at most that many', async () => {
    manager.ensureConcurrency(2);
    manager.ensureConcurrency(1);
    expect(manager.concurrency).toBe(2);
    const ids = [lora(9), lora(10), lora(11)];
    for (const id of ids) expect((await manager.wait(id)).status).toBe('completed');
    expect(manager.idleTrainers.length).toBeLessThanOrEqual(2);
    expect(() => manager.ensureConcurrency(0)).toThrow(RangeError);
  });

  it('idle trainers exit after warmIdleMs, and at shutdown', async () => {
    await manager.shutdown();
    manager = open(400);
    const id = lora(12);
    expect((await manager.wait(id)).status).toBe('completed');
    const [pid] = manager.idleTrainers;
    expect(pid).toBe(pids.get(id));
    const until = Date.now() + 20_000;
    while (alive(pid!) && Date.now() < until) await sleep(100);
    expect(alive(pid!)).toBe(false);
    expect(manager.idleTrainers).toEqual([]);

    await manager.shutdown();
    manager = open(60_000);
    const again = lora(13);
    expect((await manager.wait(again)).status).toBe('completed');
    const [kept] = manager.idleTrainers;
    await manager.shutdown();
    expect(alive(kept!)).toBe(false);
    manager = open(60_000);
  });
});
