/**
 * The utility-process trainer port, end to end without the Electron binary: Electron's
 * `utilityProcess.fork` is replaced by a stand-in with its semantics (a child whose
 * `process.parentPort` delivers `{ data }` events, `postMessage` both ways, `exit` with a
 * code, `stderr` piped), built on a Node child running the REAL trainer. A Lab whose host
 * spawns through spawnUtilityTrainer trains a small run to completion.
 */
import { MNIST_SOURCE as MNIST } from '../../src-main/contract/protocol.ts';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { TrainerHost } from '../../src-main/trainer/host.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

const forks = vi.hoisted(() => ({
  calls: [] as { path: string; args: string[]; options: Record<string, unknown>; child: { pid: number | undefined; once(e: 'exit', l: (code: number) => void): unknown } }[],
  shimDir: '',
}));
afterAll(() => rmSync(forks.shimDir, { recursive: true, force: true }));

vi.mock('electron', async () => {
  const { fork } = await import('node:child_process');
  const { EventEmitter } = await import('node:events');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  // What Electron gives a utility process: process.parentPort, messages as { data }.
  forks.shimDir = mkdtempSync(join(tmpdir(), 'lora-lab-shim-'));
  const shim = join(forks.shimDir, 'parent-port.mjs');
  writeFileSync(
    shim,
    `import { isMainThread } from 'node:worker_threads';
// Worker threads (the wasm backend's thread pool) inherit --import: the shim is for the
// process's main thread only.
const listeners = [];
const send = isMainThread ? process.send.bind(process) : null;
if (isMainThread) {
// A trainer that fell back to process.send would not work under Electron: fail loudly.
process.send = () => { throw new Error('process.send used: the trainer must talk over process.parentPort'); };
process.on('message', (data) => { for (const l of listeners) l({ data }); });
process.parentPort = {
  on(event, cb) { if (event === 'message') listeners.push(cb); },
  postMessage(msg) { send(msg); },
};
}
`,
  );

  class FakeUtilityProcess extends EventEmitter {
    readonly #child: ChildProcess;
    #exited = false;
    constructor(path: string, args: string[], options: { env?: Record<string, string>; execArgv?: string[] }) {
      super();
      this.#child = fork(path, args, {
        env: options.env ?? {},
        execArgv: [...(options.execArgv ?? []), '--import', pathToFileURL(shim).href, '--no-warnings'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
      this.#child.on('message', (m) => this.emit('message', m));
      this.#child.once('exit', (code) => {
        this.#exited = true;
        this.emit('exit', code ?? 1); // Electron reports a number, also when killed
      });
    }
    get pid(): number | undefined {
      return this.#exited ? undefined : this.#child.pid;
    }
    get stderr() {
      return this.#child.stderr;
    }
    postMessage(msg: unknown): void {
      if (this.#child.connected) this.#child.send(msg as object);
    }
    kill(): boolean {
      return this.#child.kill('SIGKILL');
    }
  }
  return {
    utilityProcess: {
      fork: (path: string, args: string[], options: Record<string, unknown>) => {
        const child = new FakeUtilityProcess(path, args, options as never);
        forks.calls.push({ path, args, options, child });
        return child;
      },
    },
  };
});

const { cleanEnv, spawnUtilityTrainer, trainerGone } = await import('../../src-main/app/utility-port.ts');

