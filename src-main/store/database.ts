/**
 * Opening the one database file: refuse what is not ours (not SQLite, or a newer
 * schema) before anything is written, then WAL + foreign keys + migrations.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NotADatabaseError, SchemaTooNewError, StoreError } from './errors.ts';
import { loadMigrations, migrate, migrationsDir, userVersion } from './migrate.ts';

export type Db = BetterSqlite3.Database;

export interface OpenOptions {
  /** Open without writing: no WAL switch, no migrations (the schema must be current). */
  readonly?: boolean;
  /** Where the `NNNN_purpose.sql` files are; default: found next to the sources/bundle. */
  migrations?: string;
}

/**
 * The one database per user, shared by the CLI, web mode and the desktop app so runs
 * started anywhere show up everywhere: `LORA_LAB_DB`, else on Linux
 * `$XDG_DATA_HOME/lora-lab/lab.db` (`~/.local/share/…`), on macOS
 * `~/Library/Application Support/LoRA Lab/lab.db` and on Windows
 * `%APPDATA%\LoRA Lab\lab.db` (the desktop app's userData folder on those two).
 */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const explicit = env['LORA_LAB_DB'];
  if (explicit) return resolve(explicit);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'LoRA Lab', 'lab.db');
  if (platform === 'win32') return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'LoRA Lab', 'lab.db');
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env['XDG_DATA_HOME'];
  const base = xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'lora-lab', 'lab.db');
}

const MAGIC = 'SQLite format 3\0';

/** Size of the file, or null when it does not exist. Directories are refused. */
function fileSize(file: string): number | null {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new NotADatabaseError(file, 'it is not a regular file');
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Reads the 100-byte SQLite header with plain fs (so a stranger file is never opened
 * by SQLite) and returns the user_version stored in it. The fixed fields are checked
 * too, so garbage behind a valid magic string is not mistaken for a schema number.
 */
function readHeader(file: string, size: number): number {
  if (size < 100) throw new NotADatabaseError(file, `${size} bytes is too short for an SQLite file`);
  const header = Buffer.alloc(100);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== MAGIC) throw new NotADatabaseError(file, 'no SQLite header');
  const pageSize = header.readUInt16BE(16);
  const validPage = pageSize === 1 || (pageSize >= 512 && (pageSize & (pageSize - 1)) === 0);
  const versions = [header[18], header[19]].every((v) => v === 1 || v === 2);
  const fractions = header[21] === 64 && header[22] === 32 && header[23] === 32;
  if (!validPage || !versions || !fractions) throw new NotADatabaseError(file, 'damaged SQLite header');
  return header.readUInt32BE(60);
}

/** SQLite errors at open time, as sentences a person can act on. */
function wrapOpenError(file: string, err: unknown): Error {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return new NotADatabaseError(file, (err as Error).message);
  if (err instanceof StoreError) return err;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(`${file} is locked by another program (another LoRA Lab busy migrating it, or a database tool holding a lock); close it and try again`);
  }
  if (code.startsWith('SQLITE_READONLY')) return new StoreError(`${file} is read-only: LoRA Lab needs to write to it (check the file's permissions and the disk, or choose another file with --db)`);
  if (code === 'SQLITE_FULL') return new StoreError(`the disk holding ${file} is full: free some space and start again`);
  if (code.startsWith('SQLITE_CANTOPEN')) return new StoreError(`cannot open ${file}: the folder is missing or not writable`);
  return new StoreError(`cannot open database ${file}: ${(err as Error).message}`);
}

/** Refuse a file (or folder, for a new file) we cannot write, before SQLite quietly opens it read-only. */
function checkWritable(file: string, exists: boolean): void {
  const target = exists ? file : dirname(file);
  try {
    accessSync(target, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
      throw new StoreError(`${target} is read-only: LoRA Lab needs to write to ${exists ? 'it' : 'create its database there'} (check permissions and the disk, or choose another file with --db)`);
    }
    throw err;
  }
}

/**
 * Move a damaged database (and its -wal/-shm files) aside so a fresh one can be made:
 * nothing is deleted. Returns where the damaged file now is.
 */
export function setAsideDamaged(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.damaged-${stamp}`;
  renameSync(file, aside);
  for (const ext of ['-wal', '-shm']) {
    if (existsSync(file + ext)) renameSync(file + ext, aside + ext);
  }
  return aside;
}

/**
 * The schema version of an existing file, without writing to it. The header holds it,
 * unless a write-ahead log with frames sits beside the file (the header may be newer
 * there): then a read-only connection reads it, since a read-write one could
 * checkpoint a newer version's log into the file on close.
 */
function peekVersion(file: string, size: number): number {
  const fromHeader = readHeader(file, size);
  if ((fileSize(`${file}-wal`) ?? 0) === 0) return fromHeader;
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return userVersion(db);
  } catch (err) {
    throw wrapOpenError(file, err);
  } finally {
    db?.close();
  }
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const path = file === ':memory:' ? file : resolve(file);
  const dir = options.migrations ?? migrationsDir();
  const latest = loadMigrations(dir).length;
  const readonly = options.readonly ?? false;

  if (path !== ':memory:') {
    const size = fileSize(path);
    if (size === null && readonly) throw new StoreError(`database ${path} does not exist`);
    if (size === null) mkdirSync(dirname(path), { recursive: true });
    if (!readonly) checkWritable(path, size !== null);
    if (size !== null && size > 0) {
      const found = peekVersion(path, size);
      if (found > latest) throw new SchemaTooNewError(path, found, latest);
    }
  }

  let db: Db;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw wrapOpenError(path, err);
  }
  try {
    // A second process (CLI beside the app) waits for the writer instead of failing.
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    if (readonly) {
      const found = userVersion(db);
      if (found !== latest) {
        throw new StoreError(`database ${path} has schema ${found}, expected ${latest}; open it read-write once to upgrade`);
      }
      return db;
    }
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL loses no committed transaction on a process crash, only
    // (possibly) the last ones on a power cut, and it saves an fsync per commit.
    db.pragma('synchronous = NORMAL');
    migrate(db, dir);
    return db;
  } catch (err) {
    db.close();
    throw wrapOpenError(path, err);
  }
}
