/**
 * Damage to a real database file: found by the quick check at open (nothing is written),
 * or met by a statement later (the store stops: query_only, every statement refused),
 * and what `setAsideDamaged` will and will not move.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, setAsideDamaged } from '../../src-main/store/database.ts';
import { DamagedDatabaseError, isUnusableDatabase, NotADatabaseError, StoreError } from '../../src-main/store/errors.ts';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { corruptTablePage, sha256File, useTempDirs } from './helpers.ts';

const temp = useTempDirs();

/** A closed database file with three runs and a model with a tensor. */
function soundFile(): string {
  const file = join(temp.dir(), 'lab.db');
  const store = openStore(file);
  for (let i = 0; i < 3; i++) store.runs.create({ name: `run ${i}`, kind: 'base', config: defaultConfig('base') });
  const m = store.models.create({ name: 'm', kind: 'imported', sizes: [2, 2] });
  store.tensors.put({ modelId: m.id }, { w: { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) } });
  store.close();
  return file;
}

describe('damage found at open', () => {
  it('a damaged page of any checked table is refused before anything is written, read-write or read-only', () => {
    for (const table of ['runs', 'models', 'adapters', 'evaluations']) {
      const file = soundFile();
      corruptTablePage(file, table);
      const hash = sha256File(file);
      for (const readonly of [false, true]) {
        let err: unknown;
        try {
          openStore(file, { readonly });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(DamagedDatabaseError);
        expect(isUnusableDatabase(err)).toBe(true);
        expect((err as Error).message).toBe(`${file} is damaged (the ${table} table failed SQLite's quick check), so LoRA Lab left it untouched`);
      }
      expect(sha256File(file)).toBe(hash);
      expect(existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0).toBe(0);
    }
  });

  it('a sound file opens, with SQLite checking each page it reads (cell_size_check)', () => {
    const store = openStore(soundFile());
    expect(store.runs.list()).toHaveLength(3);
    expect(store.db.pragma('cell_size_check', { simple: true })).toBe(1);
    expect(store.damaged).toBeNull();
  });
});

describe('damage met while the store is in use', () => {
  it('the first SQLITE_CORRUPT marks the store damaged: query_only, and every later statement refused', () => {
    const file = soundFile();
    const store = openStore(file);
    expect(store.runs.list()).toHaveLength(3);
    corruptTablePage(file, 'runs');
    store.db.pragma('shrink_memory'); // drop the cached pages, as a busy process would in time
    expect(() => store.runs.list()).toThrow(DamagedDatabaseError);
    const damaged = store.damaged!;
    expect(damaged.message).toBe(`${file} is damaged (SQLite reported: database disk image is malformed), so LoRA Lab stopped writing to it`);
    expect(store.db.pragma('query_only', { simple: true })).toBe(1);
    const wal = statSync(`${file}-wal`).size;
    // Writes to sound tables, reads that would not touch the page, transactions, raw SQL: all refused.
    expect(() => store.models.create({ name: 'after', kind: 'imported', sizes: [2, 2] })).toThrow(damaged);
    expect(() => store.models.list()).toThrow(damaged);
    expect(() => store.tensors.get({ modelId: 1 })).toThrow(damaged);
    expect(() => store.transaction(() => 1)).toThrow(damaged);
    expect(() => store.db.exec('CREATE TABLE t (x)')).toThrow(damaged);
    expect(() => store.db.prepare('SELECT 1').pluck().get()).toThrow(damaged);
    // Even a statement that bypasses the store's refusal cannot write: the connection is query_only.
    expect(() => store.db.pragma('user_version = 99')).toThrow(/readonly/);
    expect(statSync(`${file}-wal`).size).toBe(wal);
    store.close();
  });
});

describe('the bulk tables, left out of the check at open', () => {
  it('damage in metrics or tensors opens, and is met by the first read of that table', () => {
    for (const [table, read] of [
      ['metrics', (s: ReturnType<typeof openStore>) => s.metrics.series(1, 'train/loss')],
      ['tensors', (s: ReturnType<typeof openStore>) => s.tensors.get({ modelId: 1 })],
    ] as const) {
      const file = soundFile();
      const seed = openStore(file);
      seed.metrics.append(1, Array.from({ length: 50 }, (_, step) => ({ key: 'train/loss', step, value: 1 / (step + 1), time: 0 })));
      seed.close();
      corruptTablePage(file, table);
      const store = openStore(file);
      expect(store.runs.list()).toHaveLength(3);
      expect(() => read(store)).toThrow(DamagedDatabaseError);
      expect(() => store.runs.list()).toThrow(DamagedDatabaseError);
      store.close();
    }
  });
});

describe('setAsideDamaged', () => {
  it('moves a damaged file (and its -wal/-shm) aside, byte for byte', () => {
    const file = soundFile();
    corruptTablePage(file, 'runs');
    const hash = sha256File(file);
    const aside = setAsideDamaged(file);
    expect(existsSync(file)).toBe(false);
    expect(sha256File(aside)).toBe(hash);
    const garbage = join(temp.dir(), 'garbage.db');
    writeFileSync(garbage, 'not SQLite at all, not even close to it, no');
    expect(() => openDatabase(garbage)).toThrow(NotADatabaseError);
    expect(existsSync(setAsideDamaged(garbage))).toBe(true);
  });

  it('never moves a folder, a pipe or a sound database', () => {
    const dir = temp.dir();
    const folder = join(dir, 'lab.db');
    mkdirSync(folder);
    writeFileSync(join(folder, 'keep.txt'), 'mine');
    expect(() => setAsideDamaged(folder)).toThrow(`${folder} is not a regular file, so it was not set aside`);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => setAsideDamaged(fifo)).toThrow(StoreError);
    const sound = soundFile();
    expect(() => setAsideDamaged(sound)).toThrow(`${sound} is a sound database, so it was not set aside`);
    expect(readdirSync(dir).sort()).toEqual(['fifo', 'lab.db']);
    expect(existsSync(sound)).toBe(true);
  });
});

describe('paths that cannot be a database file', () => {
  it('are refused with a sentence naming the reason, not an errno stack', () => {
    const dir = temp.dir();
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'x');
    expect(() => openStore(join(plain, 'lab.db'))).toThrow(`cannot use ${join(plain, 'lab.db')} as the database: a part of the path is a file, not a folder`);
    expect(() => openStore(join(plain, 'a', 'lab.db'))).toThrow(/a part of the path is a file, not a folder/);
    expect(() => openStore(join(dir, 'y'.repeat(300), 'lab.db'))).toThrow(/\(\d+ characters\) as the database: the path is too long/);
    expect(() => openStore(join(dir, 'x'.repeat(300), 'lab.db'))).toThrow(StoreError);
    // Missing folders are still made, one level at a time.
    const deep = join(dir, 'a', 'b', 'c', 'lab.db');
    openStore(deep).close();
    expect(existsSync(deep)).toBe(true);
  });
});
