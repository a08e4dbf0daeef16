import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDbPath, openDatabase } from '../../src-main/store/database.ts';
import { NotADatabaseError, StoreError } from '../../src-main/store/errors.ts';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { sha256File, useTempDirs } from './helpers.ts';

const temp = useTempDirs();

describe('opening the database', () => {
  it('creates missing parent folders', () => {
    const file = join(temp.dir(), 'a', 'b', 'lab.db');
    const store = openStore(file);
    expect(store.file).toBe(file);
    store.close();
    expect(existsSync(file)).toBe(true);
  });

  it('refuses a file of random bytes with an error naming the path, and leaves it as it was', () => {
    for (const size of [50, 4096]) {
      const file = join(temp.dir(), 'notes.db');
      writeFileSync(file, randomBytes(size));
      const hash = sha256File(file);
      expect(() => openStore(file)).toThrow(NotADatabaseError);
      expect(() => openStore(file)).toThrow(`${file} is not a LoRA Lab database`);
      expect(sha256File(file)).toBe(hash);
      expect(existsSync(`${file}-wal`)).toBe(false);
    }
  });

  it('refuses a file with an SQLite header but garbage after it', () => {
    const file = join(temp.dir(), 'damaged.db');
    writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), randomBytes(8192)]));
    const hash = sha256File(file);
    expect(() => openStore(file)).toThrow(file);
    expect(() => openStore(file)).toThrow(StoreError);
    expect(sha256File(file)).toBe(hash);
  });

  it('refuses a folder in place of the file as a wrong path, not as a damaged database to set aside', () => {
    const file = join(temp.dir(), 'lab.db');
    mkdirSync(file);
    expect(() => openStore(file)).toThrow(`${file} is a folder, not a database file`);
    expect(() => openStore(file)).not.toThrow(NotADatabaseError);
  });

  it('treats an empty file as a new database', () => {
    const file = join(temp.dir(), 'empty.db');
    writeFileSync(file, '');
    const store = openStore(file);
    expect(store.runs.list()).toEqual([]);
    store.close();
  });

  it('opens read-only without writing, and refuses writes', () => {
    const file = join(temp.dir(), 'ro.db');
    const rw = openStore(file);
    rw.runs.create({ name: 'kept', kind: 'base', config: defaultConfig('base') });
    rw.close();
    const hash = sha256File(file);
    const ro = openStore(file, { readonly: true });
    expect(ro.runs.list().map((r) => r.name)).toEqual(['kept']);
    expect(() => ro.runs.create({ name: 'x', kind: 'base', config: defaultConfig('base') })).toThrow(/readonly/);
    ro.close();
    expect(sha256File(file)).toBe(hash);
    expect(() => openDatabase(join(temp.dir(), 'missing.db'), { readonly: true })).toThrow(/does not exist/);
  });

  it('lets a second connection read while the first one writes (WAL)', () => {
    const file = join(temp.dir(), 'wal.db');
    const writer = openStore(file);
    const reader = openStore(file);
    const run = writer.runs.create({ name: 'shared', kind: 'base', config: defaultConfig('base') });
    writer.transaction(() => {
      writer.runs.rename(run.id, 'renamed inside an open transaction');
      expect(reader.runs.get(run.id).name).toBe('shared');
    });
    expect(reader.runs.get(run.id).name).toBe('renamed inside an open transaction');
    writer.close();
    reader.close();
  });
});

describe('defaultDbPath', () => {
  it('prefers LORA_LAB_DB, then XDG_DATA_HOME, then ~/.local/share', () => {
    expect(defaultDbPath({ LORA_LAB_DB: '/tmp/x/lab.db', XDG_DATA_HOME: '/data' })).toBe('/tmp/x/lab.db');
    expect(defaultDbPath({ XDG_DATA_HOME: '/data' })).toBe('/data/lora-lab/lab.db');
    expect(defaultDbPath({})).toBe(join(homedir(), '.local', 'share', 'lora-lab', 'lab.db'));
    // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
    expect(defaultDbPath({ XDG_DATA_HOME: 'relative' })).toBe(join(homedir(), '.local', 'share', 'lora-lab', 'lab.db'));
  });

  it('refuses an empty LORA_LAB_DB instead of quietly using the default file', () => {
    for (const empty of ['', '  ']) expect(() => defaultDbPath({ LORA_LAB_DB: empty, XDG_DATA_HOME: '/data' })).toThrow(/LORA_LAB_DB is set but empty/);
  });
});
