import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  halfToFloat,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
} from '../../src-main/weights/safetensors.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { tempDir } from '../helpers/tmp.ts';
import { randomBase, rawFile } from './helpers.ts';

const bitsEqual = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('safetensors writer', () => {
  it('writes an 8-byte LE length, a space-padded JSON header and sorted, contiguous F32 data', () => {
    const tensors: NamedTensors = {
      'z.last': { shape: [3], data: Float32Array.of(1, 2, 3) },
      'a.first': { shape: [2, 1], data: Float32Array.of(-1, 0.5) },
    };
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header['a.first']).toEqual({ dtype: 'F32', shape: [2, 1], data_offsets: [0, 8] });
    expect(header['z.last']).toEqual({ dtype: 'F32', shape: [3], data_offsets: [8, 20] });
    expect(bytes.length).toBe(8 + n + 20);
    expect(new DataView(bytes.buffer, bytes.byteOffset + 8 + n).getFloat32(0, true)).toBe(-1);
    expect(text.indexOf('"a.first"')).toBeLessThan(text.indexOf('"z.last"'));
  });

  it('round-trips bit for bit, including -0, NaN, infinities and subnormals', () => {
    const special = Float32Array.of(-0, NaN, Infinity, -Infinity, 1.4e-45, 3.4028235e38, 1 / 3);
    const tensors: NamedTensors = { ...randomBase([784, 16, 10], 1), special: { shape: [7], data: special }, empty: { shape: [0, 5], data: new Float32Array(0) } };
    const back = readSafetensors(writeSafetensors(tensors, { format: 'pt', lineage: '{"a":1}' }));
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.tensors[name]?.shape).toEqual(t.shape);
      expect(bitsEqual(back.tensors[name]!.data, t.data)).toBe(true);
    }
    expect(back.metadata).toEqual({ format: 'pt', lineage: '{"a":1}' });
  });

  it('writes no __metadata__ when none is given, and an empty file is valid', () => {
    const bytes = writeSafetensors({});
    expect(readSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it('returned tensors do not alias the input bytes', () => {
    const bytes = writeSafetensors({ x: { shape: [2], data: Float32Array.of(1, 2) } });
    const t = readSafetensors(bytes).tensors['x']!;
    bytes.fill(0);
    expect(Array.from(t.data)).toEqual([1, 2]);
  });

  it('refuses bad names, shape mismatches and non-string metadata', () => {
    const t = { shape: [1], data: Float32Array.of(1) };
    expect(() => writeSafetensors({ '': t })).toThrow(SafetensorsError);
    expect(() => writeSafetensors({ ['x'.repeat(257)]: t })).toThrow(/at most 256/);
    expect(() => writeSafetensors({ __metadata__: t })).toThrow(/reserved/);
    expect(() => writeSafetensors({ x: { shape: [2], data: Float32Array.of(1) } })).toThrow(/needs 2 values/);
    expect(() => writeSafetensors({ x: t }, { a: 1 as unknown as string })).toThrow(/must be a string/);
  });
});

describe('safetensors reader', () => {
  it('reads a hand-built file with a tensor order different from the data order', () => {
    const data = new Uint8Array(new Float32Array([5, 6, 7]).buffer);
    const bytes = rawFile({ b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data);
    const { tensors } = readSafetensors(bytes);
    expect(Array.from(tensors['b']!.data)).toEqual([5]);
    expect(Array.from(tensors['a']!.data)).toEqual([6, 7]);
  });

  it('converts F16 and BF16 to float32 exactly', () => {
    // F16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0, inf
    const f16 = Uint16Array.of(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00);
    // BF16: 1, -3.5, 2^-126·1.5
    const bf16 = Uint16Array.of(0x3f80, 0xc060, 0x00c0);
    const data = new Uint8Array(f16.byteLength + bf16.byteLength);
    data.set(new Uint8Array(f16.buffer), 0);
    data.set(new Uint8Array(bf16.buffer), f16.byteLength);
    const bytes = rawFile({
      h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
      b: { dtype: 'BF16', shape: [3], data_offsets: [14, 20] },
    }, data);
    const { tensors } = readSafetensors(bytes);
    expect(Array.from(tensors['h']!.data)).toEqual([1, -2, 0.5, 65504, 2 ** -24, -0, Infinity]);
    expect(Object.is(tensors['h']!.data[5], -0)).toBe(true);
    expect(Array.from(tensors['b']!.data)).toEqual([1, -3.5, 1.5 * 2 ** -126]);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
  });

  it('accepts null or absent __metadata__ and an unaligned input view', () => {
    const inner = writeSafetensors({ x: { shape: [1], data: Float32Array.of(9) } });
    const shifted = new Uint8Array(inner.length + 3);
    shifted.set(inner, 3);
    expect(readSafetensors(shifted.subarray(3)).tensors['x']!.data[0]).toBe(9);
    expect(readSafetensors(rawFile({ __metadata__: null })).metadata).toEqual({});
  });

  it('readSafetensorsFile checks the size before reading, and names the file', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'm.safetensors');
      writeFileSync(file, writeSafetensors({ x: { shape: [4], data: new Float32Array(4) } }));
      expect(readSafetensorsFile(file).tensors['x']?.shape).toEqual([4]);
      expect(() => readSafetensorsFile(file, { maxTotalBytes: 16 })).toThrow(/is 80 bytes, more than the 16 bytes a safetensors file may be/);
      expect(() => readSafetensorsFile(join(dir, 'missing'))).toThrow(/missing does not exist/);
      expect(() => readSafetensorsFile(dir)).toThrow(/not a regular file/);
      writeFileSync(file, 'garbage!garbage!');
      expect(() => readSafetensorsFile(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: header length`));
    } finally {
      cleanup();
    }
  });
});
