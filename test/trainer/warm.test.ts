/**
 * A warm trainer process: job after job in one process gives exactly what a fresh
 * process gives for the same seed (losses, evaluations, adapter bytes), keeps no tensor
 * of an earlier job, holds the last base it was sent (by key), survives a job's own
 * failure, retires after one that may have broken it, and refuses overlapping jobs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { MNIST_SOURCE as MNIST, type TrainJob, type TrainerMessage } from '../../src-main/contract/protocol.ts';
import { type RunOutcome, TrainerHost } from '../../src-main/trainer/host.ts';

const sizes = [784, 32, 10];
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const baseConfig: RunConfig = { ...defaultConfig('base'), sizes, batchSize: 16, trainLimit: 480, testLimit: 300, evalEvery: 0, maxSteps: 20 };
const loraConfig = (seed: number, over: Partial<RunConfig> = {}): RunConfig => {
  const c: RunConfig = { ...defaultConfig('lora'), sizes, seed, batchSize: 10, testLimit: 300, evalEvery: 5, evalSubset: 100, maxSteps: 12, classes: [7], ...over };
  c.lora = { ...c.lora!, r: 2, init: 'gaussian', targets: ['linear1', 'linear2'] };
  return c;
};

const hosts: TrainerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    h.kill();
    await h.waitForExit(5000);
  }
});
function host(): TrainerHost {
  const h = new TrainerHost({ env });
  hosts.push(h);
  return h;
}

/** A job's outcome and every metric point it streamed. */
async function run(h: TrainerHost, job: TrainJob): Promise<{ outcome: RunOutcome; points: { key: string; step: number; value: number }[]; before: boolean }> {
  const points: { key: string; step: number; value: number }[] = [];
  let before = false;
  const off = h.onMessage((m: TrainerMessage) => {
    if (m.type === 'metrics' && m.runId === job.runId) points.push(...m.points.map((p) => ({ key: p.key, step: p.step, value: p.value })));
    if (m.type === 'evaluation' && m.phase === 'before') before = true;
  });
  const outcome = await h.run(job);
  off();
  return { outcome, points, before };
}

function completed(o: RunOutcome): Extract<RunOutcome, { status: 'completed' }> {
  expect(o.status, o.status === 'failed' ? o.error : '').toBe('completed');
  return o as Extract<RunOutcome, { status: 'completed' }>;
}

