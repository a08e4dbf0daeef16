/**
 * Writing exports safely: every file goes to a temporary name beside its target and is
 * renamed into place only when complete (a folder export is built in a temporary
 * folder and renamed as a whole), so a full disk or a crash never leaves a partial
 * file under the real name. Existing targets are refused unless overwriting is asked,
 * and even then only an earlier LoRA Lab export is replaced (export-folder.ts says
 * what counts as one).
 *
 * A temporary name carries its writer's PID — `.NAME.<pid>-<hex>.partial`, and
 * `.NAME.<pid>-<hex>.replaced` for an old folder export set aside while the new one is
 * moved in — so that what a killed writer left behind can be told from what a live one
 * is still writing: sweepPartials removes only the dead writers' leftovers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LabError } from '../contract/api.ts';
import { alreadyExists, checkFileTarget, checkFolderTarget } from './export-folder.ts';
import { pidAlive } from '../util/pid.ts';

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

export type Progress = (done: number, total: number, what: string) => void;

const CHUNK = 4 * 1024 * 1024;

function writeAll(path: string, data: Uint8Array, onBytes?: (n: number) => void): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    for (let off = 0; off < data.length; off += CHUNK) {
      const end = Math.min(off + CHUNK, data.length);
      let o = off;
      while (o < end) o += writeSync(fd, data, o, end - o);
      onBytes?.(end - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function explain(err: unknown, target: string): never {
  if (err instanceof LabError) throw err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new LabError(`the disk is full: ${target} was not written (nothing partial was left behind)`, 400);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new LabError(`no permission to write ${target}`, 400);
  if (code === 'ENOENT') throw new LabError(`the folder for ${target} does not exist`, 400);
  if (code === 'ENOTDIR') throw new LabError(`${target} cannot be written: part of its path is a file, not a folder`, 400);
  // Something appeared at the target while the export was being written.
  if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EISDIR') throw alreadyExists(target);
  throw err;
}

// ── temporary names and their cleanup ─────────────────────────────────────────

const TEMP = /^\.(.+)\.(\d+)-[0-9a-f]{12}\.(partial|replaced)$/;
/** What versions before the PID was in the name left: no writer to ask, so only old ones go. */
const OLD_PARTIAL = /^\.(.+)\.[0-9a-f]{12}\.partial$/;
const OLD_PARTIAL_AGE_MS = 60 * 60 * 1000;

function tempName(target: string, what: 'partial' | 'replaced'): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(6).toString('hex')}.${what}`);
}

/**
 * Remove a leftover of ours without ever recursing into something unexpected: a file,
 * or a folder of plain files (a subfolder means it is not ours, so it stays).
 */
function removeOurs(path: string): void {
  const st = lstatSync(path);
  if (!st.isDirectory()) return unlinkSync(path);
  for (const e of readdirSync(path, { withFileTypes: true })) if (!e.isDirectory()) unlinkSync(join(path, e.name));
  rmdirSync(path);
}

/**
 * Clean up what killed writers left in `folder` (for `only` that target name, or all).
 * A dead writer's `.partial` is removed; its `.replaced` (an old folder export it had
 * set aside) is put back when nothing took its place, removed otherwise. A live
 * writer's files are never touched. Returns the names removed or restored.
 */
export function sweepPartials(folder: string, only?: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    const old = m ? null : OLD_PARTIAL.exec(name);
    const target = m?.[1] ?? old?.[1];
    if (target === undefined || (only !== undefined && target !== only)) continue;
    const path = join(folder, name);
    try {
      if (m) {
        if (pidAlive(Number(m[2]))) continue;
        if (m[3] === 'replaced') {
          try {
            lstatSync(join(folder, target));
          } catch {
            renameSync(path, join(folder, target)); // killed between the two renames: the old export comes back
            swept.push(name);
            continue;
          }
        }
      } else if (Date.now() - lstatSync(path).mtimeMs < OLD_PARTIAL_AGE_MS) continue;
      removeOurs(path);
      swept.push(name);
    } catch {
      /* cleaning up is best effort: an entry that cannot go now goes next time */
    }
  }
  return swept;
}

// ── writing ───────────────────────────────────────────────────────────────────

/** Put the complete `tmp` file in place: never over anything unless it passed the replace rules. */
function commitFile(tmp: string, target: string, data: Uint8Array, overwrite: boolean): void {
  if (checkFileTarget(target, data, overwrite)) return renameSync(tmp, target);
  try {
    linkSync(tmp, target); // fails if anything appeared at the target meanwhile
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    return renameSync(tmp, target); // a file system without hard links
  }
  unlinkSync(tmp);
}

/** Write one file atomically. */
export function writeFileAtomic(target: string, data: Uint8Array, opts: { overwrite?: boolean; progress?: Progress } = {}): WrittenFile {
  const overwrite = opts.overwrite ?? false;
  sweepPartials(dirname(target), basename(target));
  try {
    checkFileTarget(target, data, overwrite); // before spending the time to write
  } catch (err) {
    explain(err, target);
  }
  const tmp = tempName(target, 'partial');
  let done = 0;
  try {
    writeAll(tmp, data, (n) => opts.progress?.((done += n), data.length, basename(target)));
    commitFile(tmp, target, data, overwrite); // checked again: it may have changed meanwhile
  } catch (err) {
    rmSync(tmp, { force: true });
    explain(err, target);
  }
  return { path: target, bytes: data.length, sha256: sha256(data) };
}

/**
 * Put the complete `tmp` folder in place. An earlier export is renamed aside, checked
 * again (it cannot change under us there), the new one renamed in, and the old one
 * removed file by file; a kill between the two renames leaves the old one aside, and
 * the next sweep puts it back.
 */
function commitFolder(tmp: string, target: string, files: Record<string, Uint8Array>, overwrite: boolean): void {
  if (!checkFolderTarget(target, files, overwrite)) return renameSync(tmp, target);
  const aside = tempName(target, 'replaced');
  renameSync(target, aside);
  try {
    checkFolderTarget(aside, files, true);
  } catch (err) {
    renameSync(aside, target);
    throw err;
  }
  try {
    renameSync(tmp, target);
  } catch (err) {
    try {
      renameSync(aside, target);
    } catch {
      /* something took the name meanwhile; the old export stays aside for the sweep */
    }
    throw err;
  }
  try {
    removeOurs(aside);
  } catch {
    /* the new export is in place; what is left aside goes at the next start's sweep */
  }
}

/** Write a folder of files atomically (the folder appears complete or not at all). */
export function writeFolderAtomic(target: string, files: Record<string, Uint8Array>, opts: { overwrite?: boolean; progress?: Progress } = {}): WrittenFile[] {
  const overwrite = opts.overwrite ?? false;
  sweepPartials(dirname(target), basename(target));
  try {
    checkFolderTarget(target, files, overwrite);
  } catch (err) {
    explain(err, target);
  }
  const tmp = tempName(target, 'partial');
  const total = Object.values(files).reduce((s, d) => s + d.length, 0);
  let done = 0;
  const written: WrittenFile[] = [];
  try {
    mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) {
      writeAll(join(tmp, name), data, (n) => opts.progress?.((done += n), total, name));
      written.push({ path: join(target, name), bytes: data.length, sha256: sha256(data) });
    }
    commitFolder(tmp, target, files, overwrite);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    explain(err, target);
  }
  return written;
}
