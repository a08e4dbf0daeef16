/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N
 * bytes of UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__:
 * {string: string}}`, then the raw data; offsets are relative to the data area.
 *
 * The writer emits float32 only, tensors in sorted name order, header padded with
 * spaces so the data starts 8-byte aligned. The reader treats every file as hostile:
 * every declared size is checked against the bytes actually present before anything
 * is allocated, and every failure is a SafetensorsError — never another exception, a
 * hang or an allocation larger than the file (F16/BF16 decode to at most twice it).
 */
import { readFileBounded } from './bounded-read.ts';
import { findDuplicateKey } from './json-keys.ts';
import { parseJsonText, utf8Offset } from './json-text.ts';
import type { HostTensor, NamedTensors } from '../contract/named.ts';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface SafetensorsReadOptions {
  /** Largest JSON header accepted (the reference implementation's limit: 100 MB). */
  maxHeaderBytes?: number;
  /** Largest file accepted, header and data together. */
  maxTotalBytes?: number;
  /** Most tensors one file may declare. */
  maxTensors?: number;
}

export interface Safetensors {
  tensors: NamedTensors;
  metadata: Record<string, string>;
}

export const SAFETENSORS_DEFAULTS: Required<SafetensorsReadOptions> = {
  maxHeaderBytes: 100_000_000,
  maxTotalBytes: 1 << 30,
  maxTensors: 100_000,
};

const METADATA_KEY = '__metadata__';
export const MAX_NAME_LENGTH = 256;
const MAX_RANK = 32;
const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];
/** Bytes per element of the dtypes LoRA Lab reads; all decode to float32. */
const DTYPE_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Why `name` cannot be a tensor or metadata name, or null when it can. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} characters long (at most ${MAX_NAME_LENGTH})`;
  // Control characters only serve to disguise a name in logs and UIs.
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  // Assigning `__proto__` to a plain object replaces its prototype instead of adding a key.
  if (name === '__proto__') return 'is reserved';
  return null;
}

const show = (name: string) => JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);

export function writeSafetensors(tensors: NamedTensors, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      const bad = nameProblem(k);
      if (bad) throw new SafetensorsError(`metadata key ${show(k)} ${bad}`);
      if (typeof v !== 'string') throw new SafetensorsError(`metadata ${show(k)} must be a string, got ${typeof v}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name] as HostTensor;
    const bad = name === METADATA_KEY ? 'is reserved' : nameProblem(name);
    if (bad) throw new SafetensorsError(`tensor name ${show(name)} ${bad}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`tensor ${show(name)} has a bad shape [${t.shape}]`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new SafetensorsError(`tensor ${show(name)}: shape [${t.shape}] needs ${n} values, has ${t.data.length}`);
    const entry = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += 4 * n;
  }
  let header = `{${parts.join(',')}}`;
  let headerBytes = new TextEncoder().encode(header);
  // Spaces up to a multiple of 8 so the data area (and every F32 in it) is aligned.
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) headerBytes = new TextEncoder().encode((header += ' '.repeat(pad)));
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, Math.floor(headerBytes.length / 2 ** 32), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const data = (tensors[name] as HostTensor).data;
    if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i] as number, true);
    at += data.byteLength;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check a safetensors file held in memory; see the file comment. */
export function readSafetensors(bytes: Uint8Array, opts: SafetensorsReadOptions = {}): Safetensors {
  const limits = { ...SAFETENSORS_DEFAULTS, ...opts };
  if (!(bytes instanceof Uint8Array)) throw new SafetensorsError('expected the file as bytes (Uint8Array)');
  if (bytes.length > limits.maxTotalBytes) throw new SafetensorsError(`file is ${bytes.length} bytes, more than the ${limits.maxTotalBytes}-byte limit`);
  if (bytes.length < 8) throw new SafetensorsError(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo; // exact: any hi > 0 already exceeds every limit
  if (headerLen > limits.maxHeaderBytes) throw new SafetensorsError(`header length ${headerLen} is over the ${limits.maxHeaderBytes}-byte limit`);
  if (headerLen > bytes.length - 8) throw new SafetensorsError(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  if (headerLen < 2) throw new SafetensorsError(`header length ${headerLen} is too small for a JSON object`);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8');
  }
  // By position only: the parser's own message would quote the file.
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new SafetensorsError(`header is not valid JSON (at byte ${8 + utf8Offset(text, parsed.at)})`);
  const header = parsed.value;
  if (!isPlainObject(header)) throw new SafetensorsError(`header must be a JSON object, got ${Array.isArray(header) ? 'an array' : header === null ? 'null' : typeof header}`);
  const dup = findDuplicateKey(text);
  if (dup) throw new SafetensorsError(`header names ${show(dup.key)} twice${dup.depth > 1 ? ' inside one entry' : ''}`);

  const metadata = readMetadata(header[METADATA_KEY]);
  const entries: Entry[] = [];
  const names = Object.keys(header).filter((k) => k !== METADATA_KEY);
  if (names.length > limits.maxTensors) throw new SafetensorsError(`header declares ${names.length} tensors, more than the limit of ${limits.maxTensors}`);
  for (const name of names) entries.push(readEntry(name, header[name], dataLen));
  checkLayout(entries, dataLen);

  const tensors: NamedTensors = {};
  for (const e of entries) tensors[e.name] = { shape: e.shape, data: decode(bytes, dataStart + e.begin, dataStart + e.end, e.dtype) };
  return { tensors, metadata };
}

function readMetadata(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw === null) return out;
  if (!isPlainObject(raw)) throw new SafetensorsError('__metadata__ must be an object of strings');
  for (const [k, v] of Object.entries(raw)) {
    const bad = nameProblem(k);
    if (bad) throw new SafetensorsError(`__metadata__ key ${show(k)} ${bad}`);
    if (typeof v !== 'string') throw new SafetensorsError(`__metadata__ ${show(k)} must be a string, got ${v === null ? 'null' : typeof v}`);
    out[k] = v;
  }
  return out;
}

