/**
 * Decode an image folder into [count, height, width, channels] bytes with sharp. Each
 * image's header is read before its pixels: one past MAX_IMAGE_PIXELS (a decompression
 * bomb) or of another size than the first image is refused without decoding it. Grey
 * images stay one channel; from the first colour image on, the set is three channels
 * (the grey images so far are widened once, R = G = B), alpha is dropped.
 */
import { join } from 'node:path';
import type Sharp from 'sharp';
import type { DataSplit } from '../dataset.ts';
import { checkTrainCounts } from './classes.ts';
import { DataImportError, checkAborted, shortError } from './errors.ts';
import { type ImageFile, scanImageFolder } from './image-folder.ts';
import { DECODE_CONCURRENCY, MAX_IMAGE_PIXELS, checkXBytes } from './limits.ts';
import { Progress } from './progress.ts';
import { splitRule, stratifiedSplit } from './split.ts';
import type { ImportOptions, ImportedData } from './types.ts';

type SharpFn = typeof Sharp;
let sharpModule: Promise<SharpFn> | null = null;

/** sharp is loaded on the first image import, not when the app starts (a native module of ~30 MB). */
function loadSharp(): Promise<SharpFn> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    (err: unknown) => {
      sharpModule = null;
      throw new DataImportError(`image folders need the sharp module, which did not load (${shortError(err)})`);
    },
  );
  return sharpModule;
}

interface Store {
  width: number;
  height: number;
  channels: 1 | 3;
  /** [count, height, width, channels] */
  x: Uint8Array;
  grey: number;
  colour: number;
}

export async function importImageFolder(root: string, opts: ImportOptions): Promise<ImportedData> {
  const layout = await scanImageFolder(root, opts.signal);
  const rule = layout.test ? null : splitRule(opts);
  const files = layout.test ? [...layout.train, ...layout.test] : layout.train;
  const store = await decodeAll(root, files, opts);

  const n = files.length;
  const labels = Uint8Array.from(files, (f) => f.label);
  const rowSize = store.width * store.height * store.channels;
  const origin: Record<string, unknown> = {
    folders: layout.splitDirs ?? '.',
    images: n,
    classesFrom: layout.classesFrom,
    skipped: layout.skipped,
  };
  if (layout.skipped) origin['skippedExamples'] = layout.skippedExamples;
  if (store.channels === 3 && store.grey > 0) {
    origin['note'] = `${store.grey} grey and ${store.colour} colour images: all read as 3 channels (grey as R = G = B)`;
  }
  let splits: { train: DataSplit; test: DataSplit };
  if (layout.test) {
    const nTrain = layout.train.length;
    splits = {
      train: { x: store.x.subarray(0, nTrain * rowSize), labels: labels.subarray(0, nTrain), count: nTrain },
      test: { x: store.x.subarray(nTrain * rowSize), labels: labels.subarray(nTrain), count: n - nTrain },
    };
    origin['split'] = 'given';
  } else {
    splits = stratifiedSplit({ x: store.x, labels, count: n }, rowSize, layout.classes.length, rule!, '.');
    Object.assign(origin, { split: 'derived', testFraction: rule!.testFraction, seed: rule!.seed });
  }
  checkTrainCounts(layout.classes, splits.train.labels, splits.train.count, layout.splitDirs ? `${layout.splitDirs[0]}/` : '.');
  return {
    format: 'images',
    kind: 'image',
    shape: [store.height, store.width, store.channels],
    dtype: 'uint8',
    classes: layout.classes,
    ...splits,
    origin,
  };
}

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Read one image: header checks first, then pixels as 1 (grey) or 3 (colour) channels. */
async function decodeOne(sharp: SharpFn, root: string, rel: string, expect: { width: number; height: number; rel: string } | null): Promise<Decoded> {
  // sharp reads the file itself: no JS copy of it, whatever its size.
  const file = join(root, rel);
  try {
    let meta: Sharp.Metadata;
    try {
      // The header only (no pixel limit here, so an oversized one can be named with its size).
      meta = await sharp(file, { limitInputPixels: false }).metadata();
    } catch (err) {
      throw new DataImportError(`${rel}: not a readable image (${shortError(err)})`);
    }
    const { width = 0, height = 0 } = meta;
    if (width * height > MAX_IMAGE_PIXELS) {
      throw new DataImportError(`${rel}: the header claims ${width}×${height} pixels, more than the ${Math.sqrt(MAX_IMAGE_PIXELS)}×${Math.sqrt(MAX_IMAGE_PIXELS)} an image may have; refused before decoding`);
    }
    if (expect && (width !== expect.width || height !== expect.height)) {
      throw new DataImportError(`${rel} is ${width}×${height}, ${expect.rel} is ${expect.width}×${expect.height}: all images must have the same size`);
    }
    const grey = (meta.channels ?? 3) <= 2 && (meta.space === 'b-w' || meta.space === 'grey16');
    const channels = grey ? 1 : 3;
    const { data, info } = await sharp(file, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'truncated', sequentialRead: true })
      .removeAlpha()
      .toColourspace(grey ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== width || info.height !== height || data.length !== width * height * channels) {
      throw new DataImportError(`${rel}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×${channels}`);
    }
    return { data, width, height, channels };
  } catch (err) {
    if (err instanceof DataImportError) throw err;
    throw new DataImportError(`${rel}: cannot decode (${shortError(err)})`);
  }
}

