/**
 * The database's path as a person typed it: missing folders made, and the errno codes a
 * mistyped or hostile path gives (a file used as a folder, a link loop, a name too long)
 * put in one sentence naming the path.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from './errors.ts';

/**
 * Creates the missing folders above the file one level at a time. (Node's recursive
 * mkdir spins forever on some paths, e.g. under /proc/self; a plain mkdir fails with a
 * code we can put in words.)
 */
export function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Another process made it meanwhile: fine.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw err;
    }
  }
}

/** Why a path cannot be used, for the errno codes a mistyped or hostile path gives. */
export const PATH_REASONS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'the path goes through a loop of symbolic links',
  EISDIR: 'it is a folder, not a file',
  ENOENT: 'a folder on the path cannot be created there',
  EACCES: 'permission denied (check the permissions of the file and the folders above it)',
  EPERM: 'permission denied (check the permissions of the file and the folders above it)',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EIO: 'the disk reported an input/output error',
  EEXIST: 'a part of the path exists and is not a folder',
};

/** A path shown in a message: a very long one is shortened, so the sentence stays readable. */
function shown(path: string): string {
  return path.length <= 240 ? path : `${path.slice(0, 120)}…${path.slice(-60)} (${path.length} characters)`;
}

/** File-system errors while finding or creating the file, as one sentence naming the path. */
export function wrapPathError(file: string, err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string' || !e.syscall) return err;
  return new StoreError(`cannot use ${shown(file)} as the database: ${PATH_REASONS[e.code] ?? `${e.code} from ${e.syscall}`}`);
}
