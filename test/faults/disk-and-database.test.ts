/**
 * Faults around the disk and the database file, made real: a full disk (a tiny tmpfs)
 * during an export and during a run, a read-only database, one locked by another
 * process, and a garbage file where the database should be.
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { canMount, tmpfs } from '../helpers/tmpfs.ts';

const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function randomModel(lab: Lab, outF: number): number {
  const rng = new Rng(1);
  const w = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const m = lab.store.models.create({ name: 'random', kind: 'imported', sizes: [784, outF, 10] });
  lab.store.tensors.put({ modelId: m.id }, {
    'linear1.weight': { shape: [outF, 784], data: w(outF * 784) },
    'linear1.bias': { shape: [outF], data: w(outF) },
    'linear2.weight': { shape: [10, outF], data: w(10 * outF) },
    'linear2.bias': { shape: [10], data: w(10) },
  });
  return m.id;
}

describe.skipIf(!canMount)('a full disk (needs root to mount a tmpfs)', () => {
  it('an export that does not fit fails clearly, leaves no partial file, and the database is intact', async () => {
    const disk = tmpfs(256);
    const tmp = tempDir();
    const lab = Lab.open(join(tmp.dir, 'lab.db'), { exportDir: disk.dir });
    cleanups.push(tmp.cleanup, disk.cleanup, () => lab.close());
    const id = randomModel(lab, 200); // 628 KB of weights
    await expect(lab.exportWeights({ target: { kind: 'model', id }, format: 'safetensors', fileName: 'big.safetensors' })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/the disk is full: .*big\.safetensors was not written \(nothing partial was left behind\)/),
    });
    expect(readdirSync(disk.dir)).toEqual([]);
    await expect(lab.exportWeights({ target: { kind: 'model', id }, format: 'tfjs', fileName: 'big-tfjs' })).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(disk.dir)).toEqual([]);
    expect(lab.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(lab.store.tensors.get({ modelId: id })['linear1.weight']!.shape).toEqual([200, 784]);
  });

  it('a run whose results do not fit fails with the reason; what was committed stays, the file stays sound', async () => {
    const disk = tmpfs(640);
    const file = join(disk.dir, 'lab.db');
    const lab = Lab.open(file, { host: { env }, metricFlushMs: 20 });
    cleanups.push(disk.cleanup, () => lab.close());
    const cfg = { ...defaultConfig('base'), sizes: [784, 256, 10], batchSize: 16, trainLimit: 800, testLimit: 200, evalEvery: 10, evalSubset: 50, maxSteps: 50 };
    const run = await lab.createRun({ config: cfg, name: 'too big for the disk' });
    const done = await lab.waitForRun(run.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/database or disk is full/);
    expect(lab.store.metrics.count(run.id)).toBeGreaterThan(0);
    expect(lab.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(lab.store.models.list()).toEqual([]);
    // The lab keeps working for what fits.
    expect((await lab.listRuns()).map((r) => r.id)).toEqual([run.id]);
  });
});

describe('the database file at start-up', () => {
  it('a garbage file is refused with a clear message and never overwritten; --reset-db keeps it aside', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.dir, 'lab.db');
    const garbage = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251));
    writeFileSync(file, garbage);
    const r = await cli(['runs', '--db', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a LoRA Lab database .*left untouched/);
    expect(r.stderr).toMatch(/--reset-db/);
    expect(readFileSync(file).equals(garbage)).toBe(true);
    const reset = await cli(['runs', '--db', file, '--reset-db']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toMatch(/kept as .*lab\.db\.damaged-/);
    const aside = readdirSync(tmp.dir).find((f) => f.startsWith('lab.db.damaged-'))!;
    expect(readFileSync(join(tmp.dir, aside)).equals(garbage)).toBe(true);
    expect(reset.stdout).toMatch(/no runs match/);
  });

  it.skipIf(!canMount)('a read-only database is a clear message at start-up', async () => {
    const disk = tmpfs(1024);
    cleanups.push(disk.cleanup);
    const file = join(disk.dir, 'lab.db');
    openStore(file).close();
    disk.readOnly();
    const r = await cli(['runs', '--db', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is read-only: LoRA Lab needs to write to it/);
  });

  it('a database locked by another process: reads work, writes fail clearly after waiting, nothing is lost', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.dir, 'lab.db');
    const lab = Lab.open(file);
    cleanups.push(() => lab.close());
    const run = lab.store.runs.create({ name: 'before the lock', kind: 'base', config: defaultConfig('base') });
    lab.store.runs.finish(run.id, 'cancelled');
    const locker = fork(join(import.meta.dirname, '..', 'fixtures', 'hold-lock.cjs'), [file], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    cleanups.push(() => {
      locker.kill('SIGKILL');
    });
    await new Promise<void>((resolve) => locker.once('message', () => resolve()));
    expect((await lab.listRuns()).map((r) => r.name)).toEqual(['before the lock']);
    const t0 = Date.now();
    await expect(lab.renameRun(run.id, 'during the lock')).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/locked by another program/) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000); // it waited (busy_timeout) before giving up
    locker.kill('SIGKILL');
    await new Promise((r) => locker.once('exit', r));
    await lab.renameRun(run.id, 'after the lock');
    expect(new Database(file, { readonly: true }).prepare('SELECT name FROM runs').pluck().get()).toBe('after the lock');
    expect(existsSync(file)).toBe(true);
  });
});