async function decodeAll(root: string, files: ImageFile[], opts: ImportOptions): Promise<Store> {
  const n = files.length;
  const progress = new Progress(opts.onProgress, n, 'decoding images');
  checkAborted(opts.signal);
  // The first image sets the size (and is decoded alone so the message names it every time).
  const firstFile = files[0] as ImageFile;
  const sharp = await loadSharp();
  const first = await decodeOne(sharp, root, firstFile.rel, null);
  checkXBytes(n * first.width * first.height * first.channels, `${n} images of ${first.width}×${first.height}×${first.channels}`);
  const store: Store = { width: first.width, height: first.height, channels: first.channels, x: new Uint8Array(n * first.width * first.height * first.channels), grey: 0, colour: 0 };
  const expect = { width: first.width, height: first.height, rel: firstFile.rel };
  put(store, 0, first);
  let next = 1;
  let done = 1;
  let failed: unknown = null;
  progress.update(done);
  const worker = async () => {
    while (failed === null && next < n) {
      const i = next++;
      try {
        checkAborted(opts.signal);
        const img = await decodeOne(sharp, root, (files[i] as ImageFile).rel, expect);
        if (failed !== null) return;
        put(store, i, img);
        progress.update(++done);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, n) }, worker));
  if (failed !== null) throw failed;
  progress.end();
  return store;
}

/** Write image i into the store, widening the store to 3 channels at the first colour image. */
function put(store: Store, i: number, img: Decoded): void {
  const pixels = store.width * store.height;
  if (img.channels === 3 && store.channels === 1) {
    const n = store.x.length / pixels;
    checkXBytes(n * pixels * 3, `${n} images of ${store.width}×${store.height}×3`);
    const wide = new Uint8Array(n * pixels * 3);
    const g = store.x;
    for (let p = 0; p < g.length; p++) {
      const v = g[p] as number;
      wide[3 * p] = v;
      wide[3 * p + 1] = v;
      wide[3 * p + 2] = v;
    }
    store.x = wide;
    store.channels = 3;
  }
  if (img.channels === 1) store.grey++;
  else store.colour++;
  const at = i * pixels * store.channels;
  if (img.channels === store.channels) {
    store.x.set(img.data, at);
  } else {
    // A grey image into a colour store: R = G = B.
    const d = img.data;
    for (let p = 0; p < pixels; p++) {
      const v = d[p] as number;
      store.x[at + 3 * p] = v;
      store.x[at + 3 * p + 1] = v;
      store.x[at + 3 * p + 2] = v;
    }
  }
}
