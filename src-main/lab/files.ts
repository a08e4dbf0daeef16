/**
 * Writing exports safely: every file goes to a temporary name beside its target and is
 * renamed into place only when complete (a folder export is built in a temporary
 * folder and renamed as a whole), so a full disk or a crash never leaves a partial
 * file under the real name. Existing targets are refused unless overwriting is asked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LabError } from './api.ts';

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

function refuseExisting(target: string, overwrite: boolean): void {
  if (existsSync(target) && !overwrite) throw new LabError(`${target} already exists; choose another name or allow overwriting`, 409);
}

function explain(err: unknown, target: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new LabError(`the disk is full: ${target} was not written (nothing partial was left behind)`, 400);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new LabError(`no permission to write ${target}`, 400);
  if (code === 'ENOENT') throw new LabError(`the folder for ${target} does not exist`, 400);
  throw err;
}

/** Write one file atomically. */
export function writeFileAtomic(target: string, data: Uint8Array, opts: { overwrite?: boolean; progress?: Progress } = {}): WrittenFile {
  refuseExisting(target, opts.overwrite ?? false);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  let done = 0;
  try {
    writeAll(tmp, data, (n) => opts.progress?.((done += n), data.length, basename(target)));
    if (opts.overwrite && existsSync(target) && statSync(target).isDirectory()) rmSync(target, { recursive: true });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    explain(err, target);
  }
  return { path: target, bytes: data.length, sha256: sha256(data) };
}

/** Write a folder of files atomically (the folder appears complete or not at all). */
export function writeFolderAtomic(target: string, files: Record<string, Uint8Array>, opts: { overwrite?: boolean; progress?: Progress } = {}): WrittenFile[] {
  refuseExisting(target, opts.overwrite ?? false);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const total = Object.values(files).reduce((s, d) => s + d.length, 0);
  let done = 0;
  const written: WrittenFile[] = [];
  try {
    mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) {
      writeAll(join(tmp, name), data, (n) => opts.progress?.((done += n), total, name));
      written.push({ path: join(target, name), bytes: data.length, sha256: sha256(data) });
    }
    if (existsSync(target)) rmSync(target, { recursive: true });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    explain(err, target);
  }
  return written;
}
