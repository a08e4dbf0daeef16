/**
 * What an export may replace and what an import may read.
 *
 * Replacing ("overwrite", `--force`) is only ever for an earlier LoRA Lab export:
 * - a one-file export (safetensors, CSV, JSON) replaces a regular file — never a link,
 *   a folder, a device or a pipe — and only one that looks like the format being
 *   written (the first bytes are sniffed), so `--force --out thesis.docx` or a
 *   safetensors export onto a CSV is refused instead of destroying something else;
 * - a folder export (PEFT, TF.js) replaces a real folder holding nothing but the files
 *   LoRA Lab writes for that format (each a regular file of the right kind). No
 *   subfolders, no other files: PEFT's own README.md, say, would be lost, so a folder
 *   Python wrote is refused too.
 * Everything else is refused with the reason and what to do, with or without
 * overwriting allowed (status 400, not 409: 409 means "replace it?" to the app).
 *
 * Imports through the API read only what is stored in the export folder itself:
 * symbolic links (to a file or a folder, inside or outside) are refused rather than
 * resolved, and so are pipes and devices (reading a pipe would hang the server).
 * Messages name files, never their content.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { LabError } from '../contract/api.ts';

/** What a file's first bytes say it is. */
type Kind = 'safetensors' | 'JSON' | 'CSV' | 'binary';

const HEAD = 64 * 1024;

/** Sniff the kind from the first bytes (and the whole size, which a safetensors header must fit in). */
export function kindOf(head: Uint8Array, size: number): Kind {
  if (head.length >= 10 && head[8] === 0x7b) {
    const n = Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0);
    if (n >= 2n && 8n + n <= BigInt(size)) return 'safetensors';
  }
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
  if (head[i] === 0x7b || head[i] === 0x5b) return 'JSON';
  if (!head.includes(0)) {
    const eol = head.indexOf(0x0a);
    if (head.subarray(0, eol < 0 ? head.length : eol).includes(0x2c)) return 'CSV';
  }
  return 'binary';
}

const sniff = (data: Uint8Array) => kindOf(data.subarray(0, HEAD), data.length);

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * How a LoRA Lab export of this kind begins, when its kind has a fixed beginning: a JSON
 * export up to its first key (`{"runs":`, a model.json's first field …), a CSV up to its
 * first header cell, a model's safetensors header naming its lineage. An existing file
 * must begin the same way to be replaced, so `--force` onto someone's package.json or
 * spreadsheet is refused although it is JSON or CSV too.
 */
function signature(data: Uint8Array, kind: Kind): Uint8Array | null {
  const upTo = (byte: number) => {
    const at = data.subarray(0, 256).indexOf(byte);
    return at > 0 ? data.subarray(0, at + 1) : null;
  };
  if (kind === 'JSON') return upTo(0x3a); // ':'
  if (kind === 'CSV') return upTo(0x2c); // ','
  return null;
}

const LINEAGE = Buffer.from('"lineage":');

function beginsLike(head: Uint8Array, data: Uint8Array, kind: Kind): boolean {
  const sig = signature(data, kind);
  if (sig && !Buffer.from(head.buffer, head.byteOffset, head.length).subarray(0, sig.length).equals(sig)) return false;
  // A model export's safetensors header carries its lineage; a stranger's does not.
  if (kind === 'safetensors' && Buffer.from(data.subarray(0, HEAD)).includes(LINEAGE)) return Buffer.from(head).includes(LINEAGE);
  return true;
}

/** The kind and first bytes of an existing regular file, read without following a link and without blocking on a pipe. */
function existingFile(path: string): { kind: Kind; head: Uint8Array } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const head = Buffer.alloc(Math.min(HEAD, st.size));
    let got = 0;
    while (got < head.length) {
      const n = readSync(fd, head, got, head.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { kind: kindOf(head.subarray(0, got), st.size), head: head.subarray(0, got) };
  } finally {
    closeSync(fd);
  }
}

function notAFile(st: Stats): string | null {
  if (st.isSymbolicLink()) return 'is a symbolic link, and LoRA Lab neither replaces links nor writes through them';
  if (st.isDirectory()) return 'is a folder, and this export is one file';
  if (!st.isFile()) return 'is not a regular file (a device, pipe or socket)';
  return null;
}

/**
 * Why the existing `path` is not an earlier one-file export of `data`'s kind, or null
 * when it is. Raw bytes (TF.js's weights.bin) have no kind to sniff: a random float32
 * file can start like JSON, so any regular file of that name is taken as ours.
 */
function fileProblem(path: string, st: Stats, data: Uint8Array, raw = false): string | null {
  const odd = notAFile(st);
  if (odd) return odd;
  if (raw) return null;
  const want = sniff(data);
  const have = existingFile(path);
  if (have?.kind !== want) return `does not look like a ${want} file LoRA Lab wrote${have ? ` (it reads as ${have.kind})` : ''}`;
  if (!beginsLike(have.head, data, want)) return `is a ${want} file, but not one LoRA Lab wrote (it does not begin as this export does)`;
  return null;
}

/** Why the existing folder is not an earlier export of exactly these files, or null when it is. */
function folderProblem(path: string, st: Stats, files: Record<string, Uint8Array>): string | null {
  if (st.isSymbolicLink()) return 'is a symbolic link, and LoRA Lab neither replaces links nor writes through them';
  if (!st.isDirectory()) return `is ${st.isFile() ? 'a file' : 'not a regular folder'}, and this export is a folder`;
  const names = Object.keys(files).join(' and ');
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const data = Object.hasOwn(files, entry.name) ? files[entry.name] : undefined;
    if (!data) return `holds ${JSON.stringify(entry.name)}, which LoRA Lab does not write there (an export of this format holds only ${names})`;
    const problem = fileProblem(join(path, entry.name), lstatSync(join(path, entry.name)), data, entry.name.endsWith('.bin'));
    if (problem) return `holds ${entry.name}, which ${problem}`;
  }
  return null;
}

