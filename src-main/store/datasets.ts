/**
 * Data sets: one row of metadata each, and their samples as chunks of whole rows in
 * dataset_chunks (migration 0003 says why rows rather than files). A split is read back
 * into one preallocated typed array, chunk by chunk, so reading costs one copy of it.
 * MNIST's row has no chunks: it is read from its package (data/mnist.ts).
 */
import type { BuiltinDataset, DatasetKind, DatasetRecord, DatasetSource, SampleDtype, SplitName } from '../contract/dataset.ts';
import { inputSize } from '../contract/dataset.ts';
import type { DataSplit, LoadedDataset, Normalisation } from '../data/dataset.ts';
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';
import type { Dependents, Ref } from './errors.ts';
import { DependencyError, NotFoundError, StoreError, hasDependents } from './errors.ts';

export type { SplitName };

export interface StoredDataset extends DatasetRecord {
  trainCount: number;
  testCount: number;
  trainPerClass: number[];
  testPerClass: number[];
  normalisation: Normalisation;
}

export interface NewDataset {
  name: string;
  source: DatasetSource;
  builtin?: BuiltinDataset | null;
  data: LoadedDataset;
  normalisation: Normalisation;
  hash: string;
  origin?: Record<string, unknown> | null;
  trainPerClass: number[];
  testPerClass: number[];
}

interface DatasetRow {
  id: number;
  name: string;
  source: DatasetSource;
  builtin: BuiltinDataset | null;
  kind: DatasetKind;
  shape: string;
  dtype: SampleDtype;
  classes: string;
  train_count: number;
  test_count: number;
  train_per_class: string;
  test_per_class: string;
  normalisation: string;
  hash: string;
  origin: string | null;
  bytes: number;
  created_at: number;
}

function toDataset(r: DatasetRow): StoredDataset {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    builtin: r.builtin,
    kind: r.kind,
    shape: fromJson<number[]>(r.shape) ?? [],
    dtype: r.dtype,
    classes: fromJson<string[]>(r.classes) ?? [],
    trainCount: r.train_count,
    testCount: r.test_count,
    trainPerClass: fromJson<number[]>(r.train_per_class) ?? [],
    testPerClass: fromJson<number[]>(r.test_per_class) ?? [],
    normalisation: fromJson<Normalisation>(r.normalisation) ?? { mean: [], std: [] },
    hash: r.hash,
    origin: fromJson<Record<string, unknown>>(r.origin),
    bytes: r.bytes,
    createdAt: r.created_at,
  };
}

/** About 1 MiB of samples per chunk, and always whole rows. */
const CHUNK_BYTES = 1 << 20;

const bytesPerValue = (dtype: SampleDtype) => (dtype === 'uint8' ? 1 : 4);

/** Rows per chunk for a data set's samples (at least one). */
export function rowsPerChunk(shape: readonly number[], dtype: SampleDtype): number {
  return Math.max(1, Math.floor(CHUNK_BYTES / (inputSize(shape) * bytesPerValue(dtype))));
}

