/**
 * Hostile safetensors files: every malformed input must end in a SafetensorsError with
 * a clear message — never another exception, a hang, or an allocation sized by what a
 * header claims rather than by the bytes present.
 */
import { describe, expect, it } from 'vitest';
import { findDuplicateKey } from '../../src-main/weights/json-keys.ts';
import { SafetensorsError, readSafetensors, writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { rawFile } from './helpers.ts';

const f32 = (n: number) => new Uint8Array(4 * n);
const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

function refuses(bytes: Uint8Array, message: RegExp, opts = {}): void {
  let err: unknown;
  try {
    readSafetensors(bytes, opts);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a SafetensorsError matching ${message}`).toBeInstanceOf(SafetensorsError);
  expect((err as Error).message).toMatch(message);
}

function withHeaderLength(lo: number, hi: number, rest: Uint8Array = new Uint8Array(8)): Uint8Array {
  const out = new Uint8Array(8 + rest.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, lo, true);
  v.setUint32(4, hi, true);
  out.set(rest, 8);
  return out;
}

const valid = () =>
  writeSafetensors(
    {
      'linear1.weight': { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
      'linear1.bias': { shape: [3], data: Float32Array.of(1, -2, 3) },
      'linear2.weight': { shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => -i) },
      'linear2.bias': { shape: [2], data: Float32Array.of(0.5, 0.25) },
    },
    { format: 'pt', lineage: '{"base":1}' },
  );

describe('hostile safetensors: framing', () => {
  it('refuses files too short for the length field, and every truncation of a valid file', () => {
    refuses(new Uint8Array(0), /too short/);
    refuses(new Uint8Array(7), /too short/);
    const good = valid();
    for (let len = 0; len < good.length; len++) expect(() => readSafetensors(good.subarray(0, len))).toThrow(SafetensorsError);
  });

  it('refuses an oversized header length before looking at it', () => {
    refuses(withHeaderLength(0, 1), /over the 100000000-byte limit/);
    refuses(withHeaderLength(0xffffffff, 0xffffffff), /over the .*limit/);
    refuses(withHeaderLength(200_000_000, 0), /over the 100000000-byte limit/);
    refuses(rawFile({ a: entry('F32', [1], [0, 4]) }, f32(1)), /over the 10-byte limit/, { maxHeaderBytes: 10 });
  });

  it('refuses a header length past the end of the file, or too small', () => {
    refuses(withHeaderLength(100, 0, new Uint8Array(20)), /runs past the end/);
    refuses(withHeaderLength(0, 0), /too small/);
  });

  it('refuses a file over maxTotalBytes', () => {
    refuses(valid(), /more than the 50-byte limit/, { maxTotalBytes: 50 });
  });
});

describe('hostile safetensors: header JSON', () => {
  it('refuses invalid UTF-8, bad JSON and non-object JSON', () => {
    refuses(rawFile(null, undefined, '{"\udc00": 1}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/);
    refuses(rawFile(null, undefined, '{"a": '), /not valid JSON/);
    refuses(rawFile(null, undefined, '{"a": 1}\u0000\u0000'), /not valid JSON/);
    refuses(rawFile([1, 2]), /must be a JSON object, got an array/);
    refuses(rawFile(null, undefined, 'null'), /got null/);
    refuses(rawFile(null, undefined, '"text"'), /got string/);
    refuses(rawFile(null, undefined, '42'), /got number/);
  });

  it('refuses duplicate names, though JSON.parse would keep only the last', () => {
    const text = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    refuses(rawFile(null, f32(2), text), /names "a" twice/);
    refuses(rawFile(null, f32(1), '{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), /twice inside one entry/);
    refuses(rawFile(null, undefined, '{"__metadata__":{"k":"1","k":"2"}}'), /names "k" twice/);
    expect(findDuplicateKey('{"a":"b","b":["a","a"],"c":{"a":1}}')).toBeNull();
    expect(findDuplicateKey('{"x\\"y":1,"x\\"y":2}')).toEqual({ key: 'x"y', depth: 1 });
  });

  it('refuses malformed __metadata__', () => {
    refuses(rawFile({ __metadata__: ['a'] }), /__metadata__ must be an object of strings/);
    refuses(rawFile({ __metadata__: { n: 1 } }), /__metadata__ "n" must be a string, got number/);
    refuses(rawFile({ __metadata__: { n: null } }), /got null/);
    refuses(rawFile(null, undefined, '{"__metadata__":{"__proto__":"x"}}'), /reserved/);
  });

  it('refuses bad names', () => {
    refuses(rawFile({ '': entry('F32', [0], [0, 0]) }), /name "" is empty/);
    refuses(rawFile({ ['n'.repeat(257)]: entry('F32', [0], [0, 0]) }), /257 characters long/);
    refuses(rawFile({ 'a\nb': entry('F32', [0], [0, 0]) }), /control character/);
    refuses(rawFile(null, undefined, '{"__proto__":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), /reserved/);
  });

  it('refuses entries that are not exactly dtype, shape and data_offsets', () => {
    refuses(rawFile({ a: [1] }), /entry must be an object/);
    refuses(rawFile({ a: { dtype: 'F32', shape: [1] } }, f32(1)), /missing data_offsets/);
    refuses(rawFile({ a: { ...entry('F32', [1], [0, 4]), extra: 1 } }, f32(1)), /unexpected "extra"/);
  });

  it('refuses too many tensors', () => {
    const header = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`t${i}`, entry('F32', [0], [0, 0])]));
    refuses(rawFile(header), /declares 5 tensors, more than the limit of 4/, { maxTensors: 4 });
  });
});

describe('hostile safetensors: dtypes, shapes and offsets', () => {
  it('refuses unknown dtypes by name', () => {
    refuses(rawFile({ a: entry('I64', [1], [0, 8]) }, new Uint8Array(8)), /dtype "I64" is not supported \(LoRA Lab reads F32, F16 and BF16\)/);
    refuses(rawFile({ a: entry('F64', [1], [0, 8]) }, new Uint8Array(8)), /"F64" is not supported/);
    refuses(rawFile({ a: entry('constructor', [1], [0, 4]) }, f32(1)), /"constructor" is not supported/);
    refuses(rawFile({ a: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, f32(1)), /dtype must be a string/);
  });

  it('refuses byte lengths that do not match the dtype size', () => {
    refuses(rawFile({ a: entry('F32', [3], [0, 6]) }, new Uint8Array(6)), /F32 needs 12 bytes, data_offsets give 6/);
    refuses(rawFile({ a: entry('F16', [3], [0, 12]) }, new Uint8Array(12)), /F16 needs 6 bytes/);
    refuses(rawFile({ a: entry('BF16', [2, 2], [0, 16]) }, new Uint8Array(16)), /BF16 needs 8 bytes/);
  });

  it('refuses bad shapes', () => {
    for (const shape of [[-1], [1.5], ['2'], 'x', [null], Array(33).fill(1)]) {
      refuses(rawFile({ a: entry('F32', shape, [0, 4]) }, f32(1)), /shape must be a list of at most 32 non-negative integers/);
    }
  });

  it('refuses huge shapes without allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    refuses(rawFile({ a: entry('F32', [1e9, 1e9], [0, 8]) }, new Uint8Array(8)), /impossibly large|needs/);
    refuses(rawFile({ a: entry('F32', [2 ** 53 - 1, 2 ** 53 - 1, 4], [0, 8]) }, new Uint8Array(8)), /impossibly large/);
    refuses(rawFile({ a: entry('F32', [1e5, 1e5], [0, 4e10]) }, new Uint8Array(8)), /run past the 8-byte data area/);
    refuses(rawFile({ a: entry('F32', [250_000_000], [0, 1e9]) }, new Uint8Array(8)), /run past/);
    refuses(rawFile({ a: entry('F16', [1e9], [0, 8]) }, new Uint8Array(8)), /F16 needs 2000000000 bytes, data_offsets give 8/);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    // A zero anywhere makes a huge shape legitimately empty.
    expect(readSafetensors(rawFile({ a: entry('F32', [1e9, 0, 1e9], [0, 0]) })).tensors['a']!.data.length).toBe(0);
  });

  it('refuses malformed, out-of-range, overlapping and gapped offsets', () => {
    refuses(rawFile({ a: entry('F32', [1], [0]) }, f32(1)), /data_offsets must be two non-negative integers/);
    refuses(rawFile({ a: entry('F32', [1], [0, 4, 8]) }, f32(2)), /two non-negative integers/);
    refuses(rawFile({ a: entry('F32', [1], [-4, 0]) }, f32(1)), /two non-negative integers/);
    refuses(rawFile({ a: entry('F32', [1], [0.5, 4.5]) }, f32(2)), /two non-negative integers/);
    refuses(rawFile({ a: entry('F32', [1], ['0', '4']) }, f32(1)), /two non-negative integers/);
    refuses(rawFile({ a: entry('F32', [0], [8, 4]) }, f32(2)), /end before they begin/);
    refuses(rawFile({ a: entry('F32', [2], [4, 12]) }, f32(2)), /run past the 8-byte data area/);
    refuses(rawFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }, f32(3)), /overlap/);
    refuses(rawFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [0, 8]) }, f32(2)), /overlap/);
    refuses(rawFile({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, f32(3)), /gap after byte 4/);
    refuses(rawFile({ a: entry('F32', [1], [4, 8]) }, f32(2)), /gap after byte 0/);
    refuses(rawFile({ a: entry('F32', [1], [0, 4]) }, f32(2)), /cover 4 bytes of the 8-byte data area \(trailing bytes\)/);
  });
});

/** One random mutation of a valid file, drawn from `rng`. */
function mutate(good: Uint8Array, rng: Rng): Uint8Array {
  const headerLen = new DataView(good.buffer, good.byteOffset).getUint32(0, true);
  const kind = rng.int(7);
  if (kind === 0) {
    // Flip 1–8 random bytes, mostly in the header where they matter.
    const out = good.slice();
    for (let i = rng.int(8) + 1; i > 0; i--) {
      const at = rng.next() < 0.8 ? 8 + rng.int(headerLen) : rng.int(out.length);
      out[at] = (out[at] as number) ^ (1 << rng.int(8));
    }
    return out;
  }
  if (kind === 1) return good.slice(0, rng.int(good.length));
  if (kind === 2) {
    const out = good.slice();
    new DataView(out.buffer).setUint32(rng.int(2) * 4, rng.nextUint32(), true);
    return out;
  }
  if (kind === 3) {
    const extra = Uint8Array.from({ length: rng.int(16) + 1 }, () => rng.int(256));
    const out = new Uint8Array(good.length + extra.length);
    out.set(good);
    out.set(extra, good.length);
    return out;
  }
  if (kind === 4) return Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
  // Structured header mutations: change one value, then re-encode (sometimes with a stale length).
  const text = new TextDecoder().decode(good.subarray(8, 8 + headerLen));
  const header = JSON.parse(text) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header);
  const name = names[rng.int(names.length)] as string;
  const e = header[name] as Record<string, unknown>;
  const weird = [-1, 0, 1, 3, 4.5, 1e9, 2 ** 53, 2 ** 64, '4', null, [], {}, true, 'F16', 'BF16', 'I8', 'F32'];
  const pick = () => weird[rng.int(weird.length)];
  const field = ['dtype', 'shape', 'data_offsets', '__new', '__delete', '__dup', '__rename'][rng.int(7)] as string;
  let headerText: string;
  if (field === '__dup') headerText = text.trimEnd().replace(/}$/, `,${JSON.stringify(name)}:${JSON.stringify(e)}}`);
  else {
    if (field === '__new') e['extra'] = pick();
    else if (field === '__delete') delete e[['dtype', 'shape', 'data_offsets'][rng.int(3)] as string];
    else if (field === '__rename') {
      header[['', 'x'.repeat(300), '__proto__', 'a\u0001'][rng.int(4)] as string] = e;
      delete header[name];
    } else if (Array.isArray(e[field]) && rng.next() < 0.7) {
      const arr = [...(e[field] as unknown[])];
      if (arr.length && rng.next() < 0.8) arr[rng.int(arr.length)] = rng.next() < 0.5 ? pick() : (arr[0] as number) + rng.int(9) - 4;
      else arr.push(pick());
      e[field] = arr;
    } else e[field] = pick();
    headerText = JSON.stringify(header);
  }
  const enc = new TextEncoder().encode(headerText);
  const data = good.subarray(8 + headerLen);
  const out = new Uint8Array(8 + enc.length + data.length);
  new DataView(out.buffer).setUint32(0, rng.next() < 0.9 ? enc.length : headerLen, true);
  out.set(enc, 8);
  out.set(data, 8 + enc.length);
  return out;
}

describe('hostile safetensors: fuzz', () => {
  it('3,000 seeded mutations of a valid file: each parses to a valid result or throws SafetensorsError, fast', () => {
    const good = valid();
    const rng = new Rng(20240605);
    const cases = 3000;
    let parsed = 0;
    const started = performance.now();
    for (let c = 0; c < cases; c++) {
      const bytes = mutate(good, rng);
      try {
        const { tensors, metadata } = readSafetensors(bytes);
        for (const [name, t] of Object.entries(tensors)) {
          expect(name.length).toBeGreaterThan(0);
          expect(t.data).toBeInstanceOf(Float32Array);
          expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
        for (const v of Object.values(metadata)) expect(typeof v).toBe('string');
        parsed++;
      } catch (err) {
        if (!(err instanceof SafetensorsError)) throw new Error(`case ${c}: ${(err as Error)?.name}: ${(err as Error)?.message}`);
      }
    }
    const ms = performance.now() - started;
    console.log(`fuzz: ${cases} cases, ${parsed} parsed, ${cases - parsed} refused, ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(10_000);
    expect(cases - parsed).toBeGreaterThan(cases / 2);
  });
});
