/**
 * Content-addressed blobs in Redis: base weights, data sets and results travel once
 * per content (SET NX by sha256, with a TTL), and whoever reads one checks the bytes
 * against the hash it asked for — a blob cannot stand in for another. Workers keep
 * what they fetched in a cache folder of their own, by hash.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { DataSource } from '../contract/protocol.ts';
import { packDataset } from '../data/pack.ts';
import { DataSourceError, readStored } from '../data/source.ts';
import { sha256Hex } from '../store/codec.ts';
import { KEYS, type RemoteJob, TTL_SECONDS } from './protocol.ts';

export class BlobError extends Error {
  override name = 'BlobError';
}

/** Stores `bytes` under their hash (once: an existing blob only has its TTL renewed); returns the hash. */
export async function putBlob(redis: Redis, bytes: Uint8Array): Promise<string> {
  const hash = sha256Hex(bytes);
  const key = KEYS.blob(hash);
  const set = await redis.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', TTL_SECONDS, 'NX');
  if (set === null) await redis.expire(key, TTL_SECONDS);
  return hash;
}

export async function getBlob(redis: Redis, hash: string): Promise<Uint8Array> {
  const bytes = await redis.getBuffer(KEYS.blob(hash));
  if (!bytes) throw new BlobError(`blob ${hash.slice(0, 12)}… is not in Redis (expired, or never sent)`);
  const actual = sha256Hex(bytes);
  if (actual !== hash) throw new BlobError(`blob ${hash.slice(0, 12)}… holds other bytes (sha256 ${actual.slice(0, 12)}…)`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A worker's cache of blobs by hash: fetched once, checked again when read back. */
export class BlobCache {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  async get(redis: Redis, hash: string): Promise<Uint8Array> {
    return (await this.#fetch(redis, hash)).bytes;
  }

  /** The blob as a file of the cache (a data set a trainer process reads by path). */
  async file(redis: Redis, hash: string): Promise<string> {
    return (await this.#fetch(redis, hash)).file;
  }

  async #fetch(redis: Redis, hash: string): Promise<{ bytes: Uint8Array; file: string }> {
    const file = join(this.dir, hash);
    if (existsSync(file)) {
      const bytes = new Uint8Array(readFileSync(file));
      if (sha256Hex(bytes) === hash) return { bytes, file };
    }
    const bytes = await getBlob(redis, hash);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
    return { bytes, file };
  }
}

/** Redis takes values up to 512 MB (its proto-max-bulk-len default). */
const MAX_BLOB_BYTES = 512 * 1024 * 1024;

/**
 * The host's side of data sets on workers: a stored set is read (read-only, checked
 * against the run's hash), packed into one file and put in Redis once per content; a
 * sweep's runs on the same set share the blob, and it is sent again only when Redis no
 * longer has it (expired, restarted without persistence).
 */
export class DatasetBlobs {
  readonly #sent = new Map<string, string>(); // data set hash → blob hash
  readonly #packing = new Map<string, Promise<string>>();

  constructor(private readonly redis: Redis) {}

  /** What a job says of its data set; throws DataSourceError when the set cannot be sent. */
  async send(source: DataSource): Promise<RemoteJob['data']> {
    if (source.kind === 'mnist') return { kind: 'mnist' };
    if (source.kind === 'file') throw new DataSourceError('a data set file is a worker’s copy: a host sends stored sets');
    const known = this.#sent.get(source.hash);
    if (known && (await this.redis.expire(KEYS.blob(known), TTL_SECONDS))) return { kind: 'blob', hash: known, dataset: source.hash };
    let packing = this.#packing.get(source.hash);
    if (!packing) {
      packing = this.#pack(source).finally(() => this.#packing.delete(source.hash));
      this.#packing.set(source.hash, packing);
    }
    const hash = await packing;
    this.#sent.set(source.hash, hash);
    return { kind: 'blob', hash, dataset: source.hash };
  }

  async #pack(source: Extract<DataSource, { kind: 'stored' }>): Promise<string> {
    const { data, normalisation } = readStored(source);
    const bytes = packDataset(data, normalisation);
    if (bytes.byteLength > MAX_BLOB_BYTES) {
      throw new DataSourceError(`data set ${source.datasetId} is ${(bytes.byteLength / 2 ** 20).toFixed(0)} MB, more than Redis takes in one value (512 MB): train it on this machine (without --redis)`);
    }
    return putBlob(this.redis, bytes);
  }
}
