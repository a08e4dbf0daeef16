/**
 * Reading a weights or config file whose size nobody vouches for. The size is taken
 * from the open descriptor (fstat) and checked before one byte is read, so a 2 GiB
 * sparse file or a 600 MB "config" costs nothing; then exactly that many bytes are
 * read into a buffer of their own (transferable to another thread). Opened
 * non-blocking so a FIFO put in a file's place cannot hang the reader.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class WeightsFileError extends Error {
  override name = 'WeightsFileError';
  constructor(
    message: string,
    /** The file (or folder) does not exist. */
    readonly notFound = false,
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'does not exist (a part of the path is not a folder)',
  EACCES: 'cannot be read (permission denied)',
  EPERM: 'cannot be read (permission denied)',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'is a symbolic link loop',
  ENAMETOOLONG: 'has a name that is too long',
};

/** A file-system error as one sentence about `path` (never the error's own text). */
export function fileProblem(path: string, err: unknown): WeightsFileError {
  if (err instanceof WeightsFileError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
  const notFound = code === 'ENOENT' || code === 'ENOTDIR';
  return new WeightsFileError(`${path} ${REASONS[code] ?? `cannot be read (${code})`}`, notFound);
}

/** 1,900.5 MB, or 16 bytes. */
export const sizeText = (n: number) => (n >= 1e6 ? `${(n / 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 })} MB` : `${n} bytes`);

/** The whole of `path`, refused before reading when it is not a regular file or is over `maxBytes`. */
export function readFileBounded(path: string, maxBytes: number, what: string, noFollow = false): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (noFollow ? (constants.O_NOFOLLOW ?? 0) : 0));
  } catch (err) {
    // O_NOFOLLOW refuses a link at the last component with ELOOP.
    if (noFollow && (err as NodeJS.ErrnoException).code === 'ELOOP') throw new WeightsFileError(`${path} is a symbolic link, which is not followed here`);
    throw fileProblem(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WeightsFileError(`${path} is not a regular file`);
    if (st.size > maxBytes) throw new WeightsFileError(`${path} is ${sizeText(st.size)}, more than the ${sizeText(maxBytes)} ${what} may be`);
    const out = new Uint8Array(st.size);
    let at = 0;
    // A file that shrinks while read yields what is there; the format checks refuse it.
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) return out.subarray(0, at);
      at += n;
    }
    return out;
  } catch (err) {
    throw fileProblem(path, err);
  } finally {
    closeSync(fd);
  }
}
