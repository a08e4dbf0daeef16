/**
 * Data sets as every side sees them: the kinds, the limits, and the view the UI and the
 * CLI show. The samples themselves never cross the contract except as a few gallery
 * samples (DatasetSample).
 */

export const DATASET_KINDS = ['image', 'table'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

export const SAMPLE_DTYPES = ['uint8', 'float32'] as const;
export type SampleDtype = (typeof SAMPLE_DTYPES)[number];

/** Where a data set came from: a built-in, or the import format it was read from. */
export const DATASET_SOURCES = ['builtin', 'idx', 'csv', 'images'] as const;
export type DatasetSource = (typeof DATASET_SOURCES)[number];
export type ImportFormat = Exclude<DatasetSource, 'builtin'>;
export const IMPORT_FORMATS = ['idx', 'csv', 'images'] as const satisfies readonly ImportFormat[];

/** Labels are stored as one byte, predictions too. */
export const MAX_CLASSES = 256;

/** MNIST is always row 1: the migration that introduced data sets put it there. */
export const MNIST_DATASET_ID = 1;

/** Built-in data sets the lab can add without a file. */
export const BUILTIN_DATASETS = ['mnist', 'fashion-mnist'] as const;
export type BuiltinDataset = (typeof BUILTIN_DATASETS)[number];

/** Data set names: one line of at most 64 characters, starting with a letter or digit (the Lab also refuses a bare number: that reads as an id). */
export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,63}$/;
export const DATASET_NAME_RULE = '1–64 letters, digits, spaces and . _ - ( ) +, starting with a letter or digit, not only digits';

/** The problem with a data set name, or null when it is one. */
export function datasetNameIssue(name: string): string | null {
  const t = name.trim();
  if (t === '') return 'a data set needs a name';
  if (!DATASET_NAME.test(t)) return `"${name}" is not a data set name: ${DATASET_NAME_RULE}`;
  if (/^\d+$/.test(t)) return `a data set name cannot be a bare number ("${t}" would read as an id)`;
  return null;
}

/**
 * The name a data set imported from a file or folder gets by default: its last path
 * segment without extensions, in the characters a name may have.
 */
export function defaultDatasetName(path: string): string {
  let base = path.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  for (let m = /\.[A-Za-z0-9]{1,8}$/.exec(base); m && m.index > 0; m = /\.[A-Za-z0-9]{1,8}$/.exec(base)) base = base.slice(0, m.index);
  const clean = base.replace(/[^A-Za-z0-9 ._()+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return clean && !/^\d+$/.test(clean) ? clean : `data ${clean || 'set'}`;
}

/** datasetSamples answers at most this many samples, and this many values in all, per call. */
export const MAX_SAMPLES_PER_CALL = 500;
export const MAX_SAMPLE_VALUES = 4_000_000;

/** How many samples of this width one datasetSamples call may ask for. */
export function samplesPerCall(inputSize: number): number {
  return Math.max(1, Math.min(MAX_SAMPLES_PER_CALL, Math.floor(MAX_SAMPLE_VALUES / Math.max(1, inputSize))));
}

/** Values per sample: height × width × channels, or the number of features. */
export function inputSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** "28×28 grey", "32×32 colour", "13 features". */
export function describeShape(kind: DatasetKind, shape: readonly number[]): string {
  if (kind === 'table') return `${shape[0]} feature${shape[0] === 1 ? '' : 's'}`;
  return `${shape[0]}×${shape[1]} ${shape[2] === 1 ? 'grey' : 'colour'}`;
}

export interface SplitCounts {
  count: number;
  /** Samples per class, in class order. */
  perClass: number[];
}

export const SPLITS = ['train', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** What the store keeps of a data set and its view shows alike. */
export interface DatasetRecord {
  id: number;
  name: string;
  source: DatasetSource;
  /** The built-in it is (mnist, fashion-mnist), else null. */
  builtin: BuiltinDataset | null;
  kind: DatasetKind;
  /** image: [height, width, channels]; table: [features]. */
  shape: number[];
  dtype: SampleDtype;
  classes: string[];
  /** sha-256 of the content (see data/dataset.ts datasetHash). */
  hash: string;
  /** What was read: file names, test fraction and seed of a derived split, skipped files. */
  origin: Record<string, unknown> | null;
  /** Bytes the samples take in the database (0 for MNIST, read from its package). */
  bytes: number;
  createdAt: number;
}

export interface DatasetView extends DatasetRecord {
  inputSize: number;
  train: SplitCounts;
  test: SplitCounts;
  /** Runs and models that use it (delete is refused while runs do). */
  usedBy: { runs: { id: number; name: string }[]; models: { id: number; name: string }[] };
}

/** A built-in the lab can add, and whether it has been. */
export interface BuiltinView {
  name: BuiltinDataset;
  title: string;
  description: string;
  /** The data set's id once added. */
  datasetId: number | null;
}

export interface DatasetList {
  datasets: DatasetView[];
  builtins: BuiltinView[];
}

/** One sample for the gallery: raw bytes of an image (HWC) or a table row's values. */
export interface DatasetSample {
  index: number;
  label: number;
  /** Images: 0–255 bytes, height × width × channels. Tables: the row's feature values. */
  values: number[];
}

export interface DatasetImportRequest {
  /** A file or folder: a plain name inside the exchange folder, or (CLI) any path. */
  path: string;
  name?: string;
  format?: ImportFormat;
  /** For sources without a train/test split: the fraction of each class held out (default 0.2). */
  testFraction?: number;
  seed?: number;
  /** CSV tables: the column holding the class (default: label, class, target, species … else the first). */
  labelColumn?: string;
}
