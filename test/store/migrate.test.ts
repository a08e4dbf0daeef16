import Database from 'better-sqlite3';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src-main/store/database.ts';
import { MigrationError, SchemaTooNewError } from '../../src-main/store/errors.ts';
import { loadMigrations, migrate, migrationsDir, userVersion } from '../../src-main/store/migrate.ts';
import { openStore } from '../../src-main/store/store.ts';
import { sha256File, useTempDirs } from './helpers.ts';

const temp = useTempDirs();
const LATEST = loadMigrations().length;

/** A migrations folder holding exactly `files`. */
function folder(files: Record<string, string>): string {
  const dir = join(temp.dir(), 'migrations');
  mkdirSync(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

const schemaOf = (db: Database.Database) => db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all();

describe('migrations', () => {
  it('finds migrations/ from the sources and from a bundled dist/cli.js', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
    expect(migrationsDir()).toBe(join(root, 'migrations'));
    expect(migrationsDir(pathToFileURL(join(root, 'dist', 'cli.js')).href)).toBe(join(root, 'migrations'));
    expect(() => migrationsDir(join(temp.dir(), 'x.js'))).toThrow(MigrationError);
  });

  it('brings a fresh file to the latest user_version with every table STRICT', () => {
    const db = openDatabase(join(temp.dir(), 'fresh.db'));
    try {
      expect(userVersion(db)).toBe(LATEST);
      const tables = db.prepare(`SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all();
      expect(tables).toEqual(['adapters', 'dataset_chunks', 'datasets', 'evaluations', 'merge_previews', 'metrics', 'models', 'runs', 'sweep_runs', 'sweeps', 'tensors'].map((name) => ({ name, strict: 1 })));
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('is a no-op when run again, in the same process or on re-open', () => {
    const file = join(temp.dir(), 'again.db');
    const db = openDatabase(file);
    const before = schemaOf(db);
    expect(migrate(db)).toEqual({ from: LATEST, to: LATEST, applied: [] });
    expect(schemaOf(db)).toEqual(before);
    db.close();
    const reopened = openDatabase(file);
    expect(schemaOf(reopened)).toEqual(before);
    expect(userVersion(reopened)).toBe(LATEST);
    reopened.close();
  });

  it('applies only the pending migrations, in order, and reports them', () => {
    const dir = folder({ '0001_a.sql': 'CREATE TABLE a (x INTEGER) STRICT;' });
    const db = new Database(join(temp.dir(), 'steps.db'));
    expect(migrate(db, dir)).toEqual({ from: 0, to: 1, applied: ['0001_a.sql'] });
    writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE b (y TEXT) STRICT; INSERT INTO a VALUES (1);');
    expect(migrate(db, dir)).toEqual({ from: 1, to: 2, applied: ['0002_b.sql'] });
    expect(db.prepare('SELECT count(*) AS n FROM a').get()).toEqual({ n: 1 });
    db.close();
  });

  it('rolls back every pending migration and the version when one fails', () => {
    const dir = folder({ '0001_a.sql': 'CREATE TABLE a (x INTEGER) STRICT;', '0002_bad.sql': 'CREATE TABLE oops (' });
    const db = new Database(join(temp.dir(), 'atomic.db'));
    expect(() => migrate(db, dir)).toThrow(/migration 0002_bad\.sql failed/);
    expect(userVersion(db)).toBe(0);
    expect(db.prepare(`SELECT name FROM sqlite_schema WHERE name = 'a'`).get()).toBeUndefined();
    db.close();
  });

  it('refuses a file from a newer LoRA Lab and leaves its bytes untouched', () => {
    const file = join(temp.dir(), 'future.db');
    openStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST + 7}`);
    raw.close();
    const hash = sha256File(file);

    let error: unknown;
    try {
      openStore(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SchemaTooNewError);
    expect((error as Error).message).toBe(
      `${file} was written by a newer LoRA Lab (schema ${LATEST + 7}, this version knows ${LATEST}); it was left untouched`,
    );
    expect(sha256File(file)).toBe(hash);
    expect(existsSync(`${file}-wal`)).toBe(false);
    // migrate() on an already-open connection refuses as well, before writing.
    const db = new Database(file, { readonly: true });
    expect(() => migrate(db)).toThrow(SchemaTooNewError);
    db.close();
    expect(sha256File(file)).toBe(hash);
  });

  it('reads the version from a newer LoRA Lab\'s live write-ahead log, and writes neither file', () => {
    const file = join(temp.dir(), 'future-wal.db');
    openStore(file).close();
    // The newer app is still open: its upgrade sits in the -wal file, not yet in the
    // main file, whose header still says schema ${LATEST}.
    const newer = new Database(file);
    newer.pragma('wal_autocheckpoint = 0');
    newer.exec('CREATE TABLE from_the_future (x INTEGER) STRICT');
    newer.pragma(`user_version = ${LATEST + 1}`);
    const main = sha256File(file);
    const wal = sha256File(`${file}-wal`);
    try {
      expect(() => openStore(file)).toThrow(SchemaTooNewError);
      expect(sha256File(file)).toBe(main);
      expect(sha256File(`${file}-wal`)).toBe(wal);
    } finally {
      newer.close();
    }
  });

  it('rejects a migrations folder with a gap, a duplicate number or a bad name', () => {
    const gap = folder({ '0001_a.sql': '', '0003_c.sql': '' });
    expect(() => loadMigrations(gap)).toThrow(MigrationError);
    expect(() => loadMigrations(gap)).toThrow(/0003_c\.sql comes after 0001_a\.sql, but number 2 is missing/);
    const dup = folder({ '0001_a.sql': '', '0002_b.sql': '', '0002_c.sql': '' });
    expect(() => loadMigrations(dup)).toThrow(/0002_b\.sql and 0002_c\.sql share number 2/);
    const late = folder({ '0002_b.sql': '' });
    expect(() => loadMigrations(late)).toThrow(/0002_b\.sql comes as the first migration, but number 1 is missing/);
    const badName = folder({ '0001_a.sql': '', '2_b.sql': '' });
    expect(() => loadMigrations(badName)).toThrow(/2_b\.sql is not named NNNN_purpose\.sql/);
    expect(() => loadMigrations(folder({ 'README.md': 'hi' }))).toThrow(/has no NNNN_purpose\.sql files/);
    // A bad folder is refused before the database is touched.
    const db = new Database(join(temp.dir(), 'untouched.db'));
    expect(() => migrate(db, gap)).toThrow(MigrationError);
    expect(userVersion(db)).toBe(0);
    db.close();
  });

  it('ships migrations that follow the naming rule', () => {
    const names = loadMigrations().map((m) => m.name);
    expect(names[0]).toBe('0001_initial.sql');
    expect(names.length).toBe(LATEST);
  });
});