function readEntry(name: string, raw: unknown, dataLen: number): Entry {
  const bad = nameProblem(name);
  if (bad) throw new SafetensorsError(`tensor name ${show(name)} ${bad}`);
  const where = `tensor ${show(name)}`;
  if (!isPlainObject(raw)) throw new SafetensorsError(`${where}: entry must be an object with dtype, shape and data_offsets`);
  const keys = Object.keys(raw).sort();
  if (keys.join() !== ENTRY_KEYS.join()) {
    const extra = keys.filter((k) => !ENTRY_KEYS.includes(k));
    const missing = ENTRY_KEYS.filter((k) => !keys.includes(k));
    throw new SafetensorsError(`${where}: entry must have exactly dtype, shape and data_offsets` +
      (missing.length ? ` (missing ${missing.join(', ')})` : '') + (extra.length ? ` (unexpected ${extra.slice(0, 5).map(show).join(', ')})` : ''));
  }
  const { dtype, shape, data_offsets: offsets } = raw as { dtype: unknown; shape: unknown; data_offsets: unknown };
  if (typeof dtype !== 'string') throw new SafetensorsError(`${where}: dtype must be a string`);
  const size = DTYPE_SIZE[dtype];
  if (size === undefined || !Object.hasOwn(DTYPE_SIZE, dtype)) {
    throw new SafetensorsError(`${where}: dtype ${show(dtype)} is not supported (LoRA Lab reads F32, F16 and BF16)`);
  }
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(`${where}: shape must be a list of at most ${MAX_RANK} non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(`${where}: data_offsets must be two non-negative integers [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLen) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data area`);
  // The element count is checked against the bytes present before anything is allocated:
  // a header may declare [1e9, 1e9] over a few bytes. Multiplying step by step with an
  // overflow guard keeps the count exact (a zero anywhere makes it zero).
  const dims = shape as number[];
  let count = dims.includes(0) ? 0 : 1;
  for (const d of count === 0 ? [] : dims) {
    if (count > Number.MAX_SAFE_INTEGER / d / size) throw new SafetensorsError(`${where}: shape [${dims}] is impossibly large`);
    count *= d;
  }
  if (count * size !== end - begin) {
    throw new SafetensorsError(`${where}: shape [${dims}] of ${dtype} needs ${count * size} bytes, data_offsets give ${end - begin}`);
  }
  return { name, dtype, shape: [...dims], begin, end };
}

/** The byte ranges must tile the data area exactly: no gap, no overlap, nothing left over. */
function checkLayout(entries: Entry[], dataLen: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) throw new SafetensorsError(`tensor ${show(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${at})`);
    if (e.begin > at) throw new SafetensorsError(`tensor ${show(e.name)}: data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${at}`);
    at = e.end;
  }
  if (at !== dataLen) throw new SafetensorsError(`tensors cover ${at} bytes of the ${dataLen}-byte data area (trailing bytes)`);
}

function decode(bytes: Uint8Array, from: number, to: number, dtype: string): Float32Array {
  const src = bytes.subarray(from, to);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (dtype === 'F32') {
    // Copy into a fresh, aligned buffer so the result never aliases the input. Not
    // src.slice(): on a Node Buffer (what readFileSync returns) slice() is a view.
    if (LITTLE_ENDIAN_HOST) return new Float32Array(new Uint8Array(src).buffer);
    const out = new Float32Array(src.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(src.length / 2);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: shifting the bits back is exact.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  return out;
}

/** IEEE 754 binary16 → number (exact: every half is representable as a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Read a safetensors file, refusing one larger than `maxTotalBytes` before reading it. */
export function readSafetensorsFile(path: string, opts: SafetensorsReadOptions = {}): Safetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileBounded(path, opts.maxTotalBytes ?? SAFETENSORS_DEFAULTS.maxTotalBytes, 'a safetensors file');
  } catch (err) {
    throw new SafetensorsError((err as Error).message);
  }
  try {
    return readSafetensors(bytes, opts);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new SafetensorsError(`${path}: ${err.message}`);
    throw err;
  }
}
