import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { importSource } from '../../src-main/data/import/index.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Distinct pixel bytes for image `seed` of width×height×channels. */
const pixels = (w: number, h: number, c: number, seed: number) => Uint8Array.from({ length: w * h * c }, (_, i) => (i * 13 + seed * 29) % 256);

async function png(file: string, w: number, h: number, c: 1 | 3 | 4, seed: number): Promise<Uint8Array> {
  mkdirSync(dirname(file), { recursive: true });
  const data = pixels(w, h, c, seed);
  let img = sharp(data, { raw: { width: w, height: h, channels: c } });
  if (c === 1) img = img.toColourspace('b-w'); // a true grey PNG (sharp would write RGB otherwise)
  await img.png().toFile(file);
  return data;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
/** A tiny PNG whose IHDR (valid CRC) claims width×height grey pixels: a decompression bomb's header. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit, grey, deflate, no filter, no interlace
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1024))), chunk('IEND', new Uint8Array(0))]);
}

describe('image folder importer', () => {
  const tmp = tempDir('lora-lab-import-img-');
  afterAll(tmp.cleanup);
  let k = 0;
  const root = () => {
    const dir = join(tmp.dir, `set${k++}`);
    mkdirSync(dir);
    return dir;
  };

  it('reads ROOT/<class>/*.png as grey w×h×1 bytes exactly, classes from folder names, skipping non-images', async () => {
    const dir = root();
    const want = new Map<string, Uint8Array>();
    for (const [c, cls] of ['cat', 'dog', 'bird'].entries()) {
      for (let i = 0; i < 5; i++) want.set(`${cls}/${i}.png`, await png(join(dir, cls, `${i}.png`), 5, 3, 1, i + c * 10));
    }
    writeFileSync(join(dir, 'cat', '.DS_Store'), 'x');
    writeFileSync(join(dir, 'dog', 'Thumbs.db'), 'x');
    writeFileSync(join(dir, 'README'), 'about');
    const progress: number[] = [];
    const d = await importSource(dir, { testFraction: 0.4, onProgress: (done, total) => progress.push(done / total) });
    expect(d.format).toBe('images');
    expect(d.kind).toBe('image');
    expect(d.shape).toEqual([3, 5, 1]);
    expect(d.classes).toEqual(['bird', 'cat', 'dog']);
    expect(d.train.count).toBe(9);
    expect(d.test.count).toBe(6);
    expect(d.origin).toMatchObject({ skipped: 3, split: 'derived', testFraction: 0.4, seed: 0, classesFrom: 'folder names' });
    expect(progress.at(-1)).toBe(1);
    // Every decoded image is one of the written ones, under its class.
    const byBytes = new Map([...want].map(([name, px]) => [Buffer.from(px).toString('hex'), name.split('/')[0]]));
    for (const s of [d.train, d.test]) {
      for (let i = 0; i < s.count; i++) {
        const hex = Buffer.from(s.x.subarray(i * 15, (i + 1) * 15)).toString('hex');
        expect(byBytes.get(hex)).toBe(d.classes[s.labels[i] as number]);
      }
    }
  });

  it('reads ROOT/train + ROOT/test in file order; colour stays RGB exactly and alpha is dropped', async () => {
    const dir = root();
    const trainWant: number[] = [];
    for (const [cls, n] of [['a', 3], ['b', 2]] as const) {
      for (let i = 0; i < n; i++) {
        const rgba = await png(join(dir, 'train', cls, `img${i}.png`), 4, 4, 4, i + (cls === 'b' ? 10 : 0));
        for (let p = 0; p < 16; p++) trainWant.push(rgba[4 * p] as number, rgba[4 * p + 1] as number, rgba[4 * p + 2] as number);
      }
    }
    const testPx = await png(join(dir, 'test', 'b', 'x.png'), 4, 4, 3, 99);
    const d = await importSource(dir, {});
    expect(d.shape).toEqual([4, 4, 3]);
    expect(d.classes).toEqual(['a', 'b']);
    expect([...d.train.labels]).toEqual([0, 0, 0, 1, 1]);
    expect([...d.train.x]).toEqual(trainWant);
    expect([...d.test.x]).toEqual([...testPx]);
    expect([...d.test.labels]).toEqual([1]);
    expect(d.origin).toMatchObject({ split: 'given', folders: ['train', 'test'] });
  });

  it('turns a folder mixing grey and colour into 3 channels (grey as R = G = B) and says so', async () => {
    const dir = root();
    const g = await png(join(dir, 'train', 'x', '0.png'), 2, 2, 1, 1);
    const c = await png(join(dir, 'train', 'y', '1.png'), 2, 2, 3, 2);
    const g2 = await png(join(dir, 'train', 'y', '2.png'), 2, 2, 1, 3);
    await png(join(dir, 'test', 'x', '3.png'), 2, 2, 1, 4);
    const d = await importSource(dir, {});
    expect(d.shape).toEqual([2, 2, 3]);
    const rep = (a: Uint8Array) => [...a].flatMap((v) => [v, v, v]);
    expect([...d.train.x]).toEqual([...rep(g), ...c, ...rep(g2)]);
    expect(d.origin['note']).toMatch(/3 grey and 1 colour images: all read as 3 channels/);
  });

  it('reads JPEG within a tolerance and follows classes.txt order', async () => {
    const dir = root();
    const smooth = Uint8Array.from({ length: 16 * 16 }, (_, i) => 60 + (i % 16) * 4 + Math.floor(i / 16) * 2);
    for (const [cls, n] of [['zeta', 2], ['alpha', 2]] as const) {
      mkdirSync(join(dir, cls));
      for (let i = 0; i < n; i++) await sharp(smooth, { raw: { width: 16, height: 16, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 95 }).toFile(join(dir, cls, `${i}.jpg`));
    }
    writeFileSync(join(dir, 'classes.txt'), 'zeta\nalpha\n');
    const d = await importSource(dir, { testFraction: 0.5 });
    expect(d.classes).toEqual(['zeta', 'alpha']);
    expect(d.shape).toEqual([16, 16, 1]);
    let maxDiff = 0;
    for (let p = 0; p < 256; p++) maxDiff = Math.max(maxDiff, Math.abs((d.train.x[p] as number) - (smooth[p] as number)));
    expect(maxDiff).toBeLessThanOrEqual(4);
  });

  it('derives the same split for the same seed and another for another seed', async () => {
    const dir = root();
    for (const cls of ['p', 'q']) for (let i = 0; i < 10; i++) await png(join(dir, cls, `${i}.png`), 2, 2, 1, i + (cls === 'q' ? 50 : 0));
    const ac = new AbortController();
    await expect(importSource(dir, { signal: ac.signal, onProgress: () => ac.abort() })).rejects.toThrow(/abort/i);
    const a = await importSource(dir, { seed: 5, testFraction: 0.3 });
    const b = await importSource(dir, { seed: 5, testFraction: 0.3 });
    const c = await importSource(dir, { seed: 6, testFraction: 0.3 });
    expect(a.test.count).toBe(6);
    expect([...a.test.x]).toEqual([...b.test.x]);
    expect([...a.test.x]).not.toEqual([...c.test.x]);
  });

  it('refuses hostile folders with one message naming the file', async () => {
    // An empty class folder.
    let dir = root();
    await png(join(dir, 'a', '0.png'), 2, 2, 1, 1);
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', 'notes.txt'), 'x');
    await expect(importSource(dir, {})).rejects.toThrow(/^b: empty class folder \(no PNG or JPEG images\)$/);
    // No class folders at all (an images folder by --format).
    dir = root();
    writeFileSync(join(dir, 'x.png'), 'x');
    await expect(importSource(dir, { format: 'images' })).rejects.toThrow(/no class folders/);
    await expect(importSource(dir, {})).rejects.toThrow(/no data set found/);
    // Images of two sizes.
    dir = root();
    await png(join(dir, 'a', '0.png'), 4, 3, 1, 1);
    await png(join(dir, 'a', '1.png'), 4, 3, 1, 2);
    await png(join(dir, 'b', '2.png'), 3, 4, 1, 3);
    await expect(importSource(dir, {})).rejects.toThrow(/^b\/2\.png is 3×4, a\/0\.png is 4×3: all images must have the same size$/);
    // A class folder that classes.txt does not name; a test class that train does not have.
    dir = root();
    await png(join(dir, 'a', '0.png'), 2, 2, 1, 1);
    await png(join(dir, 'b', '1.png'), 2, 2, 1, 2);
    writeFileSync(join(dir, 'classes.txt'), 'a\nc\n');
    await expect(importSource(dir, {})).rejects.toThrow(/^b: a class folder not in classes\.txt$/);
    dir = root();
    await png(join(dir, 'train', 'a', '0.png'), 2, 2, 1, 1);
    await png(join(dir, 'train', 'b', '1.png'), 2, 2, 1, 2);
    await png(join(dir, 'test', 'z', '2.png'), 2, 2, 1, 3);
    await expect(importSource(dir, {})).rejects.toThrow(/^test\/z: a class folder that the train classes do not have \(a, b\)$/);
    // A corrupt PNG.
    dir = root();
    await png(join(dir, 'a', '0.png'), 4, 4, 1, 1);
    await png(join(dir, 'b', '1.png'), 4, 4, 1, 2);
    const good = readFileSync(join(dir, 'b', '1.png'));
    writeFileSync(join(dir, 'b', '2.png'), Buffer.concat([good.subarray(0, 16), Buffer.from('garbage garbage garbage garbage')]));
    await expect(importSource(dir, {})).rejects.toThrow(/^b\/2\.png: (not a readable image|cannot decode) \(.+\)$/);
    // A truncated JPEG.
    dir = root();
    await png(join(dir, 'a', '0.png'), 32, 32, 3, 1);
    mkdirSync(join(dir, 'b'));
    const jpeg = await sharp(pixels(32, 32, 3, 7), { raw: { width: 32, height: 32, channels: 3 } }).jpeg().toBuffer();
    writeFileSync(join(dir, 'b', 'cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    await expect(importSource(dir, {})).rejects.toThrow(/^b\/cut\.jpg: (not a readable image|cannot decode) \(.*(premature|truncated|end).*\)$/i);
  });

  it('refuses a PNG whose header claims 100000×100000 before decoding it', async () => {
    const dir = root();
    await png(join(dir, 'a', '0.png'), 4, 4, 1, 1);
    mkdirSync(join(dir, 'b'));
    const bomb = bombPng(100000, 100000);
    expect(bomb.length).toBeLessThan(200);
    writeFileSync(join(dir, 'b', 'bomb.png'), bomb);
    const before = process.resourceUsage().maxRSS;
    await expect(importSource(dir, {})).rejects.toThrow(/^b\/bomb\.png: the header claims 100000×100000 pixels, more than the 4096×4096 an image may have; refused before decoding$/);
    expect(process.resourceUsage().maxRSS - before).toBeLessThan(64 * 1024);
  });
});
