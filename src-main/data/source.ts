/**
 * The trainer's side of data sets: a DataSource from the job becomes two splits ready
 * for training. A stored set is read from the lab's database with a read-only
 * connection of the trainer's own (the main process never holds the samples) and its
 * content is checked against the hash the run refers to, so a run trains on exactly the
 * data it names or fails saying so.
 */
import Database from 'better-sqlite3';
import type { DataSource } from '../contract/protocol.ts';
import { readDatasetRow, readSplit } from '../store/datasets.ts';
import { type LoadedDataset, type SampleSplit, datasetHash, sampleSplit } from './dataset.ts';
import { mnistSamples } from './mnist.ts';

export class DataSourceError extends Error {
  override name = 'DataSourceError';
}

export interface TrainingData {
  train: SampleSplit;
  test: SampleSplit;
  classes: number;
}

/** The last few sets read, by content hash: a trainer that runs again reads nothing twice. */
const cache = new Map<string, TrainingData>();
const KEEP = 2;

export function loadSource(source: DataSource): TrainingData {
  if (source.kind === 'mnist') return { train: mnistSamples('train'), test: mnistSamples('test'), classes: 10 };
  const hit = cache.get(source.hash);
  if (hit) return hit;
  let db: Database.Database;
  try {
    db = new Database(source.database, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new DataSourceError(`cannot open the lab's database ${source.database} to read data set ${source.datasetId}: ${(err as Error).message}`);
  }
  try {
    const row = readDatasetRow(db, source.datasetId);
    if (!row) throw new DataSourceError(`data set ${source.datasetId} is not in the lab's database (deleted?)`);
    if (row.hash !== source.hash) {
      throw new DataSourceError(`data set ${source.datasetId} "${row.name}" is not the data this run refers to (hash ${row.hash.slice(0, 12)}…, the run's ${source.hash.slice(0, 12)}…)`);
    }
    const train = readSplit(db, row, 'train');
    const test = readSplit(db, row, 'test');
    const loaded: LoadedDataset = { kind: row.kind, shape: row.shape, dtype: row.dtype, classes: row.classes, train, test };
    const actual = datasetHash(loaded);
    if (actual !== row.hash) throw new DataSourceError(`data set ${source.datasetId} "${row.name}": its samples no longer match their hash (the database is damaged)`);
    const out = {
      train: sampleSplit(row.kind, row.shape, row.normalisation, train),
      test: sampleSplit(row.kind, row.shape, row.normalisation, test),
      classes: row.classes.length,
    };
    cache.set(source.hash, out);
    while (cache.size > KEEP) cache.delete(cache.keys().next().value as string);
    return out;
  } finally {
    db.close();
  }
}