const asBytes = (a: Uint8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

interface ChunkRow {
  seq: number;
  first_row: number;
  data: Buffer;
}

/**
 * A split's samples and labels from the chunks, into fresh arrays of their own (one
 * copy). Used by the store and, with a read-only connection of its own, by the trainer.
 */
export function readSplit(db: Db, d: Pick<StoredDataset, 'id' | 'name' | 'shape' | 'dtype' | 'trainCount' | 'testCount'>, split: SplitName): DataSplit {
  const count = split === 'train' ? d.trainCount : d.testCount;
  const width = inputSize(d.shape);
  const x = d.dtype === 'uint8' ? new Uint8Array(count * width) : new Float32Array(count * width);
  const labels = new Uint8Array(count);
  const parts: [string, Uint8Array][] = [
    ['x', asBytes(x)],
    ['y', labels],
  ];
  const stmt = db.prepare<[number, string, string], ChunkRow>('SELECT seq, first_row, data FROM dataset_chunks WHERE dataset_id = ? AND split = ? AND part = ? ORDER BY seq');
  for (const [part, into] of parts) {
    let offset = 0;
    for (const row of stmt.iterate(d.id, split, part)) {
      if (offset + row.data.byteLength > into.byteLength) break;
      into.set(row.data, offset);
      offset += row.data.byteLength;
    }
    if (offset !== into.byteLength) {
      throw new StoreError(`data set ${d.id} "${d.name}": its ${split} ${part === 'x' ? 'samples' : 'labels'} are incomplete (${offset} of ${into.byteLength} bytes); the database is damaged`);
    }
  }
  return { x, labels, count };
}

/** One data set's row through any connection (the trainer reads with its own, read-only). */
export function readDatasetRow(db: Db, id: number): StoredDataset | undefined {
  const row = db.prepare<[number], DatasetRow>('SELECT * FROM datasets WHERE id = ?').get(id);
  return row && toDataset(row);
}

export class DatasetsRepo {
  readonly #db: Db;
  readonly #insert;
  readonly #insertChunk;
  readonly #get;
  readonly #byName;
  readonly #byHash;
  readonly #list;
  readonly #delete;
  readonly #depRuns;
  readonly #depModels;
  readonly #chunkAt;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare(
      `INSERT INTO datasets (name, source, builtin, kind, shape, dtype, classes, train_count, test_count,
                             train_per_class, test_per_class, normalisation, hash, origin, bytes, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertChunk = db.prepare<[number, string, string, number, number, Uint8Array], never>(
      'INSERT INTO dataset_chunks (dataset_id, split, part, seq, first_row, data) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[number], DatasetRow>('SELECT * FROM datasets WHERE id = ?');
    this.#byName = db.prepare<[string], DatasetRow>('SELECT * FROM datasets WHERE name = ?');
    this.#byHash = db.prepare<[string], DatasetRow>('SELECT * FROM datasets WHERE hash = ?');
    this.#list = db.prepare<[], DatasetRow>('SELECT * FROM datasets ORDER BY id');
    this.#delete = db.prepare<[number], never>('DELETE FROM datasets WHERE id = ?');
    this.#depRuns = db.prepare<[number], Ref>('SELECT id, name FROM runs WHERE dataset_id = ? ORDER BY id');
    this.#depModels = db.prepare<[number], Ref>('SELECT id, name FROM models WHERE dataset_id = ? ORDER BY id');
    this.#chunkAt = db.prepare<[number, string, string, number], ChunkRow>(
      `SELECT seq, first_row, data FROM dataset_chunks WHERE dataset_id = ? AND split = ? AND part = ? AND first_row <= ?
       ORDER BY first_row DESC LIMIT 1`,
    );
  }

  /** Stores the data set and all its samples in one transaction; the new row. */
  create(n: NewDataset): StoredDataset {
    const { data } = n;
    const per = rowsPerChunk(data.shape, data.dtype);
    const width = inputSize(data.shape);
    return this.#db.transaction(() => {
      let bytes = 0;
      for (const s of [data.train, data.test]) bytes += s.x.byteLength + s.labels.byteLength;
      const info = this.#insert.run(
        n.name,
        n.source,
        n.builtin ?? null,
        data.kind,
        toJson(data.shape),
        data.dtype,
        toJson(data.classes),
        data.train.count,
        data.test.count,
        toJson(n.trainPerClass),
        toJson(n.testPerClass),
        toJson(n.normalisation),
        n.hash,
        n.origin ? toJson(n.origin) : null,
        bytes,
        Date.now(),
      );
      const id = Number(info.lastInsertRowid);
      for (const [name, s] of [['train', data.train], ['test', data.test]] as const) {
        const x = asBytes(s.x);
        const rowBytes = width * bytesPerValue(data.dtype);
        for (let first = 0, seq = 0; first < s.count; first += per, seq++) {
          const last = Math.min(first + per, s.count);
          this.#insertChunk.run(id, name, 'x', seq, first, x.subarray(first * rowBytes, last * rowBytes));
          this.#insertChunk.run(id, name, 'y', seq, first, s.labels.subarray(first, last));
        }
      }
      return this.get(id);
    })();
  }

  find(id: number): StoredDataset | undefined {
    const row = this.#get.get(id);
    return row && toDataset(row);
  }

  get(id: number): StoredDataset {
    const found = this.find(id);
    if (!found) throw new NotFoundError('data set', id);
    return found;
  }

  findByName(name: string): StoredDataset | undefined {
    const row = this.#byName.get(name);
    return row && toDataset(row);
  }

  findByHash(hash: string): StoredDataset | undefined {
    const row = this.#byHash.get(hash);
    return row && toDataset(row);
  }

  /** Oldest first (MNIST, then the order they were added). */
  list(): StoredDataset[] {
    return this.#list.all().map(toDataset);
  }

  readSplit(id: number, split: SplitName): DataSplit {
    return readSplit(this.#db, this.get(id), split);
  }

  /** The labels of a split, without its samples. */
  readLabels(id: number, split: SplitName): Uint8Array {
    const d = this.get(id);
    const labels = new Uint8Array(split === 'train' ? d.trainCount : d.testCount);
    let offset = 0;
    for (const row of this.#db.prepare<[number, string], ChunkRow>("SELECT seq, first_row, data FROM dataset_chunks WHERE dataset_id = ? AND split = ? AND part = 'y' ORDER BY seq").iterate(id, split)) {
      if (offset + row.data.byteLength > labels.byteLength) break;
      labels.set(row.data, offset);
      offset += row.data.byteLength;
    }
    if (offset !== labels.byteLength) throw new StoreError(`data set ${d.id} "${d.name}": its ${split} labels are incomplete; the database is damaged`);
    return labels;
  }

  /** Some samples of a stored split (raw values) with their labels, without reading the rest. */
  readSamples(id: number, split: SplitName, indices: readonly number[]): { index: number; label: number; values: Uint8Array | Float32Array }[] {
    const d = this.get(id);
    const count = split === 'train' ? d.trainCount : d.testCount;
    const width = inputSize(d.shape);
    const per = rowsPerChunk(d.shape, d.dtype);
    const out = [];
    for (const index of indices) {
      if (!(Number.isInteger(index) && index >= 0 && index < count)) throw new StoreError(`data set ${d.id} "${d.name}" has no ${split} sample ${index} (it has ${count})`);
      const xs = this.#chunkAt.get(id, split, 'x', index);
      const ys = this.#chunkAt.get(id, split, 'y', index);
      if (!xs || !ys || xs.first_row !== Math.floor(index / per) * per) throw new StoreError(`data set ${d.id} "${d.name}": ${split} sample ${index} is missing; the database is damaged`);
      const row = index - xs.first_row;
      const bytes = width * bytesPerValue(d.dtype);
      const raw = new Uint8Array(xs.data.buffer, xs.data.byteOffset + row * bytes, bytes);
      const values = d.dtype === 'uint8' ? raw.slice() : new Float32Array(raw.slice().buffer);
      out.push({ index, label: ys.data[row] as number, values });
    }
    return out;
  }

  /** Runs and models that use the data set. */
  dependents(id: number): Dependents {
    return { runs: this.#depRuns.all(id), adapters: [], models: this.#depModels.all(id) };
  }

  /** Deletes the data set and its samples; refused while runs or models use it. */
  delete(id: number): void {
    this.#db.transaction(() => {
      const d = this.get(id);
      const deps = this.dependents(id);
      if (hasDependents(deps)) throw new DependencyError({ id, name: d.name }, deps, 'data set');
      this.#delete.run(id);
    })();
  }
}
