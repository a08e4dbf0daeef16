/**
 * Value ↔ column conversions shared by the repositories: JSON text columns and
 * little-endian float32 BLOBs (the on-disk byte order is fixed, the host's is not).
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';

const LITTLE = endianness() === 'LE';

export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`cannot store ${String(value)} as JSON`);
  return text;
}

/** NULL column → null; otherwise the parsed JSON, typed by the caller's schema knowledge. */
export function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** The float32 values as little-endian bytes; a copy only on big-endian hosts. */
export function float32ToBytes(data: Float32Array): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE) return view; // better-sqlite3 copies the bytes when it binds them
  return Buffer.from(view).swap32();
}

/**
 * A fresh Float32Array from little-endian bytes. Always a copy into a buffer of its own:
 * the Buffer SQLite hands back may be unaligned or share a pooled ArrayBuffer, and a
 * caller that transfers the result to a worker must not detach anything else.
 */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of float32 values`);
  const out = new Float32Array(bytes.byteLength / 4);
  const u8 = new Uint8Array(out.buffer);
  u8.set(bytes);
  if (!LITTLE) Buffer.from(out.buffer).swap32();
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
