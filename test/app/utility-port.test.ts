/**
 * The utility-process trainer port, end to end without the Electron binary: Electron's
 * `utilityProcess.fork` is replaced by a stand-in with its semantics (a child whose
 * `process.parentPort` delivers `{ data }` events, `postMessage` both ways, `exit` with a
 * code, `stderr` piped), built on a Node child running the REAL trainer. A Lab whose host
 * spawns through spawnUtilityTrainer trains a small run to completion.
 */
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

const forks = vi.hoisted(() => ({ calls: [] as { path: string; args: string[]; options: Record<string, unknown> }[], shimDir: '' }));
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
        forks.calls.push({ path, args, options });
        return new FakeUtilityProcess(path, args, options as never);
      },
    },
  };
});

const { cleanEnv, spawnUtilityTrainer } = await import('../../src-main/app/utility-port.ts');

describe('spawnUtilityTrainer', () => {
  it('forks the trainer entry as a named utility process with piped stderr and a string-only env', () => {
    const port = spawnUtilityTrainer({ ...process.env, LORA_LAB_BACKEND: 'cpu', UNSET: undefined });
    port.kill();
    const call = forks.calls.at(-1)!;
    expect(call.path).toMatch(/src-main[/\\]trainer[/\\]entry\.ts$/);
    expect(call.options['serviceName']).toBe('LoRA Lab trainer');
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
    const outcome = await host.run({ runId: 'x', config: defaultConfig('base') });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') expect(outcome.error).toMatch(/no-such-backend/);
    const exit = await host.waitForExit(10_000);
    expect(exit.signal).toBeNull();
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
    } finally {
      await lab.close();
    }
  });
});