const bytes = (t: NamedTensors) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { shape: v.shape, data: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64') }]));

let base: NamedTensors;
beforeAll(async () => {
  const h = new TrainerHost({ env });
  base = completed(await h.run({ runId: 'base', config: baseConfig, data: MNIST })).weights.tensors;
  await h.close();
});
afterAll(() => undefined);

describe('a warm trainer', () => {
  it("gives its second job exactly a cold trainer's losses, evaluations and adapter bytes, sent its base once", async () => {
    const warm = host();
    const first = await run(warm, { runId: 'w1', config: loraConfig(1), data: MNIST, baseWeights: base, baseKey: 'model:1:100' });
    completed(first.outcome);
    expect(warm.baseKey).toBe('model:1:100');
    const pid = warm.pid;
    // The base travels once: this job names it by key only.
    const second = await run(warm, { runId: 'w2', config: loraConfig(2), data: MNIST, baseKey: 'model:1:100' });
    expect(warm.pid).toBe(pid);
    const cold = await run(host(), { runId: 'c2', config: loraConfig(2), data: MNIST, baseWeights: base, baseKey: 'model:1:100' });
    const [w, c] = [completed(second.outcome), completed(cold.outcome)];
    expect(second.points.filter((p) => p.key === 'train/loss')).toHaveLength(12);
    expect(second.points).toEqual(cold.points);
    expect(w.evaluations).toEqual(c.evaluations);
    expect(w.evaluations.before).toBeDefined();
    expect(bytes(w.weights.tensors)).toEqual(bytes(c.weights.tensors));
    expect(w.weights.adapter).toEqual(c.weights.adapter);
    // Seeds differ: the first job is not what the second repeats.
    expect(first.points).not.toEqual(second.points);
  });

  it('keeps no tensor of an earlier job: none after 1, 3 and 5 jobs (and a refused one), while a job holds some', async () => {
    const h = host();
    const counts: number[] = [];
    const job = (i: number, over: Partial<RunConfig> = {}): TrainJob => ({ runId: `m${i}`, config: loraConfig(i, over), data: MNIST, baseWeights: base, baseKey: 'model:1:100' });
    for (let i = 1; i <= 5; i++) {
      completed((await run(h, job(i))).outcome);
      if (i === 2) {
        // A job the trainer refuses (its own fault): the process takes the next one.
        const refused = await h.run(job(99, { lr: -1 }));
        expect(refused).toMatchObject({ status: 'failed', code: 'config' });
        expect(h.reusable).toBe(true);
      }
      if (i === 1 || i === 3 || i === 5) counts.push((await h.memory())!.numTensors);
    }
    // Between jobs the engine holds nothing (the base is cached as plain arrays).
    expect(counts).toEqual([0, 0, 0]);
    // The probe sees a job's tensors while it runs: the zeros above are real.
    let during: Promise<{ numTensors: number } | null> | null = null;
    const off = h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 3 && !during) {
        during = h.memory();
        void during.then(() => h.cancel());
      }
    });
    expect((await h.run(job(6, { maxSteps: 1_000_000, epochs: 1000 }))).status).toBe('cancelled');
    off();
    expect((await during!)!.numTensors).toBeGreaterThan(0);
    expect((await h.memory())!.numTensors).toBe(0);
  });

  it('skips the before evaluation when asked, and trains exactly as with it', async () => {
    const h = host();
    const withBefore = await run(h, { runId: 's1', config: loraConfig(3), data: MNIST, baseWeights: base, baseKey: 'model:1:100' });
    const skipped = await run(h, { runId: 's2', config: loraConfig(3), data: MNIST, baseKey: 'model:1:100', skipBefore: true });
    expect(withBefore.before).toBe(true);
    expect(skipped.before).toBe(false);
    const [a, b] = [completed(withBefore.outcome), completed(skipped.outcome)];
    expect(b.evaluations.before).toBeUndefined();
    expect(b.evaluations.after).toEqual(a.evaluations.after);
    expect(skipped.points).toEqual(withBefore.points);
  });

  it('takes a new base when the key changes, and refuses a key it does not hold', async () => {
    const h = host();
    const missing = await h.run({ runId: 'k1', config: loraConfig(1), data: MNIST, baseKey: 'model:9:9' });
    expect(missing).toMatchObject({ status: 'failed', code: 'config' });
    if (missing.status === 'failed') expect(missing.error).toMatch(/does not hold base model:9:9/);
    completed((await run(h, { runId: 'k2', config: loraConfig(1), data: MNIST, baseWeights: base, baseKey: 'model:1:1' })).outcome);
    completed((await run(h, { runId: 'k3', config: loraConfig(1), data: MNIST, baseWeights: base, baseKey: 'model:2:2' })).outcome);
    expect(h.baseKey).toBe('model:2:2');
  });

  it('runs an evaluation job between training jobs, and a cancelled job leaves it reusable', async () => {
    const h = host();
    const trained = completed((await run(h, { runId: 'e1', config: loraConfig(1), data: MNIST, baseWeights: base, baseKey: 'model:1:100' })).outcome);
    const ev = await h.evaluate({ runId: 'e2', sizes, data: MNIST, testLimit: 300, models: [{ name: 'base', tensors: base }] });
    expect(ev.status).toBe('completed');
    if (ev.status === 'completed') expect(ev.results[0]).toEqual(trained.evaluations.before);
    let sent = false;
    const off = h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 3 && !sent) {
        sent = true;
        h.cancel();
      }
    });
    const cancelled = await h.run({ runId: 'e3', config: loraConfig(1, { maxSteps: 100_000, epochs: 1000 }), data: MNIST, baseKey: 'model:1:100' });
    off();
    expect(cancelled.status).toBe('cancelled');
    expect(h.reusable).toBe(true);
    completed((await run(h, { runId: 'e4', config: loraConfig(4), data: MNIST, baseKey: 'model:1:100' })).outcome);
    expect((await h.close()).reason).toBe('clean-exit');
  });

  it('refuses a second job while one runs, and any job once its process has exited', async () => {
    const h = host();
    const first = h.run({ runId: 'o1', config: loraConfig(1), data: MNIST, baseWeights: base, baseKey: 'model:1:100' });
    expect(() => h.run({ runId: 'o2', config: loraConfig(2), data: MNIST })).toThrow(/running a job already/);
    completed(await first);
    expect((await h.close()).reason).toBe('clean-exit');
    expect(h.reusable).toBe(false);
    expect(() => h.run({ runId: 'o3', config: loraConfig(2), data: MNIST })).toThrow(/has exited/);
  });

  it('exits after a failure that may have broken it (an internal error), saying why', async () => {
    const h = host();
    // Weights of another shape: building the model throws a plain Error (code internal).
    const wrong = await h.run({ runId: 'i1', config: loraConfig(1, { sizes: [784, 16, 10] }), data: MNIST, baseWeights: base });
    expect(wrong).toMatchObject({ status: 'failed', code: 'internal' });
    expect(h.reusable).toBe(false);
    expect((await h.waitForExit(5000)).code).toBe(1);
  });
});
