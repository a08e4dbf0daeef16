/**
 * Why a trainer process ended, in Electron's child-process-gone words, with real trainer
 * processes: killed with SIGKILL, crashed with SIGSEGV, out of V8's heap, exiting with a
 * code of its own, or never started. The reason is on the host's outcome, in the run's
 * error in words, in `runs.exit_reason`, on the RunView and in `lora-lab show`.
 * (The Electron side, from child-process-gone details: test/app/utility-port.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TRAINER_EXIT_REASONS } from '../../src-main/contract/exit-reasons.ts';
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { openStore } from '../../src-main/store/store.ts';
import { exitWords, nodeExitReason } from '../../src-main/trainer/exit.ts';
import { type HostOptions, TrainerHost } from '../../src-main/trainer/host.ts';
import { nodeTrainer } from '../../src-main/trainer/port.ts';
import { lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('lora-lab-exit-');
afterAll(tmp.cleanup);
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
/** Trains until stopped: a tiny model, endless steps. */
const endless = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes: [784, 16, 10], batchSize: 16, trainLimit: null, testLimit: 200, evalEvery: 0, maxSteps: 1_000_000, epochs: 1000, ...over,
});

const hosts: TrainerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    h.kill();
    await h.waitForExit(5000);
  }
});
function host(opts: HostOptions = {}): TrainerHost {
  const h = new TrainerHost({ env, ...opts });
  hosts.push(h);
  return h;
}

