/**
 * Resource bombs: runs that cannot fit this machine are refused where they are created
 * (over the HTTP API and on the command line) with a message naming the estimate, and
 * nothing is stored or started; twenty evaluations at once share a small pool of
 * trainer processes instead of starting twenty.
 */
import { join } from 'node:path';
import { totalmem } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunView } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { EVALUATION_SLOTS } from '../../src-main/lab/trainer-slots.ts';
import { startServer } from '../../src-main/server/server.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { RUN_MEMORY_FRACTION, trainerMemory } from '../../src-main/contract/memory.ts';
import { type SpawnTrainer, spawnNodeTrainer } from '../../src-main/trainer/port.ts';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('lora-lab-bombs-');
afterAll(tmp.cleanup);
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const GB = 2 ** 30;

/**
 * The real trainer spawner, counting the processes it started and those still alive.
 * `reset()` starts a new count: processes started before it (a finished run's trainer
 * waiting warm for the next run, say) are not counted after it.
 */
function countingSpawn() {
  const count = { started: 0, alive: 0, maxAlive: 0 };
  let generation = 0;
  const spawn: SpawnTrainer = (e) => {
    const port = spawnNodeTrainer(e);
    const born = generation;
    count.started++;
    count.maxAlive = Math.max(count.maxAlive, ++count.alive);
    port.onExit(() => {
      if (born === generation) count.alive--;
    });
    return port;
  };
  const reset = () => {
    generation++;
    Object.assign(count, { started: 0, alive: 0, maxAlive: 0 });
  };
  return { count, spawn, reset };
}

const bomb = (over: Partial<RunConfig>): RunConfig => ({ ...defaultConfig('base'), ...over });
/** 4.3 billion weights in one layer: refused whatever the machine. */
const hugeLayer = bomb({ sizes: [784, 65536, 65536, 10] });
/** Layers of 2^28 weights each (the most one may hold), as many as it takes to exceed this machine. */
const deep = (() => {
  const layers = Math.ceil(totalmem() / (8 * GB)) + 2;
  return bomb({ sizes: [784, ...new Array<number>(layers).fill(16384), 10] });
})();
/** Batches of 60,000 through 65,536-wide layers: activations beyond this machine. */
const wideBatch = (() => {
  const pairs = Math.ceil(totalmem() / (100 * GB));
  return bomb({ sizes: [784, ...new Array<number[]>(pairs).fill([65536, 4096]).flat(), 10], batchSize: 60000 });
})();

describe('runs that cannot fit', () => {
  it('exceed this machine by the estimate (the premise of the tests below)', () => {
    expect(trainerMemory(deep).total).toBeGreaterThan(totalmem() * RUN_MEMORY_FRACTION);
    expect(trainerMemory(wideBatch).total).toBeGreaterThan(totalmem() * RUN_MEMORY_FRACTION);
  });

  it('are refused over the HTTP API with the estimate, and no trainer starts', async () => {
    const { count, spawn } = countingSpawn();
    const l = Lab.open(join(tmp.dir, 'api.db'), { host: { env, spawn } });
    const server = await startServer({ lab: l });
    try {
      const create = async (config: RunConfig) => {
        const res = await fetch(new URL('/api/createRun', server.origin), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
          body: JSON.stringify({ args: [{ config }] }),
        });
        return { status: res.status, body: (await res.json()) as { ok: boolean; error?: string } };
      };
      const huge = await create(hugeLayer);
      expect(huge.status).toBe(400);
      expect(huge.body.error).toMatch(/layer linear2 \(65536→65536\) would hold 4,294,967,296 weights/);
      const tooDeep = await create(deep);
      expect(tooDeep.status).toBe(400);
      expect(tooDeep.body.error).toMatch(/^this run needs about [\d.,]+ GB of memory \(.*weights [\d.,]+ GB.*\) but this machine has [\d.,]+ GB/);
      const batch = await create(wideBatch);
      expect(batch.status).toBe(400);
      expect(batch.body.error).toMatch(/needs about [\d.,]+ (GB|TB) of memory \(activations for a batch/);
      expect(await l.listRuns()).toEqual([]);
      expect(count.started).toBe(0);
    } finally {
      await server.close();
      await l.close();
    }
  });

  it('are refused on the command line with the estimate, and nothing is stored', async () => {
    const db = join(tmp.dir, 'cli.db');
    const huge = await lab(['train', '--db', db, '--sizes', hugeLayer.sizes.join(','), '-q']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/layer linear2 \(65536→65536\) would hold 4,294,967,296 weights/);
    const tooDeep = await lab(['train', '--db', db, '--sizes', deep.sizes.join(','), '-q']);
    expect(tooDeep.code).toBe(2);
    expect(tooDeep.stderr).toMatch(/lora-lab: this run needs about [\d.,]+ GB of memory \(.*\) but this machine has/);
    const batch = await lab(['train', '--db', db, '--sizes', wideBatch.sizes.join(','), '--batch-size', '60000', '-q']);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/activations for a batch/);
    expect(JSON.parse((await lab(['runs', '--db', db, '--json'])).stdout) as RunView[]).toEqual([]);
  });
});

describe('twenty evaluations at once', () => {
  it(`never run more than ${EVALUATION_SLOTS} trainers at a time, and all complete alike`, async () => {
    const { count, spawn, reset } = countingSpawn();
    const l = Lab.open(join(tmp.dir, 'eval.db'), { host: { env, spawn } });
    try {
      const run = await l.createRun({ config: bomb({ sizes: [784, 16, 10], batchSize: 16, trainLimit: 160, testLimit: 100, evalEvery: 0, maxSteps: 5 }) });
      const done = await l.waitForRun(run.id);
      expect(done.status, done.error ?? '').toBe('completed');
      // The run's trainer may wait warm for another run; only evaluation trainers count from here.
      reset();
      const results = await Promise.all(Array.from({ length: 20 }, () => l.evaluateModel(done.modelId!, 200)));
      expect(count.started).toBe(20);
      expect(count.maxAlive).toBeLessThanOrEqual(EVALUATION_SLOTS);
      for (const r of results) expect(r).toEqual(results[0]);
      expect(results[0]!.total).toBe(200);
    } finally {
      await l.close();
    }
  }, 300_000);
});

describe('runs side by side share one memory budget', () => {
  it('a queued run waits while starting it would pass the budget, then runs; one alone always starts', async () => {
    const cfg = { ...defaultConfig('base'), sizes: [784, 16, 10], batchSize: 16, trainLimit: 160, testLimit: 100, evalEvery: 0, maxSteps: 5 };
    const one = trainerMemory(cfg).total;
    const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
    for (const [budget, together] of [[1.5 * one, 1], [2.5 * one, 2], [0.5 * one, 1]] as const) {
      const l = Lab.open(join(tmp.dir, `budget-${together}-${budget}.db`), { concurrency: 3, memoryBudget: budget, host: { env } });
      try {
        const ids: number[] = [];
        for (let i = 0; i < 3; i++) ids.push((await l.createRun({ config: { ...cfg, seed: i }, name: `budget ${i}` })).id);
        // Queued runs start in the same call that queues them, as far as the budget allows.
        expect(l.manager.running, `budget ${(budget / one).toFixed(1)} runs`).toHaveLength(together);
        expect(l.manager.queued).toHaveLength(3 - together);
        const done = await Promise.all(ids.map((id) => l.waitForRun(id)));
        expect(done.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
      } finally {
        await l.close();
      }
    }
  }, 240_000);
});
