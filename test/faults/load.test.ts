/**
 * Load: 20 runs queued at once with concurrency 2 all complete, start in queue order,
 * never more than two at a time, and every metric point arrives.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('load', () => {
  it('20 queued runs with concurrency 2: all complete, in order, none lost, metrics complete', async () => {
    const lab = Lab.open(join(tmp.dir, 'lab.db'), { concurrency: 2, host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
    try {
      const started: number[] = [];
      let maxRunning = 0;
      // The order runs leave the queue (trainers may then become ready in either order).
      lab.subscribe(() => {
        for (const id of lab.manager.running) if (!started.includes(id)) started.push(id);
        maxRunning = Math.max(maxRunning, lab.manager.running.length);
      });
      const cfg = { ...defaultConfig('base'), sizes: [784, 16, 10], batchSize: 16, trainLimit: 160, testLimit: 100, evalEvery: 5, evalSubset: 50, maxSteps: 10 };
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) ids.push((await lab.createRun({ config: { ...cfg, seed: i }, name: `load ${i}` })).id);
      const done = await Promise.all(ids.map((id) => lab.waitForRun(id)));
      expect(done.map((r) => r.status)).toEqual(new Array(20).fill('completed'));
      expect(started).toEqual(ids);
      expect(maxRunning).toBeLessThanOrEqual(2);
      for (const id of ids) {
        expect(lab.store.metrics.count(id, 'train/loss')).toBe(10);
        expect(lab.store.metrics.count(id, 'val/accuracy')).toBe(1);
      }
      expect(lab.store.models.list()).toHaveLength(20);
    } finally {
      await lab.close();
    }
  });
});
