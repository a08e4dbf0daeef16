/**
 * Named float32 tensors owned by a model or an adapter: little-endian BLOBs with
 * dtype, shape and a sha-256 checksum that is verified on every read, so a damaged
 * file shows up as an error naming the tensor instead of silently wrong weights.
 */
import type { NamedTensors } from '../contract/named.ts';
import { numel } from '../contract/named.ts';
import { bytesToFloat32, float32ToBytes, fromJson, sha256Hex, toJson } from './codec.ts';
import type { Db } from './database.ts';
import { ChecksumError, StoreError } from './errors.ts';

export type TensorOwner = { modelId: number } | { adapterId: number };

export interface TensorMeta {
  name: string;
  dtype: 'float32';
  shape: number[];
  checksum: string;
  bytes: number;
}

interface TensorRow {
  name: string;
  shape: string;
  data: Buffer;
  checksum: string;
}

type MetaRow = Omit<TensorRow, 'data'> & { bytes: number };

/** The owner as (model_id, adapter_id) columns, exactly one of them set. */
function ownerColumns(owner: TensorOwner): [number | null, number | null] {
  if ('modelId' in owner) return [owner.modelId, null];
  return [null, owner.adapterId];
}

/** One prepared statement per owner column, so each read uses its UNIQUE (owner, name) index. */
interface PerOwner<S> {
  model: S;
  adapter: S;
}

function pick<S>(stmts: PerOwner<S>, owner: TensorOwner): [S, number] {
  return 'modelId' in owner ? [stmts.model, owner.modelId] : [stmts.adapter, owner.adapterId];
}

function describeOwner(owner: TensorOwner): string {
  return 'modelId' in owner ? `model ${owner.modelId}` : `adapter ${owner.adapterId}`;
}

function checkShape(name: string, shape: unknown, length: number): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new StoreError(`tensor ${name}: shape must be a list of non-negative integers, got ${toJson(shape)}`);
  }
  const want = numel(shape as number[]);
  if (want !== length) throw new StoreError(`tensor ${name}: shape [${shape.join(', ')}] needs ${want} values, got ${length}`);
  return shape as number[];
}

export class TensorsRepo {
  readonly #db: Db;
  readonly #upsertModel;
  readonly #upsertAdapter;
  readonly #select;
  readonly #meta;
  readonly #delete;

  constructor(db: Db) {
    this.#db = db;
    // Two statements because an upsert needs the exact UNIQUE index it conflicts on.
    const cols = 'INSERT INTO tensors (model_id, adapter_id, name, dtype, shape, data, checksum) VALUES (?, ?, ?, ?, ?, ?, ?)';
    const update = 'DO UPDATE SET dtype = excluded.dtype, shape = excluded.shape, data = excluded.data, checksum = excluded.checksum';
    this.#upsertModel = db.prepare(`${cols} ON CONFLICT (model_id, name) ${update}`);
    this.#upsertAdapter = db.prepare(`${cols} ON CONFLICT (adapter_id, name) ${update}`);
    const both = <R>(sql: (col: string) => string) => ({
      model: db.prepare<[number], R>(sql('model_id')),
      adapter: db.prepare<[number], R>(sql('adapter_id')),
    });
    this.#select = both<TensorRow>((c) => `SELECT name, shape, data, checksum FROM tensors WHERE ${c} = ? ORDER BY id`);
    this.#meta = both<MetaRow>((c) => `SELECT name, shape, checksum, length(data) AS bytes FROM tensors WHERE ${c} = ? ORDER BY id`);
    this.#delete = both<never>((c) => `DELETE FROM tensors WHERE ${c} = ?`);
  }

  /** Stores every tensor in one transaction; a tensor with the same name is replaced. */
  put(owner: TensorOwner, tensors: NamedTensors): void {
    const [modelId, adapterId] = ownerColumns(owner);
    const stmt = modelId !== null ? this.#upsertModel : this.#upsertAdapter;
    const entries = Object.entries(tensors).map(([name, t]) => {
      if (!(t.data instanceof Float32Array)) throw new StoreError(`tensor ${name}: data must be a Float32Array`);
      return { name, shape: checkShape(name, t.shape, t.data.length), bytes: float32ToBytes(t.data) };
    });
    this.#db.transaction(() => {
      for (const e of entries) {
        stmt.run(modelId, adapterId, e.name, 'float32', toJson(e.shape), e.bytes, sha256Hex(e.bytes));
      }
    })();
  }

  /** Every tensor of the owner, bit-identical to what was put; throws ChecksumError on damage. */
  get(owner: TensorOwner): NamedTensors {
    const out: NamedTensors = {};
    const [select, id] = pick(this.#select, owner);
    for (const row of select.all(id)) {
      if (sha256Hex(row.data) !== row.checksum) throw new ChecksumError(row.name, describeOwner(owner));
      const shape = fromJson<number[]>(row.shape) ?? [];
      const data = bytesToFloat32(row.data);
      checkShape(row.name, shape, data.length);
      out[row.name] = { shape, data };
    }
    return out;
  }

  /** Tensor names in the order they were first stored. */
  names(owner: TensorOwner): string[] {
    const [meta, id] = pick(this.#meta, owner);
    return meta.all(id).map((r) => r.name);
  }

  /** Names, shapes and sizes without reading the data (for listings). */
  meta(owner: TensorOwner): TensorMeta[] {
    const [meta, id] = pick(this.#meta, owner);
    return meta.all(id).map((r) => ({
      name: r.name,
      dtype: 'float32',
      shape: fromJson<number[]>(r.shape) ?? [],
      checksum: r.checksum,
      bytes: r.bytes,
    }));
  }

  /** Removes the owner's tensors; returns how many went. */
  delete(owner: TensorOwner): number {
    const [del, id] = pick(this.#delete, owner);
    return del.run(id).changes;
  }
}
