/**
 * Forward-only schema migrations: `migrations/NNNN_purpose.sql`, numbered 1, 2, 3 …
 * with no gaps. Pending ones run in one transaction together with `PRAGMA
 * user_version`, so a crash mid-upgrade leaves the old schema, never half a new one.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigrationError, SchemaTooNewError } from './errors.ts';

export interface Migration {
  version: number;
  /** The file name, e.g. `0001_initial.sql`. */
  name: string;
  sql: string;
}

export interface MigrateResult {
  from: number;
  to: number;
  /** File names applied by this call (empty: the schema was already current). */
  applied: string[];
}

const FILE_RE = /^(\d{4})_([a-z0-9][a-z0-9_-]*)\.sql$/;

function hasMigrations(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).some((f) => FILE_RE.test(f));
  } catch {
    return false;
  }
}

/**
 * This module's file. In a CommonJS bundle (Electron's main.cjs) esbuild leaves
 * import.meta empty, and __dirname is the bundle's folder: a file name is appended
 * because migrationsDir starts from the folder the file is in.
 */
function thisModule(): string {
  const url = (import.meta as { url?: string }).url;
  return url ?? join(__dirname, 'bundle.cjs');
}

/**
 * The `migrations/` folder, found by walking up from this module: from the sources it
 * is `src-main/store/../../migrations`, from a bundled `dist/cli.js` it is
 * `dist/../migrations`; walking up covers both without knowing which one we are.
 */
export function migrationsDir(from: string = thisModule()): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    const candidate = join(dir, 'migrations');
    if (hasMigrations(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new MigrationError(`no migrations/ folder with NNNN_name.sql files above ${from}`);
    dir = parent;
  }
}

/** Reads and checks the folder: numbers 1..N, each once, names `NNNN_purpose.sql`. */
export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  if (!existsSync(dir)) throw new MigrationError(`migrations folder ${dir} does not exist`);
  const found: Migration[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.sql')) continue; // a README beside the migrations is fine
    const m = FILE_RE.exec(name);
    if (!m) throw new MigrationError(`migrations folder ${dir}: ${name} is not named NNNN_purpose.sql`);
    found.push({ version: Number(m[1]), name, sql: readFileSync(join(dir, name), 'utf8') });
  }
  found.sort((a, b) => a.version - b.version || a.name.localeCompare(b.name));
  if (found.length === 0) throw new MigrationError(`migrations folder ${dir} has no NNNN_purpose.sql files`);
  for (let i = 0; i < found.length; i++) {
    const m = found[i] as Migration;
    const prev = found[i - 1];
    if (prev && prev.version === m.version) {
      throw new MigrationError(`migrations folder ${dir}: ${prev.name} and ${m.name} share number ${m.version}`);
    }
    if (m.version !== i + 1) {
      const after = prev ? `after ${prev.name}` : 'as the first migration';
      throw new MigrationError(`migrations folder ${dir}: ${m.name} comes ${after}, but number ${i + 1} is missing`);
    }
  }
  return found;
}

export function userVersion(db: BetterSqlite3.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the newest schema. Refuses (before writing anything) a database
 * whose user_version is newer than the newest migration.
 */
export function migrate(db: BetterSqlite3.Database, dir: string = migrationsDir()): MigrateResult {
  const migrations = loadMigrations(dir);
  const latest = migrations.length;
  const from = userVersion(db);
  if (from > latest) throw new SchemaTooNewError(db.name, from, latest);
  if (from === latest) return { from, to: from, applied: [] };

  // A migration may rebuild a table others reference (SQLite cannot change a CHECK in
  // place): SQLite's procedure turns foreign keys off around the transaction (the
  // pragma is a no-op inside one) so dropping the old table fires no ON DELETE action,
  // and checks every reference before committing.
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  // IMMEDIATE takes the write lock first, so two processes opening a fresh file at
  // once cannot both apply 0001; the loser re-reads the version and finds it done.
  const apply = db.transaction((): MigrateResult => {
    const current = userVersion(db);
    if (current > latest) throw new SchemaTooNewError(db.name, current, latest);
    const pending = migrations.slice(current);
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`);
      }
    }
    const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
    if (broken.length > 0) {
      const first = broken[0] as { table: string; parent: string };
      throw new MigrationError(`migrations left ${broken.length} broken reference(s), the first from ${first.table} to ${first.parent}; nothing was changed`);
    }
    // user_version lives in the file header, which is part of this transaction.
    db.pragma(`user_version = ${latest}`);
    return { from: current, to: latest, applied: pending.map((m) => m.name) };
  });
  try {
    return apply.immediate();
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}
