/**
 * Kept merge previews (migration 0002): they round-trip, survive reopening the file,
 * outlive the models and adapters they name (links SET NULL, names kept) without
 * blocking their deletion, and a schema-1 database upgrades with its data intact.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EvalSummary, MergeRequest } from '../../src-main/contract/api.ts';
import { migrate, migrationsDir, userVersion } from '../../src-main/store/migrate.ts';
import { openStore } from '../../src-main/store/store.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import { useTempDirs } from './helpers.ts';

const temp = useTempDirs();
const info: AdapterInfo = { r: 2, alpha: 2, scaling: 1, scalingRule: 'standard', targets: ['linear1'], init: 'kaiming', variant: 'lora', freezeA: false };
const summary = (k: number): EvalSummary => ({ accuracy: 0.9 - k / 100, loss: 0.3, total: 500, wrongPerClass: [k, 1, 2, 3, 4, 5, 6, 7, 8, 9], countPerClass: Array(10).fill(50) as number[], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });

function setup() {
  const store = temp.store();
  const base = store.models.create({ name: 'the base', kind: 'base', sizes: [784, 10] });
  const a = store.adapters.create({ name: 'on 7', baseModelId: base.id, info });
  const b = store.adapters.create({ name: 'on 3', baseModelId: base.id, info });
  const request: MergeRequest = { baseModelId: base.id, adapters: [{ adapterId: a.id, weight: 1 }, { adapterId: b.id, weight: 0.5 }], method: 'svd', rank: 1, testLimit: 500 };
  const result = { base: summary(10), adapters: [summary(8), summary(9)], combined: summary(5) };
  return { store, base, a, b, request, result };
}

describe('merge previews', () => {
  it('round-trips a preview (request, results, names) and keeps only the summary numbers', () => {
    const { store, request, result } = setup();
    const withBulk = { ...result, combined: { ...result.combined, predictions: new Uint8Array(500) } as EvalSummary };
    const p = store.mergePreviews.create({ request, result: withBulk, baseName: 'the base', adapterNames: ['on 7', 'on 3'] });
    expect(p).toEqual({ id: p.id, baseModelId: request.baseModelId, request, result, baseName: 'the base', adapterNames: ['on 7', 'on 3'], saved: null, createdAt: expect.any(Number) as number });
    const q = store.mergePreviews.create({ request: { ...request, method: 'linear' }, result, baseName: 'the base', adapterNames: ['on 7', 'on 3'] });
    expect(store.mergePreviews.list().map((x) => x.id)).toEqual([q.id, p.id]);
    expect(store.mergePreviews.delete(q.id)).toBe(true);
    expect(store.mergePreviews.delete(q.id)).toBe(false);
    expect(store.mergePreviews.find(q.id)).toBeUndefined();
  });

  it('survives closing and reopening the database, saved mark included', () => {
    const { store, request, result } = setup();
    const model = store.models.create({ name: 'merged 7+3', kind: 'merged', sizes: [784, 10], parentModelId: request.baseModelId });
    const p = store.mergePreviews.create({ request, result, baseName: 'the base', adapterNames: ['on 7', 'on 3'] });
    expect(store.mergePreviews.markSaved(p.id, { kind: 'model', id: model.id, name: model.name })).toBe(true);
    const file = store.file;
    store.close();
    const again = openStore(file);
    try {
      expect(again.mergePreviews.find(p.id)).toMatchObject({ request, result, saved: { kind: 'model', id: model.id, name: 'merged 7+3', at: expect.any(Number) as number } });
    } finally {
      again.close();
    }
  });

  it('does not block deleting what it names, and keeps the names when the links go', () => {
    const { store, base, a, b, request, result } = setup();
    const p = store.mergePreviews.create({ request, result, baseName: 'the base', adapterNames: ['on 7', 'on 3'] });
    const saved = store.adapters.create({ name: 'svd adapter', baseModelId: base.id, info });
    store.mergePreviews.markSaved(p.id, { kind: 'adapter', id: saved.id, name: saved.name });
    store.adapters.delete(saved.id);
    expect(store.mergePreviews.find(p.id)?.saved).toEqual({ kind: 'adapter', id: null, name: 'svd adapter', at: expect.any(Number) as number });
    for (const x of [a, b]) store.adapters.delete(x.id);
    store.models.delete(base.id); // not refused because of the preview
    expect(store.mergePreviews.find(p.id)).toMatchObject({ baseModelId: null, baseName: 'the base', adapterNames: ['on 7', 'on 3'], request });
    expect(store.db.pragma('foreign_key_check')).toEqual([]);
  });

  it('refuses a saved mark that contradicts itself (CHECK constraints)', () => {
    const { store, request, result } = setup();
    const p = store.mergePreviews.create({ request, result, baseName: 'the base', adapterNames: [] });
    expect(() => store.db.prepare("UPDATE merge_previews SET saved_kind = 'model' WHERE id = ?").run(p.id)).toThrow(/CHECK constraint/);
    expect(() => store.db.prepare("UPDATE merge_previews SET request = 'not json' WHERE id = ?").run(p.id)).toThrow(/CHECK constraint/);
  });

  it('upgrades a schema-1 database with data to schema 2, data intact', () => {
    const dir = temp.dir();
    const only1 = join(dir, 'migrations');
    mkdirSync(only1);
    copyFileSync(join(migrationsDir(), '0001_initial.sql'), join(only1, '0001_initial.sql'));
    const file = join(dir, 'old.db');
    const old = new Database(file);
    migrate(old, only1);
    expect(userVersion(old)).toBe(1);
    old.prepare("INSERT INTO models (name, kind, sizes, created_at) VALUES ('kept', 'base', '[784,10]', 1)").run();
    old.close();

    const store = openStore(file);
    try {
      expect(userVersion(store.db)).toBeGreaterThanOrEqual(2);
      expect(store.models.list().map((m) => m.name)).toEqual(['kept']);
      expect(store.mergePreviews.list()).toEqual([]);
    } finally {
      store.close();
    }
  });
});
