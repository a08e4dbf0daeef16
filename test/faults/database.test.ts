/**
 * A damaged database and paths that cannot be a database, attacked through the real
 * CLI: a real file made by `lora-lab train`, one page of a table overwritten on disk,
 * then every command must say so in one line, exit non-zero and leave the file's bytes
 * as they were; `--reset-db` keeps the damaged file aside and nothing else. Damage met
 * while a run streams (in-process, a real trainer) stops the trainer and refuses writes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { DamagedDatabaseError } from '../../src-main/store/errors.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { type CliResult, lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { corruptTablePage, sha256File } from '../store/helpers.ts';

const tmp = tempDir('lora-lab-damage-');
afterAll(tmp.cleanup);
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A sound database with two trained runs (and their models), made by the CLI itself. */
const pristine = join(tmp.dir, 'pristine.db');
const tiny = ['train', '--sizes', '784,16,10', '--train-limit', '200', '--test-limit', '100', '--steps', '5', '-q', '--db', pristine];
beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const r = await cli(tiny);
    expect(r.code, r.stderr).toBe(0);
  }
}, 180_000);

let n = 0;
/** A copy of the sound database in a folder of its own. */
function copyOfPristine(): { dir: string; file: string } {
  const dir = join(tmp.dir, `case-${++n}`);
  mkdirSync(dir);
  const file = join(dir, 'lab.db');
  copyFileSync(pristine, file);
  return { dir, file };
}

/** One line on stderr, no stack trace, nothing about SqliteError. */
function oneLine(r: CliResult): string {
  const text = r.stderr.trim();
  expect(text.split('\n'), r.stderr).toHaveLength(1);
  expect(text).not.toMatch(/SqliteError|\n\s+at |node:internal/);
  return text;
}

