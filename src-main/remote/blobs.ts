/**
 * Content-addressed blobs in Redis: base weights, data sets and results travel once
 * per content (SET NX by sha256, with a TTL), and whoever reads one checks the bytes
 * against the hash it asked for — a blob cannot stand in for another. Workers keep
 * what they fetched in a cache folder of their own, by hash.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { sha256Hex } from '../store/codec.ts';
import { KEYS, TTL_SECONDS } from './protocol.ts';

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
    const file = join(this.dir, hash);
    if (existsSync(file)) {
      const bytes = new Uint8Array(readFileSync(file));
      if (sha256Hex(bytes) === hash) return bytes;
    }
    const bytes = await getBlob(redis, hash);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
    return bytes;
  }
}
