/**
 * A data set as one file (how it travels to remote workers): packed and read back
 * exactly, for images (uint8) and tables (float32); a file whose samples are not the
 * run's, whose bytes do not add up, whose labels leave the classes or whose header is
 * hostile is refused by name.
 */
import { describe, expect, it } from 'vitest';
import { type LoadedDataset, computeNormalisation, datasetHash } from '../../src-main/data/dataset.ts';
import { PackError, packDataset, unpackDataset } from '../../src-main/data/pack.ts';
import { Rng } from '../../src-main/util/rng.ts';

function images(): LoadedDataset {
  const rng = new Rng(3);
  const split = (count: number) => ({ x: Uint8Array.from({ length: count * 4 * 4 * 3 }, () => Math.floor(rng.uniform(0, 256))), labels: Uint8Array.from({ length: count }, (_, i) => i % 3), count });
  return { kind: 'image', shape: [4, 4, 3], dtype: 'uint8', classes: ['cat', 'dog', 'owl'], train: split(20), test: split(7) };
}

function table(): LoadedDataset {
  const rng = new Rng(5);
  const split = (count: number) => ({ x: Float32Array.from({ length: count * 5 }, () => rng.normal()), labels: Uint8Array.from({ length: count }, (_, i) => i % 2), count });
  return { kind: 'table', shape: [5], dtype: 'float32', classes: ['no', 'yes'], train: split(11), test: split(4) };
}

/** The header's JSON rewritten by `edit` (its length prefix kept right). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => unknown): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const json = new TextEncoder().encode(JSON.stringify(edit(header) ?? header));
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.byteLength);
  return out;
}

describe('data set files', () => {
  for (const [what, make] of [['an image set (uint8)', images], ['a table (float32)', table]] as const) {
    it(`${what} comes back exactly, with its normalisation`, () => {
      const d = make();
      const norm = computeNormalisation(d.kind, d.shape, d.train);
      // Read as files are: a Buffer at an odd offset of a larger one.
      const file = Buffer.concat([Buffer.alloc(3), packDataset(d, norm)]).subarray(3);
      const back = unpackDataset(file, datasetHash(d));
      expect(back.normalisation).toEqual(norm);
      expect(back.data).toMatchObject({ kind: d.kind, shape: d.shape, dtype: d.dtype, classes: d.classes });
      for (const s of ['train', 'test'] as const) {
        expect(back.data[s].count).toBe(d[s].count);
        expect(back.data[s].x.constructor).toBe(d[s].x.constructor);
        expect(Array.from(back.data[s].x)).toEqual(Array.from(d[s].x));
        expect(Array.from(back.data[s].labels)).toEqual(Array.from(d[s].labels));
      }
    });
  }

  it('refuses samples that are not the run’s, and files whose bytes do not add up', () => {
    const d = table();
    const norm = computeNormalisation(d.kind, d.shape, d.train);
    const bytes = packDataset(d, norm);
    const hash = datasetHash(d);
    expect(() => unpackDataset(bytes, 'f'.repeat(64))).toThrow(/not the data set the run refers to/);
    const flipped = bytes.slice();
    flipped[bytes.byteLength - 20]! ^= 1; // one bit of a test sample
    expect(() => unpackDataset(flipped, hash)).toThrow(/not the data set the run refers to/);
    expect(() => unpackDataset(bytes.subarray(0, bytes.byteLength - 1), hash)).toThrow(/take \d+ bytes, the file has \d+/);
    expect(() => unpackDataset(bytes.subarray(0, 5), hash)).toThrow(/has no header/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => unpackDataset(huge, hash)).toThrow(/header claims/);
  });

  it('refuses a hostile header by name', () => {
    const d = images();
    const bytes = packDataset(d, computeNormalisation(d.kind, d.shape, d.train));
    const hash = datasetHash(d);
    const cases: [(h: Record<string, unknown>) => unknown, RegExp][] = [
      [() => [1, 2], /not a LoRA Lab data set file/],
      [(h) => ({ ...h, version: 9 }), /version 9, this LoRA Lab reads version 1/],
      [(h) => ({ ...h, kind: 'audio' }), /kind "audio"/],
      [(h) => ({ ...h, dtype: 'float64' }), /dtype "float64"/],
      [(h) => ({ ...h, shape: [4, 4, 2] }), /shape \[4,4,2\] is not a image/],
      [(h) => ({ ...h, shape: [1e9, 1e9, 3] }), /shape/],
      [(h) => ({ ...h, classes: [] }), /classes must be/],
      [(h) => ({ ...h, train: -1 }), /counts are not counts/],
      [(h) => ({ ...h, normalisation: { mean: [0], std: [1] } }), /a mean and a positive std for each of 3 channels/],
      [(h) => ({ ...h, normalisation: { mean: [0, 0, 0], std: [1, 0, 1] } }), /positive std/],
    ];
    for (const [edit, why] of cases) {
      const err = (() => {
        try {
          unpackDataset(withHeader(bytes, edit), hash);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, String(why)).toBeInstanceOf(PackError);
      expect((err as Error).message).toMatch(why);
    }
    expect(() => unpackDataset(withHeader(bytes, (h) => ({ ...h, classes: ['a', 'b'] })), hash)).toThrow(/train sample 2 has label 2, the set has 2 classes/);
    const notJson = bytes.slice();
    notJson[8] = 0xff;
    expect(() => unpackDataset(notJson, hash)).toThrow(/header is not JSON/);
  });

  it('refuses a table value that is not a finite number', () => {
    const d = table();
    (d.train.x as Float32Array)[3] = Number.NaN;
    expect(() => unpackDataset(packDataset(d, { mean: [0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1] }), datasetHash(d))).toThrow(/train holds a value that is not a finite number/);
  });
});
