/**
 * The one line the CLI prints for a failure that is not a usage or run error: a damaged
 * database (with the way out), any other SQLite error, or a file-system error. Only a
 * bug of ours is left to print its stack.
 */
import { LabError } from '../contract/api.ts';
import { labError } from '../lab/checks.ts';
import { isCorruption } from '../store/damage.ts';
import { DamagedDatabaseError } from '../store/errors.ts';
import { RESET_HINT } from './session.ts';

/** The damaged-database error behind `err` (the Lab keeps it as the cause), if any. */
function damaged(err: unknown): DamagedDatabaseError | null {
  if (err instanceof DamagedDatabaseError) return err;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return err instanceof LabError && cause instanceof DamagedDatabaseError ? cause : null;
}

export function failureLine(err: unknown): string | null {
  const d = damaged(err);
  if (d) return `${d.message}; ${RESET_HINT}`;
  if (isCorruption(err)) return `the database is damaged (SQLite reported: ${(err as Error).message}), so nothing was written; ${RESET_HINT}`;
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown } | null;
  if (typeof e?.code !== 'string' || typeof e.message !== 'string') return null;
  if (e.code.startsWith('SQLITE_')) {
    const translated = labError(err);
    return translated instanceof LabError ? translated.message : `the database reported an error (${e.code}): ${e.message}`;
  }
  // A file-system error (Node's message names the call and the path).
  if (typeof e.syscall === 'string') return e.message;
  return null;
}
