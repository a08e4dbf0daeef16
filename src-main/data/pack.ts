/**
 * A stored data set as one file: how it travels to a remote worker (as a Redis blob)
 * and how a worker's trainer reads it from the worker's cache. Layout, all little-endian:
 *
 *   u64 n | n bytes of UTF-8 JSON header | train x | train labels | test x | test labels
 *
 * The header holds what the samples mean (kind, shape, dtype, classes, counts,
 * normalisation); every part's length follows from it, so a file whose bytes do not add
 * up, whose labels leave the classes or whose header is not one is refused by name.
 * Reading checks the samples against the content hash the run refers to (datasetHash),
 * so a worker trains on exactly the data its run names.
 */
import { DATASET_KINDS, MAX_CLASSES, SAMPLE_DTYPES, inputSize } from '../contract/dataset.ts';
import { type DataSplit, type LoadedDataset, type Normalisation, datasetHash } from './dataset.ts';

export class PackError extends Error {
  override name = 'PackError';
}

const FORMAT = 'lora-lab-dataset';
const VERSION = 1;
/** Headers are a few kB (class names, per-channel statistics); more is not a header. */
const MAX_HEADER = 1 << 20;

interface Header {
  format: typeof FORMAT;
  version: number;
  kind: LoadedDataset['kind'];
  shape: number[];
  dtype: LoadedDataset['dtype'];
  classes: string[];
  train: number;
  test: number;
  normalisation: Normalisation;
}

export interface PackedDataset {
  data: LoadedDataset;
  normalisation: Normalisation;
}

const bytesOf = (a: Uint8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function packDataset(data: LoadedDataset, normalisation: Normalisation): Uint8Array {
  const header: Header = { format: FORMAT, version: VERSION, kind: data.kind, shape: data.shape, dtype: data.dtype, classes: data.classes, train: data.train.count, test: data.test.count, normalisation };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const parts = [bytesOf(data.train.x), data.train.labels, bytesOf(data.test.x), data.test.labels];
  const out = new Uint8Array(8 + json.byteLength + parts.reduce((n, p) => n + p.byteLength, 0));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let offset = 8 + json.byteLength;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** The data set in `bytes`, checked to be the one of content hash `hash`; throws PackError saying what is wrong. */
export function unpackDataset(bytes: Uint8Array, hash: string): PackedDataset {
  if (bytes.byteLength < 8) throw new PackError(`a data set file of ${bytes.byteLength} bytes has no header`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > bytes.byteLength) throw new PackError(`the header claims ${n} bytes of a ${bytes.byteLength}-byte file`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new PackError('the header is not JSON');
  }
  const h = checkHeader(raw);
  const width = inputSize(h.shape);
  const size = h.dtype === 'uint8' ? 1 : 4;
  const want = 8 + n + (h.train + h.test) * (width * size + 1);
  if (bytes.byteLength !== want) throw new PackError(`${h.train} + ${h.test} samples of ${width} ${h.dtype} values take ${want} bytes, the file has ${bytes.byteLength}`);
  let offset = 8 + n;
  const take = (len: number) => new Uint8Array(bytes.subarray(offset, (offset += len))); // a copy (a Buffer's slice is not): aligned, and the file's buffer can go
  const split = (count: number, name: string): DataSplit => {
    const xb = take(count * width * size);
    const x = h.dtype === 'uint8' ? xb : new Float32Array(xb.buffer, 0, count * width);
    const labels = take(count);
    const bad = labels.findIndex((l) => l >= h.classes.length);
    if (bad >= 0) throw new PackError(`${name} sample ${bad} has label ${labels[bad]}, the set has ${h.classes.length} classes`);
    if (x instanceof Float32Array && !x.every(Number.isFinite)) throw new PackError(`${name} holds a value that is not a finite number`);
    return { x, labels, count };
  };
  const data: LoadedDataset = { kind: h.kind, shape: h.shape, dtype: h.dtype, classes: h.classes, train: split(h.train, 'train'), test: split(h.test, 'test') };
  const actual = datasetHash(data);
  if (actual !== hash) throw new PackError(`its samples are not the data set the run refers to (hash ${actual.slice(0, 12)}…, the run's ${hash.slice(0, 12)}…)`);
  return { data, normalisation: h.normalisation };
}

function checkHeader(raw: unknown): Header {
  const h = raw as Partial<Header> | null;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!h || typeof h !== 'object' || h.format !== FORMAT) throw new PackError('not a LoRA Lab data set file');
  if (h.version !== VERSION) throw new PackError(`data set file version ${String(h.version)}, this LoRA Lab reads version ${VERSION}`);
  if (!DATASET_KINDS.includes(h.kind as never)) throw new PackError(`kind ${JSON.stringify(h.kind)} is not one of ${DATASET_KINDS.join(', ')}`);
  if (!SAMPLE_DTYPES.includes(h.dtype as never)) throw new PackError(`dtype ${JSON.stringify(h.dtype)} is not one of ${SAMPLE_DTYPES.join(', ')}`);
  const shape = h.shape;
  const shapeOk = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d > 0) && (h.kind === 'image' ? shape.length === 3 && (shape[2] === 1 || shape[2] === 3) : shape.length === 1);
  if (!shapeOk || inputSize(shape) > 1 << 24) throw new PackError(`shape ${JSON.stringify(shape)} is not a ${h.kind}'s`);
  const classes = h.classes;
  if (!Array.isArray(classes) || classes.length < 1 || classes.length > MAX_CLASSES || !classes.every((c) => typeof c === 'string' && c.length <= 200)) throw new PackError(`classes must be 1–${MAX_CLASSES} names`);
  if (!count(h.train) || !count(h.test)) throw new PackError('the split counts are not counts');
  const groups = h.kind === 'image' ? shape[2] : shape[0];
  const stats = (a: unknown, positive: boolean) => Array.isArray(a) && a.length === groups && a.every((x) => Number.isFinite(x) && (!positive || x > 0));
  const norm = h.normalisation;
  if (!norm || !stats(norm.mean, false) || !stats(norm.std, true)) throw new PackError(`the normalisation must give a mean and a positive std for each of ${groups} ${h.kind === 'image' ? 'channels' : 'features'}`);
  return h as Header;
}
