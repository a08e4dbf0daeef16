import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChecksumError, StoreError } from '../../src-main/store/errors.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { useTempDirs } from './helpers.ts';

const temp = useTempDirs();

/** The raw bytes, so NaN payloads and -0 are compared exactly (toEqual treats all NaNs alike). */
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectBitIdentical(got: NamedTensors, want: NamedTensors): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const [name, t] of Object.entries(want)) {
    const g = got[name];
    expect(g, name).toBeDefined();
    expect(g?.shape).toEqual(t.shape);
    expect(g?.data).toBeInstanceOf(Float32Array);
    expect(Buffer.compare(bytes(g?.data ?? new Float32Array()), bytes(t.data)), name).toBe(0);
  }
}

/** Awkward values: NaNs with payloads, ±0, ±∞, denormals, extremes. */
function specials(): Float32Array {
  const u = new Uint32Array([
    0x7fc00000, 0x7fa00001, 0xffc00123, // quiet and signalling NaNs with payloads
    0x80000000, 0x00000000, // -0, +0
    0x7f800000, 0xff800000, // ±∞
    0x00000001, 0x007fffff, 0x80000001, // smallest denormals, largest denormal
    0x7f7fffff, 0x00800000, // largest finite, smallest normal
  ]);
  return new Float32Array(u.buffer);
}

function model(store: ReturnType<typeof temp.store>) {
  return store.models.create({ name: 'base', kind: 'base', sizes: [784, 1000, 2000, 10] });
}

describe('tensors', () => {
  it('round-trips bit-identical: NaN payloads, -0, infinities, denormals, 2M-value arrays', () => {
    const store = temp.store();
    const big = new Float32Array(2000 * 1000);
    for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 1e-3 * (i % 7);
    // A view into the middle of a bigger buffer: only the viewed bytes may be stored.
    const backing = new Float32Array(64).fill(9);
    const view = backing.subarray(3, 3 + 12);
    view.set(specials());
    const tensors: NamedTensors = {
      'linear1.weight': { shape: [2000, 1000], data: big },
      'linear1.bias': { shape: [12], data: view },
      'linear2.lora_A': { shape: [1, 3], data: new Float32Array([1e-45, -1e-45, 3.4028234663852886e38]) },
      scalar: { shape: [], data: new Float32Array([42]) },
      empty: { shape: [0, 5], data: new Float32Array(0) },
    };
    const m = model(store);
    store.tensors.put({ modelId: m.id }, tensors);
    const back = store.tensors.get({ modelId: m.id });
    expectBitIdentical(back, tensors);
    expect(Array.from(new Uint32Array(back['linear1.bias']?.data.buffer ?? new ArrayBuffer(0)))).toEqual(Array.from(new Uint32Array(specials().buffer)));
    expect(back['linear1.bias']?.data.byteOffset).toBe(0);
    expect(back['linear1.bias']?.data.buffer.byteLength).toBe(48);
    expect(store.tensors.names({ modelId: m.id })).toEqual(Object.keys(tensors));
    expect(store.tensors.meta({ modelId: m.id })[0]).toMatchObject({ name: 'linear1.weight', dtype: 'float32', shape: [2000, 1000], bytes: 8_000_000 });
  });

  it('stores little-endian bytes and a sha-256 per tensor', () => {
    const store = temp.store();
    const m = model(store);
    store.tensors.put({ modelId: m.id }, { t: { shape: [2], data: new Float32Array([1, -2]) } });
    const row = store.db.prepare('SELECT hex(data) AS hex, dtype, shape, checksum FROM tensors').get();
    expect(row).toEqual({
      hex: '0000803F000000C0', // 1.0f = 0x3f800000, -2.0f = 0xc0000000, least significant byte first
      dtype: 'float32',
      shape: '[2]',
      checksum: createHash('sha256').update(Buffer.from('0000803f000000c0', 'hex')).digest('hex'),
    });
  });

  it('keeps model and adapter tensors apart, even with the same names', () => {
    const store = temp.store();
    const m = model(store);
    const a = store.adapters.create({ name: 'a', baseModelId: m.id, info: { r: 1, alpha: 1, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'lora', freezeA: false } });
    store.tensors.put({ modelId: m.id }, { x: { shape: [1], data: new Float32Array([1]) } });
    store.tensors.put({ adapterId: a.id }, { x: { shape: [1], data: new Float32Array([2]) } });
    expect(store.tensors.get({ modelId: m.id })['x']?.data[0]).toBe(1);
    expect(store.tensors.get({ adapterId: a.id })['x']?.data[0]).toBe(2);
    // put again replaces by name instead of failing on UNIQUE (owner, name).
    store.tensors.put({ adapterId: a.id }, { x: { shape: [1, 1], data: new Float32Array([3]) } });
    expect(store.tensors.get({ adapterId: a.id })).toEqual({ x: { shape: [1, 1], data: new Float32Array([3]) } });
    expect(store.tensors.delete({ adapterId: a.id })).toBe(1);
    expect(store.tensors.get({ adapterId: a.id })).toEqual({});
  });

  it('detects a corrupted blob by its checksum and names the tensor', () => {
    const store = temp.store();
    const m = model(store);
    store.tensors.put({ modelId: m.id }, {
      good: { shape: [3], data: new Float32Array([1, 2, 3]) },
      'linear2.weight': { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    });
    // Overwrite one byte (of the 2.0), as a bad disk sector would.
    store.db.exec(`UPDATE tensors SET data = unhex(substr(hex(data), 1, 10) || '41' || substr(hex(data), 13)) WHERE name = 'linear2.weight'`);
    expect(store.db.prepare(`SELECT length(data) AS n FROM tensors WHERE name = 'linear2.weight'`).get()).toEqual({ n: 16 });
    expect(() => store.tensors.get({ modelId: m.id })).toThrow(ChecksumError);
    expect(() => store.tensors.get({ modelId: m.id })).toThrow(`tensor linear2.weight of model ${m.id} is corrupted`);
  });

  it('refuses a shape that does not match the data, and stores nothing of the batch', () => {
    const store = temp.store();
    const m = model(store);
    expect(() =>
      store.tensors.put({ modelId: m.id }, {
        ok: { shape: [1], data: new Float32Array(1) },
        bad: { shape: [2, 2], data: new Float32Array(3) },
      }),
    ).toThrow(new StoreError('tensor bad: shape [2, 2] needs 4 values, got 3'));
    expect(store.tensors.names({ modelId: m.id })).toEqual([]);
  });

  it('refuses an owner that does not exist (foreign keys are on)', () => {
    const store = temp.store();
    expect(() => store.tensors.put({ modelId: 999 }, { x: { shape: [1], data: new Float32Array(1) } })).toThrow(/FOREIGN KEY/);
  });
});
