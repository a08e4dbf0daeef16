/**
 * IDX folders (MNIST, Fashion-MNIST, EMNIST, KMNIST as they are downloaded): the four
 * files found by name (train|t10k|test × images|labels, `.gz` or not), each header
 * checked against its file's length (or its decompressed length) before the data is
 * kept. Images are [rows, cols, 1] unsigned bytes.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSplit } from '../dataset.ts';
import { CLASSES_FILE, checkTrainCounts, naturalSort, readClassesFile } from './classes.ts';
import { DataImportError, checkAborted } from './errors.ts';
import { type SizedLayout, isGzipName, readSized } from './gunzip.ts';
import { checkClassCount, checkXBytes } from './limits.ts';
import { Progress } from './progress.ts';
import { splitRule, stratifiedSplit } from './split.ts';
import type { ImportOptions, ImportedData } from './types.ts';

type Part = 'images' | 'labels';
type SplitName = 'train' | 'test';

const MAGIC: Record<Part, number> = { images: 0x00000803, labels: 0x00000801 };

/** The role a file name says it has, or null for a file that is not an IDX file. */
export function idxRole(name: string): { split: SplitName; part: Part } | null {
  const n = name.toLowerCase().replace(/\.gz$/, '');
  if (!/ubyte|(^|[-_.])idx[13]([-_.]|$)|\.idx$/.test(n)) return null;
  const images = /images?|idx3/.test(n);
  const labels = /labels?|idx1/.test(n);
  const train = /train/.test(n);
  const test = /t10k|test/.test(n);
  if (images === labels || train === test) return null;
  return { split: train ? 'train' : 'test', part: images ? 'images' : 'labels' };
}

/** Whether `names` (a folder's listing) hold an IDX data set. */
export function looksLikeIdx(names: readonly string[]): boolean {
  return names.some((n) => idxRole(n) !== null);
}

type Files = Record<SplitName, Partial<Record<Part, string>>>;

function pickFiles(names: readonly string[]): Files {
  const found: Record<string, string[]> = {};
  for (const name of names) {
    const role = idxRole(name);
    if (role) (found[`${role.split} ${role.part}`] ??= []).push(name);
  }
  const files: Files = { train: {}, test: {} };
  for (const [key, list] of Object.entries(found)) {
    const [split, part] = key.split(' ') as [SplitName, Part];
    // The same file extracted next to its .gz: read the extracted one.
    const plain = list.filter((n) => !isGzipName(n));
    const pick = list.length === 1 ? list : plain.length === 1 && list.every((n) => !isGzipName(n) || n.slice(0, -3) === plain[0]) ? plain : null;
    if (!pick) {
      throw new DataImportError(`several files look like the ${split} ${part}: ${list.sort().join(', ')}; point at a folder holding one data set`);
    }
    files[split][part] = pick[0] as string;
  }
  for (const split of ['train', 'test'] as const) {
    const { images, labels } = files[split];
    if (images && !labels) throw new DataImportError(`${images}: no ${split} labels file beside it (e.g. ${split === 'train' ? 'train' : 't10k'}-labels-idx1-ubyte)`);
    if (labels && !images) throw new DataImportError(`${labels}: no ${split} images file beside it (e.g. ${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte)`);
  }
  if (!files.train.images) {
    const t = files.test.images;
    throw new DataImportError(t ? `${t}: a test set but no train images (train-images-idx3-ubyte) beside it` : 'no IDX files found');
  }
  return files;
}

/**
 * The layout of an IDX header of `part`, for readSized. A labels file must hold one label
 * per image of its images file (`images`, read first): checked from the header, before
 * its data is allocated.
 */
function idxLayout(name: string, part: Part, images?: { name: string; count: number }): (prefix: Uint8Array) => SizedLayout | null {
  return (prefix) => {
    if (prefix.length < 4) return null;
    const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
    const magic = view.getUint32(0, false);
    if (magic !== MAGIC[part]) {
      const hex = (m: number) => `0x${m.toString(16).padStart(8, '0')}`;
      const other = magic === MAGIC[part === 'images' ? 'labels' : 'images'] ? ` (that is an IDX ${part === 'images' ? 'labels' : 'images'} file)` : '';
      throw new DataImportError(`${name}: magic number ${hex(magic)}, expected ${hex(MAGIC[part])} for ${part} (unsigned bytes, ${part === 'images' ? 3 : 1} dimensions)${other}`);
    }
    const ndims = magic & 0xff;
    const headerBytes = 4 + 4 * ndims;
    if (prefix.length < headerBytes) return null;
    const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
    if (dims.some((d) => d === 0)) throw new DataImportError(`${name}: the header has a zero dimension (${dims.join('×')})`);
    const bodyBytes = dims.reduce((a, b) => a * b, 1);
    if (part === 'images') checkXBytes(bodyBytes, `${name} (header: ${dims.join('×')})`);
    if (images && dims[0] !== images.count) throw new DataImportError(`${name}: ${dims[0]} labels for the ${images.count} images in ${images.name}`);
    return { headerBytes, bodyBytes };
  };
}

