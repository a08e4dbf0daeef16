/**
 * Faults between processes, with real ones: a trainer killed while its `serve` is
 * frozen (the heartbeat then writes into a closed channel: EPIPE), Ctrl-C to a whole
 * terminal process group, and a CLI killed while a `serve` on the same database shows
 * its run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LabEvent, RunView } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('lora-lab-processes-');
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid!, 'SIGCONT');
      } catch {
        /* gone */
      }
      c.kill('SIGKILL');
    }
  }
});
afterAll(tmp.cleanup);

/** A run that trains until stopped: tiny model, endless steps. */
const LONG = ['--sizes', '784,16,10', '--steps', '1000000', '--epochs', '1000', '--batch-size', '16'];
const longConfig = { kind: 'base', data: 1, sizes: [784, 16, 10], seed: 0, batchSize: 16, epochs: 1000, maxSteps: 1_000_000, optimizer: 'adam', lr: 1e-3, classes: null, trainLimit: null, testLimit: 200, evalEvery: 0, evalSubset: 100, lora: null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Child PIDs of `pid`, from /proc (every thread's list). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wait for `check` to return a value (polling), failing with `what` after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

interface Serve {
  child: ChildProcess;
  call<T>(name: string, args?: unknown[]): Promise<T>;
}

/** `lora-lab serve` on `db`, with a way to call its HTTP API (token included). */
async function serve(db: string): Promise<Serve> {
  const child = labProcess(['serve', '--db', db, '--port', '0']);
  started.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<URL>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /running at (\S+)/.exec(out);
      if (m) resolve(new URL(m[1]!));
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
  const token = url.searchParams.get('token')!;
  return {
    child,
    async call<T>(name: string, args: unknown[] = []): Promise<T> {
      const res = await fetch(new URL(`/api/${name}`, url.origin), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ args }),
      });
      const body = (await res.json()) as { ok: boolean; result?: T; error?: string };
      if (!body.ok) throw new Error(`${name}: ${res.status} ${body.error}`);
      return body.result as T;
    },
  };
}

/** `lora-lab train` on `db` until it is training (its progress bar shows steps). */
async function trainingCli(db: string, name: string): Promise<ChildProcess> {
  const child = labProcess(['train', '--db', db, ...LONG, '--name', name]);
  started.push(child);
  await waitForSteps(child);
  return child;
}

function waitForSteps(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
      if (/\d+\/\d+/.test(err)) resolve();
    });
    child.once('exit', () => reject(new Error(`exited early: ${err}`)));
  });
}

const runNamed = async (db: string, name: string) =>
  (JSON.parse((await lab(['runs', '--db', db, '--json'])).stdout) as RunView[]).find((r) => r.name === name);

describe('a trainer dies while its host is frozen', () => {
  it('serve survives the EPIPE of its next heartbeat, answers, and records the run as killed', async () => {
    const db = join(tmp.dir, 'epipe.db');
    const s = await serve(db);
    const run = await s.call<RunView>('createRun', [{ config: longConfig, name: 'epipe' }]);
    await until('the run to train', async () => {
      const r = (await s.call<RunView[]>('listRuns')).find((x) => x.id === run.id);
      return r?.status === 'running' && (r.progress?.step ?? 0) > 0 ? r : undefined;
    });
    const [trainer] = childPids(s.child.pid!);
    expect(trainer).toBeGreaterThan(0);

    process.kill(s.child.pid!, 'SIGSTOP');
    process.kill(trainer!, 'SIGKILL');
    // Longer than the 2 s heartbeat: it is due the moment serve runs again.
    await sleep(3000);
    process.kill(s.child.pid!, 'SIGCONT');

    const failed = await until('the run to be failed', async () => {
      const r = (await s.call<RunView[]>('listRuns')).find((x) => x.id === run.id);
      return r && r.status !== 'running' ? r : undefined;
    });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/killed by SIGKILL/);
    expect(s.child.exitCode).toBeNull();
    expect(alive(s.child.pid!)).toBe(true);
    expect((await s.call<RunView[]>('listRuns')).map((r) => r.id)).toContain(run.id);
  });
});

describe('Ctrl-C in a terminal', () => {
  it('SIGINT to the whole process group cancels the run (the trainer does not die of it)', async () => {
    const db = join(tmp.dir, 'sigint.db');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    // Its own process group, as a shell gives a foreground job.
    const child = spawn(process.execPath, ['--import', tsx, '--no-warnings', 'src-main/cli.ts', 'train', '--db', db, ...LONG, '--name', 'ctrl-c'], {
      cwd: root,
      env: { ...process.env, LORA_LAB_BACKEND: 'wasm' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    started.push(child);
    await waitForSteps(child);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    const run = await runNamed(db, 'ctrl-c');
    expect(run?.status, run?.error ?? '').toBe('cancelled');
  });
});

describe('a CLI that owned a run is killed', () => {
  it('an open serve on the same database marks the run interrupted by itself, and it can be deleted', async () => {
    const db = join(tmp.dir, 'owner.db');
    const cli = await trainingCli(db, 'owner killed');
    const s = await serve(db);
    const id = (await until('the run in serve', async () => (await s.call<RunView[]>('listRuns')).find((r) => r.name === 'owner killed' && r.status === 'running')))
      .id;
    const gone = new Promise((r) => cli.once('exit', r));
    cli.kill('SIGKILL');
    await gone;
    // Without restarting serve, and without anyone asking it.
    const run = await until(
      'the run to be interrupted',
      async () => {
        const r = (await s.call<RunView[]>('listRuns')).find((x) => x.id === id);
        return r?.status === 'interrupted' ? r : undefined;
      },
      15_000,
    );
    expect(run.error).toMatch(/interrupted/);
    await s.call('deleteRun', [id]);
    expect((await s.call<RunView[]>('listRuns')).map((r) => r.id)).not.toContain(id);
  });

  it('cancel and delete from another process find the dead owner at once and answer for it', async () => {
    const db = join(tmp.dir, 'owner2.db');
    const [a, b] = await Promise.all([trainingCli(db, 'to cancel'), trainingCli(db, 'to delete')]);
    // A Lab that does not look by itself: only the cancel and the delete can notice.
    const other = Lab.open(db, { ownerCheckMs: 0 });
    try {
      const events: LabEvent[] = [];
      other.subscribe((e) => events.push(e));
      const runs = await other.listRuns();
      const ra = runs.find((r) => r.name === 'to cancel')!;
      const rb = runs.find((r) => r.name === 'to delete')!;
      expect([ra.status, rb.status]).toEqual(['running', 'running']);
      await Promise.all([a, b].map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')))));

      const cancelled = await other.cancelRun(ra.id);
      expect(cancelled.status).toBe('interrupted');
      expect(events.some((e) => e.type === 'run' && e.run.id === ra.id && e.run.status === 'interrupted')).toBe(true);
      await other.deleteRun(rb.id);
      expect((await other.listRuns()).map((r) => r.id)).toEqual([ra.id]);
    } finally {
      await other.close();
    }
  });
});