function refusal(target: string, problem: string, overwrite: boolean): LabError {
  return new LabError(`${target} ${problem}, so LoRA Lab will not replace it${overwrite ? ' even when overwriting is allowed' : ''}: choose another name, or move it away yourself`, 400);
}

/**
 * Whether an export may go to `target`: true when something replaceable is there
 * (overwriting must then be allowed), false when nothing is; throws otherwise.
 */
function checkTarget(target: string, overwrite: boolean, problemOf: (st: Stats) => string | null): boolean {
  const st = lstatOrNull(target);
  if (!st) return false;
  const problem = problemOf(st);
  if (problem) throw refusal(target, problem, overwrite);
  if (!overwrite) throw alreadyExists(target);
  return true;
}

/** For a one-file export of `data`. */
export const checkFileTarget = (target: string, data: Uint8Array, overwrite: boolean): boolean =>
  checkTarget(target, overwrite, (st) => fileProblem(target, st, data));

/** For a folder export of `files`. */
export const checkFolderTarget = (target: string, files: Record<string, Uint8Array>, overwrite: boolean): boolean =>
  checkTarget(target, overwrite, (st) => folderProblem(target, st, files));

export const alreadyExists = (target: string) => new LabError(`${target} already exists; choose another name or allow overwriting`, 409);

/**
 * Refuse to import `name` from the export folder unless it and the files an import
 * reads through it are stored there (no links, pipes or devices). `reads` are the
 * files inside a folder entry (or beside a file entry) that the importer opens.
 */
export function checkImportEntry(folder: string, name: string, kind: 'model' | 'adapter', reads: readonly string[]): void {
  const path = join(folder, name);
  const st = lstatOrNull(path);
  if (!st) throw new LabError(`${name} is not in the export folder ${folder}`, 404);
  const linkOrOdd = (what: string, s: Stats) => {
    if (s.isSymbolicLink()) throw new LabError(`${what} in the export folder is a symbolic link; LoRA Lab imports only files stored in the export folder itself (copy the file there)`);
    if (!s.isFile() && !s.isDirectory()) throw new LabError(`${what} in the export folder is not a regular file or folder (a device, pipe or socket)`);
  };
  linkOrOdd(name, st);
  if (kind === 'model' && !st.isFile()) throw new LabError(`${name} is a folder; a model is imported from a .safetensors file`);
  if (kind === 'model') return;
  const dir = st.isDirectory() ? path : folder;
  const shown = st.isDirectory() ? (f: string) => `${name}/${f}` : (f: string) => f;
  for (const f of reads) {
    const inner = lstatOrNull(join(dir, f));
    if (!inner) continue; // the importer says which file is missing
    linkOrOdd(shown(f), inner);
    if (!inner.isFile()) throw new LabError(`${shown(f)} in the export folder is a folder, not a file`);
  }
}

/**
 * An import through the transports reads only what is in the export folder: the entry
 * and everything below it must be real files and folders, not links that could point
 * anywhere (the CLI, the local user, may import any path).
 */
export function refuseLinks(path: string, shown: string): void {
  if (lstatSync(path).isSymbolicLink()) throw new LabError(`${shown} is a link; put the data itself in the export folder`);
  if (!lstatSync(path).isDirectory()) return;
  for (const e of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (e.isSymbolicLink()) throw new LabError(`${shown}: ${relative(path, join(e.parentPath ?? e.path, e.name))} is a link; put the data itself in the export folder`);
  }
}
