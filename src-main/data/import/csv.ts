/**
 * CSV data sets: one file (split by seed) or a train/test pair in a folder. Pixel
 * layouts (label,pixel0…pixelN with every value a byte) become [h, w, 1] images; any
 * other numeric table becomes [features] float32 with one label column. Class names
 * are the distinct labels sorted naturally, or a classes.txt beside the file(s).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataSplit } from '../dataset.ts';
import { CLASSES_FILE, checkTrainCounts, naturalSort, readClassesFile } from './classes.ts';
import { type LabelTable, type ParsedCsv, newLabelTable, parseCsvFile } from './csv-rows.ts';
import { DataImportError } from './errors.ts';
import { checkClassCount, checkXBytes } from './limits.ts';
import { Progress } from './progress.ts';
import { splitRule, stratifiedSplit } from './split.ts';
import type { ImportOptions, ImportedData } from './types.ts';

export interface CsvFiles {
  train: string;
  test: string | null;
}

const isCsv = (n: string) => /\.csv$/i.test(n);

/** Which CSV files of a folder listing make the data set, or null when there are none. */
export function pickCsvFiles(names: readonly string[]): CsvFiles | null {
  const csv = names.filter(isCsv).sort();
  if (csv.length === 0) return null;
  const train = csv.filter((n) => /train/i.test(n));
  const test = csv.filter((n) => /test/i.test(n) && !/train/i.test(n));
  if (train.length === 1 && test.length === 1) return { train: train[0] as string, test: test[0] as string };
  if (csv.length === 1) return { train: csv[0] as string, test: null };
  throw new DataImportError(`several CSV files (${csv.join(', ')}): expected one file, or one *train*.csv and one *test*.csv`);
}

/** Import `files` (names inside `dir`). */
export async function importCsv(dir: string, files: CsvFiles, opts: ImportOptions): Promise<ImportedData> {
  const rule = files.test ? null : splitRule(opts);
  const classFile = await readClassesFile(dir);
  const names = files.test ? [files.train, files.test] : [files.train];
  const sizes = await Promise.all(
    names.map(async (n) => {
      try {
        return (await stat(join(dir, n))).size;
      } catch (err) {
        throw new DataImportError(`${n}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }),
  );
  const total = sizes.reduce((a, b) => a + b, 0);
  const progress = new Progress(opts.onProgress, total, 'reading CSV');
  const table = newLabelTable();

  const parsed: ParsedCsv[] = [];
  let before = 0;
  for (const [k, name] of names.entries()) {
    const p = await parseCsvFile(join(dir, name), name, table, {
      labelColumn: opts.labelColumn,
      expect: parsed[0]?.header,
      signal: opts.signal,
      onBytes: (b) => progress.update(before + b),
    });
    parsed.push(p);
    before += sizes[k] as number;
  }
  progress.end();

  // One layout for the set: if either file had to be read as a table, both are.
  const first = parsed[0] as ParsedCsv;
  const pixels = parsed.every((p) => p.pixels) ? first.pixels : null;
  const notes = parsed.map((p) => p.notPixels).filter((n): n is string => n !== null);
  for (const p of parsed) {
    if (!pixels && p.x instanceof Uint8Array) {
      checkXBytes(p.x.length * 4, `${names.join(' + ')} (as float32)`);
      p.x = Float32Array.from(p.x);
    }
  }
  const rowSize = first.header.names.length - 1;

  const classes = classFile ?? naturalSort(table.names);
  checkClassCount(classes.length, classFile ? CLASSES_FILE : `${names.join(' + ')}, column ${first.header.names[first.header.labelCol]}`);
  const lut = labelMap(table, classes, classFile !== null);
  for (const p of parsed) for (let i = 0; i < p.count; i++) p.labels[i] = lut[p.labels[i] as number] as number;

  const labelName = first.header.names[first.header.labelCol] as string;
  const origin: Record<string, unknown> = {
    files: names,
    layout: pixels ? 'pixels' : 'table',
    labelColumn: labelName,
    classesFrom: classFile ? CLASSES_FILE : 'label values',
  };
  if (notes.length) origin['note'] = notes.join('; ');
  let splits: { train: DataSplit; test: DataSplit };
  if (files.test) {
    const [tr, te] = parsed as [ParsedCsv, ParsedCsv];
    splits = { train: { x: tr.x, labels: tr.labels, count: tr.count }, test: { x: te.x, labels: te.labels, count: te.count } };
    origin['split'] = 'given';
  } else {
    checkTrainCounts(classes, first.labels, first.count, files.train);
    splits = stratifiedSplit({ x: first.x, labels: first.labels, count: first.count }, rowSize, classes.length, rule!, files.train);
    Object.assign(origin, { split: 'derived', testFraction: rule!.testFraction, seed: rule!.seed });
  }
  checkTrainCounts(classes, splits.train.labels, splits.train.count, `${files.train}${classFile ? ` (classes from ${CLASSES_FILE})` : ''}`);
  if (pixels) return { format: 'csv', kind: 'image', shape: [pixels[0], pixels[1], 1], dtype: 'uint8', classes, ...splits, origin };
  return { format: 'csv', kind: 'table', shape: [rowSize], dtype: 'float32', classes, ...splits, origin };
}

/** Label id → class index: a class name, or (with classes.txt) an index 0 … n − 1 into it. */
function labelMap(table: LabelTable, classes: readonly string[], fromFile: boolean): Uint8Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  return Uint8Array.from(table.names, (name, id) => {
    const byName = index.get(name);
    if (byName !== undefined) return byName;
    if (fromFile && /^\d+$/.test(name) && Number(name) < classes.length) return Number(name);
    const seen = table.firstSeen[id]!;
    throw new DataImportError(`${seen.file} line ${seen.line}: label "${name}" is not in ${CLASSES_FILE} (${classes.length} classes)`);
  });
}