function headerDims(header: Uint8Array): number[] {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  return Array.from({ length: (header.length - 4) / 4 }, (_, i) => view.getUint32(4 + 4 * i, false));
}

interface RawSplit {
  x: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  labelsFile: string;
}

export async function importIdxFolder(dir: string, opts: ImportOptions): Promise<ImportedData> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new DataImportError(`${dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const files = pickFiles(names);
  const hasTest = !!files.test.images;
  const rule = hasTest ? null : splitRule(opts);
  const classFile = await readClassesFile(dir);

  // Progress in bytes of data over the files to read; sizes are known per file once its header is.
  const order = (hasTest ? (['train', 'test'] as const) : (['train'] as const)).flatMap((s) => [
    [s, 'images', files[s].images as string] as const,
    [s, 'labels', files[s].labels as string] as const,
  ]);
  const progress = new Progress(opts.onProgress, order.length * 1000, 'reading IDX files');
  const read: Partial<Record<SplitName, RawSplit>> = {};
  const got: Partial<Record<string, { dims: number[]; body: Uint8Array }>> = {};
  for (const [k, [split, part, name]] of order.entries()) {
    checkAborted(opts.signal);
    const imagesRead = got[`${split} images`];
    const forImages = part === 'labels' && imagesRead ? { name: files[split].images as string, count: imagesRead.dims[0] as number } : undefined;
    const { header, body } = await readSized(join(dir, name), name, idxLayout(name, part, forImages), {
      signal: opts.signal,
      onBytes: (done, total) => progress.update(k * 1000 + Math.floor((1000 * done) / total)),
    });
    got[`${split} ${part}`] = { dims: headerDims(header), body };
  }
  for (const split of hasTest ? (['train', 'test'] as const) : (['train'] as const)) {
    const img = got[`${split} images`]!;
    const lbl = got[`${split} labels`]!;
    const [n, rows, cols] = img.dims as [number, number, number];
    const imagesFile = files[split].images as string;
    const labelsFile = files[split].labels as string;
    if (lbl.dims[0] !== n) throw new DataImportError(`${labelsFile}: ${lbl.dims[0]} labels for the ${n} images in ${imagesFile}`);
    read[split] = { x: img.body, labels: lbl.body, count: n, rows, cols, labelsFile };
  }
  const train = read.train!;
  const test = read.test;
  if (test && (test.rows !== train.rows || test.cols !== train.cols)) {
    throw new DataImportError(`${files.test.images}: images are ${test.rows}×${test.cols}, the train images ${train.rows}×${train.cols}`);
  }
  checkXBytes(train.x.length + (test?.x.length ?? 0), dir);

  // Classes: classes.txt names label i on line i; else the label values present, in order.
  const parts = test ? [train, test] : [train];
  let classes: string[];
  if (classFile) {
    classes = classFile;
    for (const s of parts) {
      for (let i = 0; i < s.count; i++) {
        const v = s.labels[i] as number;
        if (v >= classes.length) throw new DataImportError(`${s.labelsFile} entry ${i}: label ${v} is not in ${CLASSES_FILE} (${classes.length} classes, labels 0–${classes.length - 1})`);
      }
    }
  } else {
    const present = new Uint8Array(256);
    for (const s of parts) for (let i = 0; i < s.count; i++) present[s.labels[i] as number] = 1;
    const values = [...present.keys()].filter((v) => present[v]);
    checkClassCount(values.length, files.train.labels as string);
    classes = values.map(String);
    const index = new Uint8Array(256);
    values.forEach((v, i) => (index[v] = i));
    if (values.some((v, i) => v !== i)) for (const s of parts) for (let i = 0; i < s.count; i++) s.labels[i] = index[s.labels[i] as number] as number;
  }
  progress.end();

  const rowSize = train.rows * train.cols;
  const origin: Record<string, unknown> = {
    files: order.map(([, , name]) => name),
    classesFrom: classFile ? CLASSES_FILE : 'label values',
  };
  let splits: { train: DataSplit; test: DataSplit };
  if (test) {
    splits = { train: { x: train.x, labels: train.labels, count: train.count }, test: { x: test.x, labels: test.labels, count: test.count } };
    origin['split'] = 'given';
  } else {
    checkTrainCounts(classes, train.labels, train.count, files.train.labels as string);
    splits = stratifiedSplit({ x: train.x, labels: train.labels, count: train.count }, rowSize, classes.length, rule!, files.train.images as string);
    origin['split'] = 'derived';
    origin['testFraction'] = rule!.testFraction;
    origin['seed'] = rule!.seed;
  }
  checkTrainCounts(classes, splits.train.labels, splits.train.count, `${files.train.labels}${classFile ? ` (classes from ${CLASSES_FILE})` : ''}`);
  return { format: 'idx', kind: 'image', shape: [train.rows, train.cols, 1], dtype: 'uint8', classes, ...splits, origin };
}
