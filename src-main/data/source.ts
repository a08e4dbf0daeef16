/**
 * The trainer's side of data sets: a DataSource from the job becomes two splits ready
 * for training. A stored set is read from the lab's database with a read-only
 * connection of the trainer's own (the main process never holds the samples) and its
 * content is checked against the hash the run refers to, so a run trains on exactly the
 * data it names or fails saying so. A remote worker's trainer reads the set's file from
 * the worker's cache (data/pack.ts), checked the same way.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DataSource } from '../contract/protocol.ts';
import { readDatasetRow, readSplit } from '../store/datasets.ts';
import { type LoadedDataset, type Normalisation, type SampleSplit, datasetHash, sampleSplit } from './dataset.ts';
import { mnistSamples } from './mnist.ts';
import { PackError, unpackDataset } from './pack.ts';

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
  const out = source.kind === 'file' ? loadFile(source.path, source.hash) : loadStored(source);
  cache.set(source.hash, out);
  while (cache.size > KEEP) cache.delete(cache.keys().next().value as string);
  return out;
}

/** A data set file (a remote worker's copy of the host's set). */
function loadFile(path: string, hash: string): TrainingData {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DataSourceError(`cannot read the data set file ${path}: ${(err as Error).message}`);
  }
  try {
    const { data, normalisation } = unpackDataset(bytes, hash);
    return {
      train: sampleSplit(data.kind, data.shape, normalisation, data.train),
      test: sampleSplit(data.kind, data.shape, normalisation, data.test),
      classes: data.classes.length,
    };
  } catch (err) {
    if (err instanceof PackError) throw new DataSourceError(`the data set file ${path}: ${err.message}`);
    throw err;
  }
}

function loadStored(source: Extract<DataSource, { kind: 'stored' }>): TrainingData {
  const { data, normalisation } = readStored(source);
  return {
    train: sampleSplit(data.kind, data.shape, normalisation, data.train),
    test: sampleSplit(data.kind, data.shape, normalisation, data.test),
    classes: data.classes.length,
  };
}

/**
 * A stored set's samples and normalisation, read with a read-only connection of the
 * caller's own and checked against the run's hash (the trainer; the host packing a set
 * for remote workers).
 */
export function readStored(source: Extract<DataSource, { kind: 'stored' }>): { data: LoadedDataset; normalisation: Normalisation } {
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
    const data: LoadedDataset = { kind: row.kind, shape: row.shape, dtype: row.dtype, classes: row.classes, train, test };
    const actual = datasetHash(data);
    if (actual !== row.hash) throw new DataSourceError(`data set ${source.datasetId} "${row.name}": its samples no longer match their hash (the database is damaged)`);
    return { data, normalisation: row.normalisation };
  } finally {
    db.close();
  }
}