describe('spawnUtilityTrainer', () => {
  it('forks the trainer entry as a named utility process with piped stderr and a string-only env', () => {
    const port = spawnUtilityTrainer({ ...process.env, LORA_LAB_BACKEND: 'cpu', UNSET: undefined });
    port.kill();
    const call = forks.calls.at(-1)!;
    expect(call.path).toMatch(/src-main[/\\]trainer[/\\]entry\.ts$/);
    expect(call.options['serviceName']).toMatch(/^lora-lab-trainer-\d+$/);
    expect((call.options['stdio'] as string[])[2]).toBe('pipe');
    const env = call.options['env'] as Record<string, unknown>;
    expect(env['LORA_LAB_BACKEND']).toBe('cpu');
    expect('UNSET' in env).toBe(false);
  });

  it('cleanEnv keeps strings only', () => {
    expect(cleanEnv({ A: 'a', B: undefined })).toEqual({ A: 'a' });
  });

  it('reports a trainer that fails to start, then its exit', async () => {
    const host = new TrainerHost({ spawn: spawnUtilityTrainer, env: { ...process.env, LORA_LAB_BACKEND: 'no-such-backend' } });
    const outcome = await host.run({ runId: 'x', config: defaultConfig('base'), data: MNIST });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/no-such-backend/);
    const exit = await host.waitForExit(10_000);
    expect(exit.signal).toBeNull();
    // Exit code 1 and no child-process-gone details (none were fed): abnormal-exit.
    expect(exit.reason).toBe('abnormal-exit');
  });

  it('is killed on request and reports the exit', async () => {
    const port = spawnUtilityTrainer(process.env);
    const exited = new Promise<number | null>((resolve) => port.onExit((code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 200));
    expect(port.pid).toBeGreaterThan(0);
    port.kill();
    expect(typeof (await exited)).toBe('number');
    port.kill(); // a second kill after exit is harmless
    expect(port.pid).toBeUndefined();
  });

  it('trains a small run through the Lab, weights and all, over the parentPort protocol', async () => {
    const lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { spawn: spawnUtilityTrainer, env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
    try {
      const config = { ...defaultConfig('base'), sizes: [784, 32, 10], batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 0, evalSubset: 100, maxSteps: 10 };
      const run = await lab.createRun({ name: 'utility process run', config });
      const done = await lab.waitForRun(run.id);
      expect(done.error).toBeNull();
      expect(done.status).toBe('completed');
      expect(done.backend).toBe('wasm');
      expect(done.modelId).not.toBeNull();
      expect(done.accuracy).toBeGreaterThan(0);
      expect(done.exitReason).toBe('clean-exit');
    } finally {
      await lab.close();
    }
  });
});

describe('why a utility-process trainer ended: app child-process-gone', () => {
  const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
  const endless = () => ({ ...defaultConfig('base'), sizes: [784, 16, 10], batchSize: 16, trainLimit: null, testLimit: 200, evalEvery: 0, maxSteps: 1_000_000, epochs: 1000 });
  /** Details as Electron gives them for our trainer: the fork's serviceName in `name`. */
  const details = (name: string, over: Partial<Electron.Details> = {}): Electron.Details => ({ type: 'Utility', reason: 'crashed', exitCode: 11, serviceName: 'node.mojom.NodeService', name, ...over });

  /** A host on a utility-process trainer, its service name, and a hook at training step 2. */
  function started(atStep2: (pid: number, name: string, child: (typeof forks.calls)[number]['child']) => void) {
    const host = new TrainerHost({ spawn: spawnUtilityTrainer, env });
    const call = forks.calls.at(-1)!;
    const name = call.options['serviceName'] as string;
    let fired = false;
    host.onMessage((m) => {
      if (!fired && m.type === 'progress' && m.phase === 'training' && m.step >= 2) {
        fired = true;
        atStep2(host.pid!, name, call.child);
      }
    });
    return { host, name };
  }

  it('gives every trainer a service name of its own', () => {
    const a = spawnUtilityTrainer(env);
    const b = spawnUtilityTrainer(env);
    a.kill();
    b.kill();
    const [na, nb] = forks.calls.slice(-2).map((c) => c.options['serviceName']);
    expect(na).not.toBe(nb);
  });

  it('takes the reason from the details that arrive before the exit', async () => {
    const { host } = started((pid, name) => {
      process.kill(pid, 'SIGKILL');
      expect(trainerGone(details(name, { reason: 'oom', exitCode: 9 }))).toBe(true);
    });
    const outcome = await host.run({ runId: 'u1', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', code: 'crash', exitReason: 'oom' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer ran out of memory \(exit code \d+\) at step \d+($|: )/);
    expect((await host.waitForExit(5000)).reason).toBe('oom');
  });

  it('waits for details that arrive after the exit', async () => {
    const { host } = started((pid, name, child) => {
      child.once('exit', () => setTimeout(() => trainerGone(details(name, { reason: 'killed', exitCode: 9 })), 100));
      process.kill(pid, 'SIGKILL');
    });
    const outcome = await host.run({ runId: 'u2', config: endless(), data: MNIST });
    expect(outcome).toMatchObject({ status: 'failed', exitReason: 'killed' });
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/^the trainer was killed \(exit code \d+\) at step \d+($|: )/);
  });

  it("ignores other processes' details, and a trainer's once its exit is reported", async () => {
    const port = spawnUtilityTrainer(env);
    const name = forks.calls.at(-1)!.options['serviceName'] as string;
    expect(trainerGone(details('Audio Service'))).toBe(false);
    expect(trainerGone(details(name, { type: 'GPU' }))).toBe(false);
    const exited = new Promise((resolve) => port.onExit((_code, _signal, reason) => resolve(reason)));
    port.kill();
    // The stand-in reports a kill as exit code 1; with no details fed, that is abnormal-exit.
    expect(await exited).toBe('abnormal-exit');
    expect(trainerGone(details(name))).toBe(false);
  });
});
