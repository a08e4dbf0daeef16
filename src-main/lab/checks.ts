/**
 * The Lab service's checks at its edge: names, tags and notes people type, default run
 * names, and the translation of store, config and SQLite errors into LabErrors with the
 * status a transport should answer.
 */
import { isCorruption } from '../store/damage.ts';
import { DamagedDatabaseError, DependencyError, NotFoundError, StoreError, TransitionError } from '../store/errors.ts';
import { ConfigError } from '../contract/config.ts';
import { LabError } from '../contract/api.ts';
import { MAX_NAME } from './run-name.ts';

/** Shared with the renderer's New run form (a pure module). */
export { defaultName } from './run-name.ts';

const MAX_NOTES = 100_000;
const MAX_TAGS = 50;
// Names and tags are one line of plain text; notes may also hold line breaks and tabs.
// NUL, ESC and the other controls are refused: they hide text, break exports that use the
// name, and would drive a terminal that prints them (the CLI escapes them too, for rows
// written before this check or by another program).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_IN_NOTES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new LabError('a run needs a name');
  if (name.length > MAX_NAME) throw new LabError(`a run name is at most ${MAX_NAME} characters`);
  const trimmed = name.trim(); // a pasted trailing line break is not refused, only dropped
  if (CONTROL.test(trimmed)) throw new LabError('a name cannot contain control characters (line breaks, tabs, NUL or escape codes)');
  return trimmed;
}

export function checkTags(tags: unknown): string[] {
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new LabError('tags must be a list of strings');
  const clean = [...new Set((tags as string[]).map((t) => t.trim()).filter(Boolean))];
  if (clean.length > MAX_TAGS) throw new LabError(`at most ${MAX_TAGS} tags`);
  if (clean.some((t) => t.length > 64)) throw new LabError('a tag is at most 64 characters');
  if (clean.some((t) => CONTROL.test(t))) throw new LabError('a tag cannot contain control characters (line breaks, tabs, NUL or escape codes)');
  return clean;
}

export function checkNotes(notes: unknown): string {
  if (typeof notes !== 'string') throw new LabError('notes must be text');
  if (notes.length > MAX_NOTES) throw new LabError(`notes are at most ${MAX_NOTES} characters`);
  if (CONTROL_IN_NOTES.test(notes)) throw new LabError('notes cannot contain control characters other than line breaks and tabs (NUL or escape codes)');
  return notes;
}

/** Store and config errors become LabErrors with the right status; anything else propagates. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw labError(err);
  }
}

export async function guardAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw labError(err);
  }
}

/** The way out of a damaged database, for the app and the browser (the CLI says --reset-db). */
const FRESH_START = 'restart LoRA Lab to be offered a fresh database, with the damaged file kept aside (web mode: lora-lab serve --reset-db)';

/**
 * The LabError a transport shows for `err`, or `err` itself when it is not ours to
 * translate. A damaged database is 503: nothing can be served from it until it is
 * replaced. The original error stays as `cause` (the CLI words the way out itself).
 */
export function labError(err: unknown): unknown {
  if (err instanceof LabError) return err;
  if (err instanceof DamagedDatabaseError) return Object.assign(new LabError(`${err.message}; ${FRESH_START}`, 503), { cause: err });
  if (isCorruption(err)) return Object.assign(new LabError(`the database is damaged (SQLite reported: ${(err as Error).message}), so nothing was written; ${FRESH_START}`, 503), { cause: err });
  if (err instanceof ConfigError) return new LabError(err.message, 400);
  if (err instanceof NotFoundError) return new LabError(err.message, 404);
  if (err instanceof DependencyError || err instanceof TransitionError) return new LabError(err.message, 409);
  if (err instanceof StoreError) return new LabError(err.message, 400);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new LabError('the database is locked by another program; try again in a moment', 503);
    if (code === 'SQLITE_FULL') return new LabError('the disk is full: nothing was written; free some space and try again', 507);
    if (code.startsWith('SQLITE_READONLY')) return new LabError('the database has become read-only; nothing was written', 503);
  }
  return err;
}
