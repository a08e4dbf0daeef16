/** Shared fixtures for the store tests: real database files in a temporary folder. */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import type { Store } from '../../src-main/store/store.ts';
import { openStore } from '../../src-main/store/store.ts';
import type { Evaluation } from '../../src-main/contract/protocol.ts';

/**
 * A fresh temporary folder per call, removed (with any store opened through
 * `tempStore`) after the test that made it.
 */
export function useTempDirs(): { dir: () => string; store: (name?: string) => Store } {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'lora-lab-store-'));
    dirs.push(d);
    return d;
  };
  const store = (name = 'lab.db') => {
    const s = openStore(join(dir(), name));
    stores.push(s);
    return s;
  };
  return { dir, store };
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A 10-class evaluation with every field filled in. */
export function sampleEvaluation(seed = 1): Evaluation {
  const confusion = Array.from({ length: 10 }, (_, t) => Array.from({ length: 10 }, (_, p) => (t === p ? 90 + seed : (t + p + seed) % 3)));
  const countPerClass = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const wrongPerClass = confusion.map((row, t) => (countPerClass[t] as number) - (row[t] as number));
  const total = countPerClass.reduce((a, b) => a + b, 0);
  const correct = total - wrongPerClass.reduce((a, b) => a + b, 0);
  const predictions = Uint8Array.from({ length: total }, (_, i) => (i * 7 + seed) % 10);
  return { accuracy: correct / total, loss: 0.1234567 * seed, total, correct, wrongPerClass, countPerClass, confusion, predictions };
}

/**
 * Damages one page of `table` on disk, the way a bad sector or a stray write would: the
 * write-ahead log is checkpointed into the file first and every connection closed, then
 * the page's first 64 bytes (b-tree header and cell pointers) are overwritten, so every
 * read of that page meets SQLITE_CORRUPT. Returns the page's number.
 */
export function corruptTablePage(file: string, table: string): number {
  const db = new Database(file);
  const root = db.prepare<[string], number>('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(table);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  if (!root) throw new Error(`no table ${table} in ${file}`);
  // Page 1 holds the 100-byte file header before its b-tree header.
  const at = (root - 1) * pageSize + (root === 1 ? 100 : 0);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(64, 0xab), 0, 64, at);
  } finally {
    closeSync(fd);
  }
  return root;
}
