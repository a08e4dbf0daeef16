/**
 * The trainer as a real child process: progress arrives, cancel works, a killed,
 * hung or failing trainer becomes a clear `failed` outcome — never a hang.
 */
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { TrainerHost, runInTrainer } from '../../src-main/trainer/host.ts';
import type { TrainerMessage } from '../../src-main/contract/protocol.ts';
import { StderrTail } from '../../src-main/trainer/port.ts';
import { tempDir } from '../helpers/tmp.ts';
import { fileURLToPath } from 'node:url';

const small = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes: [784, 64, 10], batchSize: 16, trainLimit: 320, testLimit: 500, evalEvery: 0, maxSteps: 20, ...over,
});
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const hosts: TrainerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    h.kill();
    await h.waitForExit(5000);
  }
});

function start(opts: ConstructorParameters<typeof TrainerHost>[0] = {}): TrainerHost {
  const h = new TrainerHost({ env, ...opts });
  hosts.push(h);
  return h;
}

describe('trainer process', () => {
  it('runs a job: ready, progress, evaluation, weights, done — then exits', async () => {
    const msgs: TrainerMessage[] = [];
    const outcome = await runInTrainer({ runId: 'r1', config: small(), data: MNIST }, (m) => msgs.push(m), { env });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    expect(outcome.backend).toBe('wasm');
    expect(outcome.weights.kind).toBe('model');
    expect(outcome.weights.tensors['linear1.weight']!.shape).toEqual([64, 784]);
    expect(outcome.weights.tensors['linear1.weight']!.data).toBeInstanceOf(Float32Array);
    expect(outcome.evaluations.after!.total).toBe(500);
    // Heartbeat answers (pong) may come first while the backend starts.
    expect(msgs.find((m) => m.type !== 'pong')!.type).toBe('ready');
    const progress = msgs.filter((m) => m.type === 'progress' && m.phase === 'training');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ step: 20, totalSteps: 20 });
    const points = msgs.flatMap((m) => (m.type === 'metrics' ? m.points : []));
    expect(points.filter((p) => p.key === 'train/loss').map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('cancels at a step boundary', async () => {
    const h = start();
    let sent = false;
    h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 3 && !sent) {
        sent = true;
        h.cancel();
      }
    });
    const outcome = await h.run({ runId: 'r2', config: small({ maxSteps: 5000, epochs: 1000, trainLimit: null }), data: MNIST });
    expect(outcome.status).toBe('cancelled');
    if (outcome.status === 'cancelled') expect(outcome.step).toBeGreaterThanOrEqual(3);
    expect((await h.waitForExit(5000)).code).toBe(0);
  });

  it('reports a trainer killed with SIGKILL as failed with the reason', async () => {
    const h = start();
    h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 2) process.kill(h.pid!, 'SIGKILL');
    });
    const outcome = await h.run({ runId: 'r3', config: small({ maxSteps: 5000, epochs: 1000, trainLimit: null }), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'crash' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/killed by SIGKILL/);
  });

  it('detects a hung trainer by its heartbeat and kills it', async () => {
    const h = start({ heartbeatMs: 100, hangTimeoutMs: 1000 });
    h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 2) process.kill(h.pid!, 'SIGSTOP');
    });
    const t0 = Date.now();
    const outcome = await h.run({ runId: 'r4', config: small({ maxSteps: 5000, epochs: 1000, trainLimit: null }), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'hung' });
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('a corrupt data file fails the run with a message naming the file', async () => {
    const tmp = tempDir();
    try {
      const h = start({ env: { ...env, LORA_LAB_MNIST_DIR: tmp.dir } });
      const outcome = await h.run({ runId: 'r5', config: small(), data: MNIST });
      expect(outcome).toMatchObject({ status: 'failed', code: 'data' });
      if (outcome.status === 'failed') expect(outcome.error).toContain(tmp.dir);
    } finally {
      tmp.cleanup();
    }
  });

  it('an invalid config is refused by the trainer too', async () => {
    const h = start();
    const outcome = await h.run({ runId: 'r6', config: small({ lr: -1 }), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'config' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/lr: learning rate must be/);
  });

  it('an unknown forced backend is a clear error', async () => {
    const h = start({ env: { ...env, LORA_LAB_BACKEND: 'quantum' } });
    const outcome = await h.run({ runId: 'r7', config: small(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'backend' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/LORA_LAB_BACKEND=quantum is not a backend/);
  });
});

describe('a trainer dies while its host is busy', () => {
  it('the heartbeat to a channel that just closed neither throws EPIPE in the host nor leaves the run unsettled', async () => {
    const h = start({ heartbeatMs: 50 });
    let killed = false;
    h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 2 && !killed) {
        killed = true;
        process.kill(h.pid!, 'SIGKILL');
        // Block the host's event loop, as a large import does: the next heartbeat runs
        // before the host has read that the channel closed, and writes into it.
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          /* busy */
        }
      }
    });
    const outcome = await h.run({ runId: 'p1', config: small({ maxSteps: 5000, epochs: 1000, trainLimit: null }), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'crash' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/killed by SIGKILL/);
  });
});

describe('crash reports', () => {
  it('carry nothing the trainer printed while its backend started (library warnings)', async () => {
    const noise = fileURLToPath(new URL('../fixtures/stderr-noise.cjs', import.meta.url));
    const h = start({ env: { ...env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${JSON.stringify(noise)}`.trim() } });
    h.onMessage((m) => {
      if (m.type === 'progress' && m.phase === 'training' && m.step >= 2) process.kill(h.pid!, 'SIGKILL');
    });
    const outcome = await h.run({ runId: 'n1', config: small({ maxSteps: 5000, epochs: 1000, trainLimit: null }), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'crash' });
    if (outcome.status === 'failed') {
      expect(outcome.error).toMatch(/killed by SIGKILL/);
      expect(outcome.error).not.toMatch(/unrelated library noise/);
    }
  });

  it('keep what came after the ready mark, even when the mark is split across chunks', () => {
    const t = new StderrTail();
    t.add('Warning: probe noise\n[lora-lab trainer: ');
    t.add('backend ready]\nRangeError: out of memory\n');
    expect(t.text).toBe('RangeError: out of memory');
    const before = new StderrTail();
    before.add('Error: the backend did not start\n');
    expect(before.text).toBe('Error: the backend did not start');
  });
});

describe('evaluation jobs', () => {
  it('evaluates stored weights (with and without an adapter) in a trainer process', async () => {
    const trained = await runInTrainer({ runId: 'e1', config: small({ maxSteps: 10 }), data: MNIST }, undefined, { env });
    expect(trained.status).toBe('completed');
    if (trained.status !== 'completed') return;
    const tensors = trained.weights.tensors;
    const zeroB = { 'linear1.lora_A': { shape: [1, 784], data: new Float32Array(784).fill(0.01) }, 'linear1.lora_B': { shape: [64, 1], data: new Float32Array(64) } };
    const h = start();
    const r = await h.evaluate({
      runId: 'e2',
      sizes: [784, 64, 10],
      data: MNIST,
      testLimit: 500,
      models: [
        { name: 'base', tensors },
        { name: 'with B = 0 adapter', tensors, adapter: { variant: 'lora', scaling: 1, targets: ['linear1'], tensors: zeroB } },
      ],
    });
    expect(r.status).toBe('completed');
    if (r.status !== 'completed') return;
    expect(r.results).toHaveLength(2);
    expect(r.results[0]!.accuracy).toBe(trained.evaluations.after!.accuracy);
    expect(r.results[1]!.wrongPerClass).toEqual(r.results[0]!.wrongPerClass);
  });
});
