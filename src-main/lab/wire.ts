/**
 * How LabApi values travel over HTTP and WebSocket as JSON. JSON has no typed arrays,
 * NaN or ±Infinity, so they are tagged: { $u8: base64 }, { $f32: base64 }, { $num: 'NaN' }.
 * Pure code: the server (Node) and the renderer (browser) both import it.
 */
import type { LabCall } from '../contract/api.ts';

export const API_PREFIX = '/api/';
export const EVENTS_PATH = '/api/events';
export const TOKEN_COOKIE = 'lora_lab_token';

export interface RpcRequest {
  args: unknown[];
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: string; status: number };

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  let s: string;
  try {
    s = atob(b64);
  } catch {
    throw new SyntaxError('a tagged byte array is not valid base64');
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function encodeWire(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    // `this[key]` is the raw value (before toJSON), which keeps typed arrays intact.
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof Uint8Array) return { $u8: toBase64(raw) };
    if (raw instanceof Float32Array) return { $f32: toBase64(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)) };
    if (typeof raw === 'number' && !Number.isFinite(raw)) return { $num: String(raw) };
    return v;
  });
}

/** Deeper than any LabApi value (configs and results nest a few levels). */
export const MAX_WIRE_DEPTH = 100;

/** A body that is well-formed JSON but not a value we accept (too deep). */
export class WireError extends Error {
  override name = 'WireError';
}

/**
 * Whether the JSON text opens more than `limit` arrays/objects at once. One pass over the
 * characters, no recursion: JSON.parse's reviver recurses per level, so 200,000 levels
 * would overflow the stack before any validation ran.
 */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export function decodeWire(text: string): unknown {
  if (nestsDeeperThan(text, MAX_WIRE_DEPTH)) throw new WireError(`JSON nested deeper than ${MAX_WIRE_DEPTH} levels of arrays and objects is not accepted`);
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1) {
        if (typeof o['$u8'] === 'string') return fromBase64(o['$u8']);
        if (typeof o['$f32'] === 'string') {
          const b = fromBase64(o['$f32']);
          if (b.length % 4 !== 0) throw new SyntaxError('a float32 array has a byte length that is not a multiple of 4');
          return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
        }
        if (o['$num'] === 'NaN' || o['$num'] === 'Infinity' || o['$num'] === '-Infinity') return Number(o['$num']);
      }
    }
    return v;
  });
}

export function callPath(call: LabCall): string {
  return `${API_PREFIX}${call}`;
}
