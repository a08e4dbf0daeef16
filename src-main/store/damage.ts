/**
 * Damage met while the database is in use. The quick check at open cannot see
 * everything (it skips the tensor BLOBs, and a disk can fail later), so every statement
 * of the store's connection passes through here: the first SQLITE_CORRUPT or
 * SQLITE_NOTADB marks the store damaged, switches the connection to `query_only` so no
 * later write can land, and from then on every statement is refused with the same
 * DamagedDatabaseError — a row missing because of the damage is never reported as absent.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from './database.ts';
import { DamagedDatabaseError } from './errors.ts';

/** SQLite's words for "this file is damaged" (extended codes included). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

const EXECUTE = new Set<PropertyKey>(['run', 'get', 'all', 'iterate']);

export class DamageWatch {
  #damaged: DamagedDatabaseError | null = null;
  readonly #db: Db;
  readonly #pragma: Db['pragma'];

  /** Wraps `db`'s prepare, exec, pragma and transaction; call before preparing anything. */
  constructor(db: Db) {
    this.#db = db;
    this.#pragma = db.pragma.bind(db);
    const prepare = db.prepare.bind(db);
    const exec = db.exec.bind(db);
    const transaction = db.transaction.bind(db);
    db.prepare = ((source: string) => this.#statement(this.#guard(() => prepare(source)))) as Db['prepare'];
    db.exec = ((source: string) => {
      this.#refuse();
      this.#guard(() => exec(source));
      return db;
    }) as Db['exec'];
    // Pragmas stay usable after damage (reading query_only, an integrity check); errors are still seen.
    db.pragma = ((source: string, options?: BetterSqlite3.PragmaOptions) => this.#guard(() => this.#pragma(source, options))) as Db['pragma'];
    db.transaction = ((fn: (...args: unknown[]) => unknown) => {
      const tx = transaction(fn);
      const wrap = (run: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
        this.#refuse();
        return this.#guard(() => run(...args));
      };
      return Object.assign(wrap(tx), { default: wrap(tx.default), deferred: wrap(tx.deferred), immediate: wrap(tx.immediate), exclusive: wrap(tx.exclusive) });
    }) as Db['transaction'];
  }

  /** The damage found so far, or null while the file looks sound. */
  get damaged(): DamagedDatabaseError | null {
    return this.#damaged;
  }

  #refuse(): void {
    if (this.#damaged) throw this.#damaged;
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.#seen(err);
    }
  }

  /** Any error from SQLite passes here: corruption marks the store damaged, once. */
  #seen(err: unknown): unknown {
    if (!isCorruption(err)) return err;
    if (!this.#damaged) {
      this.#damaged = new DamagedDatabaseError(this.#db.name, `SQLite reported: ${(err as Error).message}`, 'use');
      try {
        this.#pragma('query_only = ON');
      } catch {
        /* every statement is refused above anyway */
      }
    }
    return this.#damaged;
  }

  /** The statement, with run/get/all/iterate refused after damage and their errors seen. */
  #statement<S extends object>(stmt: S): S {
    // One wrapper per method and statement, made on first use: statements are prepared
    // once and run often (metric batches), so nothing is allocated per call but the call.
    const wrapped = new Map<PropertyKey, (...args: unknown[]) => unknown>();
    const proxy: S = new Proxy(stmt, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        let fn = wrapped.get(prop);
        if (!fn) {
          const method = value as (...a: unknown[]) => unknown;
          fn = (...args: unknown[]) => {
            if (EXECUTE.has(prop)) this.#refuse();
            let result: unknown;
            try {
              result = method.apply(target, args);
            } catch (err) {
              throw this.#seen(err);
            }
            // pluck(), raw(), bind() … return the statement itself: keep the guarded one.
            if (result === target) return proxy;
            if (prop === 'iterate') return this.#rows(result as Iterable<unknown>);
            return result;
          };
          wrapped.set(prop, fn);
        }
        return fn;
      },
    });
    return proxy;
  }

  *#rows(rows: Iterable<unknown>): IterableIterator<unknown> {
    try {
      yield* rows;
    } catch (err) {
      throw this.#seen(err);
    }
  }
}
