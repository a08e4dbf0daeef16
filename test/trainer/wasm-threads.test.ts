/**
 * The threaded wasm backend (both cores) as the trainer starts it: it reports its
 * threads, and it trains as the single-threaded build does (same losses to 1e-4).
 */
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepStaging } from '../../src-main/trainer/wasm-threads.ts';
import { tempDir } from '../helpers/tmp.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { runInTrainer } from '../../src-main/trainer/host.ts';
import type { TrainerMessage } from '../../src-main/contract/protocol.ts';

async function train(threads: number): Promise<{ device: string; losses: number[] }> {
  const msgs: TrainerMessage[] = [];
  const config = { ...defaultConfig('base'), sizes: [784, 256, 10], batchSize: 64, trainLimit: 1280, testLimit: 200, evalEvery: 0, maxSteps: 20 };
  const out = await runInTrainer({ runId: `t${threads}`, config, data: MNIST }, (m) => msgs.push(m), {
    env: { ...process.env, LORA_LAB_BACKEND: 'wasm', LORA_LAB_WASM_THREADS: String(threads) },
  });
  if (out.status !== 'completed') throw new Error(out.status === 'failed' ? out.error : out.status);
  return { device: out.device, losses: msgs.flatMap((m) => (m.type === 'metrics' ? m.points.filter((p) => p.key === 'train/loss').map((p) => p.value) : [])) };
}

describe('threaded wasm', () => {
  it('uses the threads asked for and trains exactly like one thread (losses to 1e-4)', async () => {
    const one = await train(1);
    const two = await train(2);
    expect(one.device).toMatch(/, 1 thread$/);
    expect(two.device).toMatch(/, 2 threads$/);
    expect(two.losses).toHaveLength(20);
    for (let i = 0; i < 20; i++) expect(Math.abs(two.losses[i]! - one.losses[i]!), `step ${i + 1}`).toBeLessThanOrEqual(1e-4);
  });
});

describe('threaded wasm scripts', () => {
  it("removes the staging folders of trainers killed while writing them, and no live writer's", () => {
    const tmp = tempDir();
    try {
      // A pid that surely belonged to a process that has exited.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const name = (pid: number) => `lora-lab-wasm-0123456789abcdef.${pid}.partial`;
      for (const pid of [dead, process.pid]) {
        mkdirSync(join(tmp.dir, name(pid)));
        writeFileSync(join(tmp.dir, name(pid), 'main.cjs'), 'half');
      }
      mkdirSync(join(tmp.dir, 'lora-lab-wasm-0123456789abcdef'));
      sweepStaging(tmp.dir);
      expect(existsSync(join(tmp.dir, name(dead)))).toBe(false);
      expect(existsSync(join(tmp.dir, name(process.pid)))).toBe(true);
      expect(existsSync(join(tmp.dir, 'lora-lab-wasm-0123456789abcdef'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});
