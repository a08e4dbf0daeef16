/**
 * importSource: read a user's data set (IDX folder, CSV file or folder, image folder)
 * into memory. Pure: nothing is stored; the Lab keeps the result in one transaction.
 * Every refusal is a DataImportError whose message names the file and row or entry.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { importCsv, pickCsvFiles } from './csv.ts';
import { DataImportError, checkAborted } from './errors.ts';
import { looksLikeImageFolder } from './image-folder.ts';
import { importImageFolder } from './images.ts';
import { importIdxFolder, looksLikeIdx } from './idx.ts';
import type { ImportFormat, ImportOptions, ImportedData } from './types.ts';

export { DataImportError } from './errors.ts';
export type { ImportFormat, ImportOptions, ImportedData } from './types.ts';
export type { ProgressFn } from './progress.ts';
export { MAX_GUNZIP_BYTES, MAX_IMAGE_PIXELS, MAX_X_BYTES } from './limits.ts';
export { DEFAULT_SEED, DEFAULT_TEST_FRACTION } from './split.ts';

/** What PATH holds, judged from its name and listing only. */
export async function detectFormat(path: string): Promise<ImportFormat> {
  const s = await statOrFail(path);
  if (s.isFile()) {
    if (/\.csv$/i.test(path)) return 'csv';
    throw new DataImportError(`${basename(path)}: not a CSV file; point at a .csv file or at a folder (IDX files, CSV files or class folders)`);
  }
  const entries = await readdir(path, { withFileTypes: true });
  const names = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
  if (looksLikeIdx(names)) return 'idx';
  if (names.some((n) => /\.csv$/i.test(n))) return 'csv';
  if (looksLikeImageFolder(entries)) return 'images';
  throw new DataImportError(`${basename(path) || path}: no data set found (expected IDX files, CSV files, or one folder per class)`);
}

export async function importSource(path: string, opts: ImportOptions = {}): Promise<ImportedData> {
  checkAborted(opts.signal);
  const format = opts.format ?? (await detectFormat(path));
  const s = await statOrFail(path);
  switch (format) {
    case 'csv': {
      if (s.isFile()) return importCsv(dirname(path), { train: basename(path), test: null }, opts);
      const files = pickCsvFiles(await readdir(path));
      if (!files) throw new DataImportError(`${basename(path)}: no .csv file in this folder`);
      return importCsv(path, files, opts);
    }
    case 'idx':
      if (!s.isDirectory()) throw new DataImportError(`${basename(path)}: IDX data sets are read from a folder holding the images and labels files`);
      return importIdxFolder(path, opts);
    case 'images':
      if (!s.isDirectory()) throw new DataImportError(`${basename(path)}: an image data set is a folder with one subfolder per class`);
      return importImageFolder(path, opts);
    default:
      throw new DataImportError(`unknown format ${String(format)} (idx, csv or images)`);
  }
}

async function statOrFail(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    throw new DataImportError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