/** A file preloaded into the trainer (NODE_OPTIONS=--require), its main thread only. */
function preload(name: string, body: string): NodeJS.ProcessEnv {
  const file = join(tmp.dir, name);
  writeFileSync(file, `if (require('node:worker_threads').isMainThread) {\n${body}\n}\n`);
  return { ...env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${JSON.stringify(file)}`.trim() };
}

/** Calls `act` with the trainer's pid once it has trained `steps` steps. */
function atStep(h: TrainerHost, steps: number, act: (pid: number) => void): void {
  let done = false;
  h.onMessage((m) => {
    if (!done && m.type === 'progress' && m.phase === 'training' && m.step >= steps) {
      done = true;
      act(h.pid!);
    }
  });
}

describe('the exit reason of a Node trainer, from its code and signal', () => {
  const r = (code: number | null, signal: string | null, outOfMemory = false, spawnFailed = false) => nodeExitReason({ code, signal, outOfMemory, spawnFailed });
  it('follows Electron (Chromium) for each kind of end', () => {
    expect(r(0, null)).toBe('clean-exit');
    expect(r(1, null)).toBe('abnormal-exit');
    expect(r(3, null)).toBe('abnormal-exit');
    for (const s of ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP']) expect(r(null, s)).toBe('killed');
    for (const s of ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE']) expect(r(null, s)).toBe('crashed');
    expect(r(null, null, false, true)).toBe('launch-failed');
  });

  it('reads 128 + n as signal n, and a Windows NTSTATUS fault as a crash', () => {
    expect(r(137, null)).toBe('killed'); // 128 + SIGKILL
    expect(r(134, null)).toBe('crashed'); // 128 + SIGABRT
    expect(r(0xc0000005, null)).toBe('crashed'); // access violation
  });

  it('says oom when it ended abnormally after an out-of-memory line, never for a clean exit', () => {
    expect(r(null, 'SIGABRT', true)).toBe('oom');
    expect(r(134, null, true)).toBe('oom');
    expect(r(1, null, true)).toBe('oom'); // an unhandled ERR_WORKER_OUT_OF_MEMORY
    expect(r(0, null, true)).toBe('clean-exit');
  });

  it('has words for every reason', () => {
    for (const reason of TRAINER_EXIT_REASONS) expect(exitWords({ reason, code: 1, signal: null })).toMatch(/^the trainer /);
    expect(exitWords({ reason: 'killed', code: null, signal: 'SIGKILL' })).toBe('the trainer was killed by SIGKILL');
    expect(exitWords({ reason: 'crashed', code: null, signal: 'SIGSEGV' })).toBe('the trainer crashed (SIGSEGV)');
  });
});

describe('a real trainer that dies', () => {
  it('killed with SIGKILL mid-run: killed, and the run says at which step', async () => {
    const h = host();
    atStep(h, 2, (pid) => process.kill(pid, 'SIGKILL'));
    const outcome = await h.run({ runId: 'k', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'crash', exitReason: 'killed' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer was killed by SIGKILL at step \d+($|: )/);
    expect(h.exit).toEqual({ code: null, signal: 'SIGKILL', reason: 'killed' });
  });

  it('a native fault (SIGSEGV): crashed', async () => {
    const h = host();
    atStep(h, 2, (pid) => process.kill(pid, 'SIGSEGV'));
    const outcome = await h.run({ runId: 's', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'crashed' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer crashed \(SIGSEGV\) at step \d+/);
  });

  it('exiting with a code of its own mid-run: abnormal-exit, with the code', async () => {
    const h = host({
      env: preload('exit-3.cjs', `
        const send = process.send.bind(process);
        process.send = (m, ...rest) => {
          const sent = send(m, ...rest);
          if (m && m.type === 'progress' && m.phase === 'training' && m.step >= 3) setTimeout(() => process.exit(3), 50);
          return sent;
        };`),
    });
    const outcome = await h.run({ runId: 'a', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'abnormal-exit' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer exited with code 3 at step \d+/);
    expect(h.exit).toEqual({ code: 3, signal: null, reason: 'abnormal-exit' });
  });

  it("out of V8's heap: oom, with V8's own line", async () => {
    // A small heap, filled once the job has started.
    const e = preload('fill-heap.cjs', `
      process.on('message', (m) => {
        if (m && m.type === 'start') setTimeout(() => { const keep = []; for (;;) keep.push(new Array(1e5).fill(1.5)); }, 500);
      });`);
    const h = host({ env: { ...e, NODE_OPTIONS: `${e['NODE_OPTIONS']} --max-old-space-size=256` } });
    const outcome = await h.run({ runId: 'o', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'oom' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer ran out of memory \(SIGABRT\) .*: FATAL ERROR: .*JavaScript heap out of memory$/);
  });

  it('a Node binary that is not there: launch-failed, with the system error', async () => {
    const h = host({ spawn: nodeTrainer({ execPath: join(tmp.dir, 'no-such-node') }) });
    expect(h.pid).toBeUndefined();
    const outcome = await h.run({ runId: 'l', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'launch-failed' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer could not be started: spawn .*no-such-node ENOENT$/);
    expect((await h.waitForExit(1000)).reason).toBe('launch-failed');
  });

  it('a start refused at once (an environment Node will not pass on): launch-failed, with the reason', async () => {
    const h = host({ env: { ...env, BROKEN: 'a\0b' } });
    const outcome = await h.run({ runId: 'e', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'launch-failed' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer could not be started: .*BROKEN/);
  });
});

describe('the reason on the run', () => {
  it('is stored with the run, shown on its view and by lora-lab show', async () => {
    const db = join(tmp.dir, 'runs.db');
    const l = Lab.open(db, { host: { env }, metricFlushMs: 50 });
    let killedId = 0;
    let doneId = 0;
    try {
      const run = await l.createRun({ name: 'to be killed', config: endless() });
      killedId = run.id;
      await new Promise<void>((resolve) => {
        const off = l.subscribe((e) => {
          if (e.type === 'progress' && e.runId === run.id && e.progress.step >= 2) {
            off();
            process.kill(l.manager.pidOf(run.id)!, 'SIGKILL');
            resolve();
          }
        });
      });
      const failed = await l.waitForRun(run.id);
      expect(failed).toMatchObject({ status: 'failed', exitReason: 'killed' });
      expect(failed.error).toMatch(/^the trainer was killed by SIGKILL at step \d+($|: )/);
      const done = await l.waitForRun((await l.createRun({ name: 'finishes', config: endless({ maxSteps: 3 }) })).id);
      doneId = done.id;
      expect(done).toMatchObject({ status: 'completed', exitReason: 'clean-exit' });
    } finally {
      await l.close();
    }
    const store = openStore(db);
    try {
      expect(store.runs.get(killedId).exitReason).toBe('killed');
      expect(store.runs.get(doneId).exitReason).toBe('clean-exit');
    } finally {
      store.close();
    }
    const shown = await cli(['show', String(killedId), '--db', db]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/status failed — the trainer was killed by SIGKILL at step \d+[^\n]*\n {2}trainer process: killed\n/);
  });

  it('is refused by the database unless it is one of the reasons, and cleared when the run is queued again', () => {
    const store = openStore(join(tmp.dir, 'store.db'));
    try {
      const run = store.runs.create({ name: 'r', kind: 'base', config: endless() });
      store.runs.finish(run.id, 'interrupted', { error: 'interrupted', exitReason: 'memory-eviction' });
      expect(store.runs.get(run.id).exitReason).toBe('memory-eviction');
      expect(store.runs.requeue(run.id).exitReason).toBeNull();
      expect(() => store.db.prepare("UPDATE runs SET exit_reason = 'exploded' WHERE id = ?").run(run.id)).toThrow(/CHECK constraint failed/);
    } finally {
      store.close();
    }
  });
});
