/**
 * Opening the one database file: refuse what is not ours (not SQLite, or a newer
 * schema) or damaged (SQLite's quick check) before anything is written, then WAL +
 * foreign keys + migrations. Paths that cannot be a database file are refused in words.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { accessSync, closeSync, constants, existsSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DamagedDatabaseError, NotADatabaseError, SchemaTooNewError, StoreError } from './errors.ts';
import { PATH_REASONS, makeFolders, wrapPathError } from './db-path.ts';
import { loadMigrations, migrate, migrationsDir, userVersion } from './migrate.ts';

export type Db = BetterSqlite3.Database;

export interface OpenOptions {
  /** Open without writing: no WAL switch, no migrations (the schema must be current). */
  readonly?: boolean;
  /** Where the `NNNN_purpose.sql` files are; default: found next to the sources/bundle. */
  migrations?: string;
  /**
   * Quick-check the bulk tables (tensors, metrics) at open too: 0.4–0.8 s on a 490 MB file
   * instead of 2 ms. For a start that can still offer a fresh database (the desktop app,
   * `--reset-db`), so damage there is found while the way out is open.
   */
  fullCheck?: boolean;
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
  // Set but empty (`LORA_LAB_DB=$UNSET`) is a mistake, not a request for the default file.
  if (explicit !== undefined && explicit.trim() === '') throw new StoreError('LORA_LAB_DB is set but empty: set it to a database file path, or unset it to use the default database');
  if (explicit) return resolve(explicit);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'LoRA Lab', 'lab.db');
  if (platform === 'win32') return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'LoRA Lab', 'lab.db');
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env['XDG_DATA_HOME'];
  const base = xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'lora-lab', 'lab.db');
}

const MAGIC = 'SQLite format 3\0';

/**
 * Size of the file, or null when it does not exist. A folder, device or pipe is refused
 * as a wrong path (a plain StoreError), never as a damaged database that could be set aside.
 */
function fileSize(file: string): number | null {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new StoreError(`${file} is a folder, not a database file: give the path of a file (for example ${join(file, 'lab.db')})`);
    if (!st.isFile()) throw new StoreError(`${file} is not a regular file (a device, pipe or socket): give the path of a database file`);
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
  if (code === 'SQLITE_NOTADB') return new NotADatabaseError(file, (err as Error).message);
  if (code.startsWith('SQLITE_CORRUPT')) return new DamagedDatabaseError(file, `SQLite reported: ${(err as Error).message}`);
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
 * nothing is deleted. Returns where the damaged file now is. Only a regular file (or a
 * link to one: the link is what moves) that fails the checks of `openDatabase` is ever
 * moved — never a folder, a device, or a sound database.
 */
export function setAsideDamaged(file: string): string {
  const path = resolve(file);
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new StoreError(`${path} is not a regular file, so it was not set aside`);
    probe(path, st.size, Number.MAX_SAFE_INTEGER, true);
  } catch (err) {
    if (err instanceof NotADatabaseError || err instanceof DamagedDatabaseError) return moveAside(path);
    throw wrapPathError(path, err);
  }
  throw new StoreError(`${path} is a sound database, so it was not set aside`);
}

function moveAside(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.damaged-${stamp}`;
  try {
    renameSync(file, aside);
    for (const ext of ['-wal', '-shm']) {
      if (existsSync(file + ext)) renameSync(file + ext, aside + ext);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new StoreError(`could not set ${file} aside: ${PATH_REASONS[e.code ?? ''] ?? e.message}`);
  }
  return aside;
}

/**
 * The bulk tables, left out of the check at open: on a 490 MB file (450 MB of weights,
 * 1M metric points) a quick check of the whole file takes 0.4–0.8 s, of `metrics` alone
 * 0.1–0.17 s, of everything else 2 ms — and it runs before every command. Tensors carry
 * a sha-256 checksum verified on every read, a data set's samples a content hash the
 * trainer checks before it trains on them; damage met in any of them later raises
 * SQLITE_CORRUPT and marks the store damaged (damage.ts).
 */
const BULK_TABLES = ['tensors', 'metrics', 'dataset_chunks'];

/**
 * Quick-checks (b-tree structure, cell bounds, index entries) the schema and every table
 * but the bulk ones: the catalogue of runs, models, adapters and evaluations, where a row
 * lost to damage would otherwise be reported as absent.
 */
function checkIntact(db: Db, file: string, full: boolean): void {
  const tables = db
    .prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rootpage")
    .pluck()
    .all()
    .filter((t) => full || !BULK_TABLES.includes(t));
  for (const table of ['sqlite_schema', ...tables]) {
    let rows: { quick_check: string }[];
    try {
      rows = db.pragma(`quick_check("${table.replace(/"/g, '""')}")`, { simple: false }) as { quick_check: string }[];
    } catch (err) {
      // A page too broken to even walk: the check itself raises SQLITE_CORRUPT.
      if (!String((err as { code?: unknown }).code).startsWith('SQLITE_CORRUPT')) throw err;
      rows = [];
    }
    if (rows.length !== 1 || rows[0]?.quick_check !== 'ok') {
      // The table's name is only shown when it is one of ours (never echo a stranger's text).
      const which = table === 'sqlite_schema' ? 'the schema table' : /^[a-z_]{1,32}$/.test(table) ? `the ${table} table` : 'a table';
      throw new DamagedDatabaseError(file, `${which} failed SQLite's quick check`);
    }
  }
}

/**
 * Checks an existing file without writing to it: the header by plain fs (so SQLite never
 * opens a stranger file), then a read-only connection reads the schema version (a
 * write-ahead log may hold a newer one than the header; a read-write connection could
 * checkpoint a newer version's log into the file on close) and quick-checks the tables.
 * (In WAL mode that connection may leave an empty -wal/-shm beside the file, never a byte in it.)
 */
function probe(file: string, size: number, latest: number, full: boolean): void {
  const fromHeader = readHeader(file, size);
  // Without a log the header is the truth: a newer version's file is refused before SQLite opens it.
  if (fromHeader > latest && (fileSize(`${file}-wal`) ?? 0) === 0) throw new SchemaTooNewError(file, fromHeader, latest);
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const found = userVersion(db);
    if (found > latest) throw new SchemaTooNewError(file, found, latest);
    checkIntact(db, file, full);
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
    try {
      const size = fileSize(path);
      if (size === null && readonly) throw new StoreError(`database ${path} does not exist`);
      if (size === null) makeFolders(dirname(path));
      if (!readonly) checkWritable(path, size !== null);
      if (size !== null && size > 0) probe(path, size, latest, options.fullCheck ?? false);
    } catch (err) {
      throw wrapPathError(path, err);
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
    // Extra sanity checks on each b-tree page as it is read, so damage raises SQLITE_CORRUPT
    // (and the store stops writing) where SQLite would otherwise quietly find no row.
    db.pragma('cell_size_check = ON');
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
