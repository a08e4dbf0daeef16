/** What importSource takes and gives back. */
import type { ImportFormat } from '../../contract/dataset.ts';
import type { LoadedDataset } from '../dataset.ts';
import type { ProgressFn } from './progress.ts';

export type { ImportFormat };

export interface ImportOptions {
  /** Skip detection and read PATH as this format. */
  format?: ImportFormat | undefined;
  /** Sources without a train/test split: the fraction of each class held out, in (0, 1); default 0.2. */
  testFraction?: number | undefined;
  /** Seed of that split (an integer, 0 … 2^32 − 1); default 0. */
  seed?: number | undefined;
  /** CSV tables: the label column's name (default: label, class, target or y, else the first column). */
  labelColumn?: string | undefined;
  onProgress?: ProgressFn | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A data set as read, not yet stored. `train.x` and `test.x` may be views of one buffer
 * (a derived split reorders the rows in place): use byteOffset/byteLength, not `.buffer`.
 */
export type ImportedData = LoadedDataset & {
  format: ImportFormat;
  /** What was read: file names relative to PATH, the split rule when one was derived, files skipped. */
  origin: Record<string, unknown>;
};
