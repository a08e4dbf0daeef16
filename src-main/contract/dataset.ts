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

export interface DatasetView {
  id: number;
  name: string;
  source: DatasetSource;
  /** The built-in it is (mnist, fashion-mnist), else null. */
  builtin: BuiltinDataset | null;
  kind: DatasetKind;
  /** image: [height, width, channels]; table: [features]. */
  shape: number[];
  inputSize: number;
  dtype: SampleDtype;
  classes: string[];
  train: SplitCounts;
  test: SplitCounts;
  /** sha-256 of the content (see data/dataset.ts datasetHash). */
  hash: string;
  /** What was read: file names, test fraction and seed of a derived split, skipped files. */
  origin: Record<string, unknown> | null;
  /** Bytes the samples take in the database (0 for MNIST, read from its package). */
  bytes: number;
  createdAt: number;
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
}
