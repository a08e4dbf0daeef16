/**
 * Read a file whose first bytes say how long it is (an IDX header), gunzipping a `.gz`
 * on the way. The output buffer is allocated once, at the size the header claims, and the
 * stream is stopped the moment the data runs past it: a gzip bomb is refused after at most
 * one zlib chunk more than it claimed, never expanded into memory.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DataImportError, checkAborted, shortError } from './errors.ts';
import { MAX_GUNZIP_BYTES, formatBytes } from './limits.ts';

/** What the first bytes of a file claim: the header's length and the data's after it. */
export interface SizedLayout {
  headerBytes: number;
  bodyBytes: number;
}

/**
 * Decide the layout from a prefix of the file, or return null to be given more bytes.
 * It throws DataImportError for a prefix that is wrong (bad magic, sizes past a limit).
 */
export type LayoutFn = (prefix: Uint8Array) => SizedLayout | null;

export interface SizedFile {
  header: Uint8Array;
  /** Exactly `bodyBytes` long, its own buffer (byteOffset 0). */
  body: Uint8Array;
}

export interface ReadSizedOptions {
  signal?: AbortSignal | undefined;
  /** Called with the bytes of body read so far, and the body's length. */
  onBytes?: ((done: number, total: number) => void) | undefined;
}

const PREFIX_MAX = 1024;
const GZ_CHUNK = 256 * 1024;

export function isGzipName(file: string): boolean {
  return /\.gz$/i.test(file);
}

/** `file` is opened; `label` is how messages name it. */
export async function readSized(file: string, label: string, layout: LayoutFn, opts: ReadSizedOptions = {}): Promise<SizedFile> {
  checkAborted(opts.signal);
  return isGzipName(file) ? readGzip(file, label, layout, opts) : readPlain(file, label, layout, opts);
}

function cannotRead(label: string, err: unknown): DataImportError {
  return new DataImportError(`${label}: cannot read (${(err as NodeJS.ErrnoException).code ?? shortError(err)})`);
}

function checkTotal(label: string, l: SizedLayout): void {
  if (l.headerBytes + l.bodyBytes > MAX_GUNZIP_BYTES) {
    throw new DataImportError(`${label}: the header claims ${formatBytes(l.headerBytes + l.bodyBytes)}, more than the ${formatBytes(MAX_GUNZIP_BYTES)} a file may hold`);
  }
}

async function readPlain(file: string, label: string, layout: LayoutFn, opts: ReadSizedOptions): Promise<SizedFile> {
  let size: number;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    size = (await stat(file)).size;
    fh = await open(file, 'r');
  } catch (err) {
    throw cannotRead(label, err);
  }
  try {
    const prefix = new Uint8Array(Math.min(PREFIX_MAX, size));
    await fh.read(prefix, 0, prefix.length, 0);
    const l = layout(prefix);
    if (!l) throw new DataImportError(`${label}: too short to hold a header (${size} bytes)`);
    checkTotal(label, l);
    const have = size - l.headerBytes;
    if (have !== l.bodyBytes) {
      throw new DataImportError(
        `${label}: the header claims ${l.bodyBytes} bytes of data, the file has ${have}` + (have < l.bodyBytes ? ' (truncated)' : ' (trailing bytes)'),
      );
    }
    const header = prefix.slice(0, l.headerBytes);
    const body = new Uint8Array(l.bodyBytes);
    const step = 4 * 1024 * 1024;
    for (let done = 0; done < body.length; ) {
      checkAborted(opts.signal);
      const { bytesRead } = await fh.read(body, done, Math.min(step, body.length - done), l.headerBytes + done);
      if (bytesRead === 0) throw new DataImportError(`${label}: ended early (changed while being read?)`);
      done += bytesRead;
      opts.onBytes?.(done, body.length);
    }
    return { header, body };
  } finally {
    await fh.close();
  }
}

async function readGzip(file: string, label: string, layout: LayoutFn, opts: ReadSizedOptions): Promise<SizedFile> {
  let prefix = new Uint8Array(0);
  let l: SizedLayout | null = null;
  let header: Uint8Array | null = null;
  let body: Uint8Array | null = null;
  let done = 0;
  // consume's own refusal (pipeline reports it as an abort). Only ours: a zlib error can
  // reach consume too, through its iterator, when the stream fails while consume awaits
  // the next chunk — that one must be worded below like any other bad gzip.
  let refused: DataImportError | null = null;
  const consume = async (source: AsyncIterable<Buffer>) => {
    try {
      await take(source);
    } catch (err) {
      if (err instanceof DataImportError) refused = err;
      throw err;
    }
  };
  const take = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      checkAborted(opts.signal);
      let data: Uint8Array = chunk;
      if (!l) {
        const joined = new Uint8Array(prefix.length + Math.min(data.length, PREFIX_MAX));
        joined.set(prefix);
        joined.set(data.subarray(0, PREFIX_MAX), prefix.length);
        l = layout(joined);
        if (!l) {
          if (joined.length >= PREFIX_MAX) throw new DataImportError(`${label}: no header in the first ${PREFIX_MAX} bytes`);
          prefix = joined;
          continue;
        }
        checkTotal(label, l);
        header = joined.slice(0, l.headerBytes);
        body = new Uint8Array(l.bodyBytes);
        data = data.subarray(l.headerBytes - prefix.length);
      }
      const b = body as Uint8Array;
      if (done + data.length > b.length) {
        throw new DataImportError(
          `${label}: decompresses to more than the ${formatBytes(l.headerBytes + l.bodyBytes)} its header claims; refused (a gzip bomb or a header that lies)`,
        );
      }
      b.set(data, done);
      done += data.length;
      opts.onBytes?.(done, b.length);
    }
  };
  try {
    await pipeline(createReadStream(file), createGunzip({ chunkSize: GZ_CHUNK }), consume);
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (refused !== null) throw refused;
    if (err instanceof DataImportError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw cannotRead(label, err);
    throw new DataImportError(`${label}: not a valid gzip file (${shortError(err)})`);
  }
  if (!l || !header || !body) throw new DataImportError(`${label}: too short to hold a header (${prefix.length} bytes after gunzip)`);
  const lay = l as SizedLayout;
  if (done !== lay.bodyBytes) {
    throw new DataImportError(`${label}: the header claims ${lay.bodyBytes} bytes of data, the file decompresses to ${done} (truncated)`);
  }
  return { header, body };
}