describe('a database with one page of the runs table damaged', () => {
  it('runs, models, show and train each refuse it in one line with the way out, and the file is not written', async () => {
    const { file } = copyOfPristine();
    corruptTablePage(file, 'runs');
    const before = sha256File(file);
    const commands = [['runs'], ['models'], ['show', '1'], ['show', '3'], tiny.slice(0, -2)];
    const results = await Promise.all(commands.map((c) => cli([...c, '--db', file])));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${commands[i]!.join(' ')}: ${r.stderr}`).not.toBe(0);
      expect(oneLine(r)).toMatch(/lab\.db is damaged \(the runs table failed SQLite's quick check\), so LoRA Lab left it untouched; run the command again with --reset-db/);
      // "run 3 does not exist" would be a lie: the row may be on the damaged page.
      expect(r.stderr).not.toMatch(/does not exist/);
    }
    expect(sha256File(file)).toBe(before);
  }, 120_000);

  it('--reset-db keeps the damaged file aside, byte for byte, and starts a fresh database', async () => {
    const { dir, file } = copyOfPristine();
    corruptTablePage(file, 'runs');
    const before = sha256File(file);
    const r = await cli(['runs', '--db', file, '--reset-db']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the damaged database was kept as .*lab\.db\.damaged-/);
    expect(r.stdout).toMatch(/no runs match/);
    const aside = readdirSync(dir).find((f) => /^lab\.db\.damaged-[^-]+.*Z$/.test(f))!;
    expect(sha256File(join(dir, aside))).toBe(before);
    expect((await cli(['runs', '--db', file])).code).toBe(0);
  }, 60_000);
});

describe('damage the check at open does not cover (the tensor BLOBs), met by a command', () => {
  it('evaluate stops at the damage in one line with the way out, and the file is not written', async () => {
    const { file } = copyOfPristine();
    corruptTablePage(file, 'tensors');
    const before = sha256File(file);
    // Listing models does not read the weights: the damaged table is not touched.
    expect((await cli(['models', '--db', file])).code).toBe(0);
    const r = await cli(['evaluate', '1', '--db', file]);
    expect(r.code, r.stderr).toBe(1);
    expect(oneLine(r)).toMatch(/lab\.db is damaged \(SQLite reported: database disk image is malformed\), so LoRA Lab stopped writing to it; run the command again with --reset-db/);
    expect(sha256File(file)).toBe(before);
  }, 60_000);

  it('and the way out it names works: --reset-db checks the whole file, keeps it aside and starts fresh', async () => {
    const { dir, file } = copyOfPristine();
    corruptTablePage(file, 'metrics');
    const before = sha256File(file);
    const r = await cli(['runs', '--json', '--db', file, '--reset-db']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.stderr).toMatch(/the damaged database was kept as .*lab\.db\.damaged-/);
    const aside = readdirSync(dir).find((f) => /^lab\.db\.damaged-[^-]/.test(f) && !/-(wal|shm)$/.test(f));
    expect(aside).toBeDefined();
    expect(sha256File(join(dir, aside!))).toBe(before);
  }, 60_000);
});

describe('damage met while a run streams its results', () => {
  it('stops the trainer, refuses every later write (query_only) and says so through the Lab', async () => {
    const { file } = copyOfPristine();
    const lab = Lab.open(file, { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } }, progressWriteMs: 0, metricFlushMs: 10 });
    cleanups.push(() => lab.close());
    const cfg = { ...defaultConfig('base'), sizes: [784, 16, 10], trainLimit: 1000, testLimit: 100, epochs: 200, evalEvery: 1_000_000 };
    const run = await lab.createRun({ config: cfg, name: 'streaming when the disk goes bad' });
    const done = lab.waitForRun(run.id);
    done.catch(() => undefined);
    await new Promise<void>((resolve) => {
      const off = lab.subscribe((e) => {
        if (e.type === 'progress' && e.runId === run.id && e.progress.step >= 3) {
          off();
          resolve();
        }
      });
    });
    const pid = lab.manager.pidOf(run.id)!;
    expect(pid).toBeGreaterThan(0);
    // Synchronous, so no write of the Lab's can slip in between; then drop its cached pages.
    corruptTablePage(file, 'runs');
    lab.store.db.pragma('shrink_memory');
    const err = await done.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DamagedDatabaseError);
    expect(() => process.kill(pid, 0)).toThrow(); // the trainer was stopped
    expect(lab.store.damaged).toBe(err);
    expect(lab.store.db.pragma('query_only', { simple: true })).toBe(1);
    const wal = sha256File(`${file}-wal`);
    await expect(lab.listRuns()).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/is damaged .*stopped writing to it; restart LoRA Lab to be offered a fresh database/) });
    await expect(lab.renameRun(run.id, 'renamed')).rejects.toMatchObject({ status: 503 });
    await expect(lab.createRun({ config: cfg })).rejects.toMatchObject({ status: 503 });
    expect(() => lab.store.models.create({ name: 'x', kind: 'imported', sizes: [784, 16, 10] })).toThrow(DamagedDatabaseError);
    expect(sha256File(`${file}-wal`)).toBe(wal); // nothing more reached the log
  }, 120_000);
});

describe('paths that cannot be a database', () => {
  it('each is refused in one line, and --reset-db never moves a folder or anything that is not a damaged file', async () => {
    const dir = join(tmp.dir, 'paths');
    mkdirSync(dir);
    const folder = join(dir, 'a folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'keep.txt'), 'mine');
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'a regular file');
    symlinkSync('loop', join(dir, 'loop'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--db', ''], {}, /--db needs the path of a database file, got an empty one/],
      [['--db='], {}, /--db needs the path of a database file, got an empty one/],
      [[], { LORA_LAB_DB: '' }, /LORA_LAB_DB is set but empty/],
      [['--db', folder], {}, /a folder is a folder, not a database file/],
      [['--db', folder, '--reset-db'], {}, /a folder is a folder, not a database file/],
      [['--db', fifo, '--reset-db'], {}, /fifo is not a regular file/],
      [['--db', join(plain, 'lab.db')], {}, /plain\.txt\/lab\.db as the database: a part of the path is a file, not a folder/],
      [['--db', join(plain, 'a', 'b', 'lab.db')], {}, /a part of the path is a file, not a folder/],
      [['--db', join(dir, 'loop')], {}, /loop as the database: the path goes through a loop of symbolic links/],
      [['--db', join(dir, 'x'.repeat(300), 'lab.db')], {}, /\(\d+ characters\) as the database: the path is too long/],
    ];
    if (process.platform === 'linux') cases.push([['--db', '/proc/self/no-such/lab.db'], {}, /a folder on the path cannot be created there/]);
    const results = await Promise.all(cases.map(([args, env]) => cli(['runs', ...args], env)));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).not.toBe(0);
      expect(oneLine(r)).toMatch(cases[i]![2]);
    }
    expect(readdirSync(folder)).toEqual(['keep.txt']);
    expect(readdirSync(dir).sort()).toEqual(['a folder', 'fifo', 'loop', 'plain.txt']);
  }, 120_000);

  it.skipIf(process.getuid?.() === 0)('a folder without permission is said in words (not as root: root ignores permissions)', async () => {
    const locked = join(tmp.dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    cleanups.push(() => chmodSync(locked, 0o700));
    const r = await cli(['runs', '--db', join(locked, 'lab.db')]);
    expect(r.code).not.toBe(0);
    expect(oneLine(r)).toMatch(/permission denied|read-only/);
    expect(existsSync(join(tmp.dir, 'locked'))).toBe(true);
  });
});
