/**
 * Merge records stored before LoRA Lab took PEFT's method names still read right: a
 * kept preview saying `ties` (the full-ΔW form, today's `ties_svd`) or `dare` with a
 * drop rate (today's `dare_linear_svd` with density 1 − p) reads in today's names, one
 * stored since keeps its `ties` (the factor-wise method), and `dare` is still accepted
 * in a request. The rows themselves are not rewritten.
 */
import { describe, expect, it } from 'vitest';
import type { EvalSummary, MergeRequest } from '../../src-main/contract/api.ts';
import { listPreviews } from '../../src-main/lab/previews.ts';
import { PEFT_NAMES, normalizeMergeOrigin, normalizeMergeRequest } from '../../src-main/weights/merge-request.ts';
import { useTempDirs } from '../store/helpers.ts';

const temp = useTempDirs();
const summary: EvalSummary = { accuracy: 0.9, loss: 0.3, total: 100, wrongPerClass: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], countPerClass: Array(10).fill(10) as number[], classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };

function withRows(requests: object[]) {
  const store = temp.store();
  const base = store.models.create({ name: 'base', kind: 'base', sizes: [784, 10] });
  const insert = store.db.prepare('INSERT INTO merge_previews (base_model_id, request, result, base_name, adapter_names, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const result = JSON.stringify({ base: summary, adapters: [summary], combined: summary });
  const ids = requests.map((r, i) => Number(insert.run(base.id, JSON.stringify({ baseModelId: base.id, adapters: [{ adapterId: 1, weight: 1 }], ...r }), result, 'base', '["a"]', 1000 + i).lastInsertRowid));
  return { store, base, ids };
}

describe('kept previews from before the rename', () => {
  it('ties → ties_svd, dare + dropRate → dare_linear_svd + density 1 − p; others unchanged; the rows untouched', () => {
    const { store, ids } = withRows([
      { method: 'ties', density: 0.5, rank: 2, seed: 1 },
      { method: 'dare', dropRate: 0.7, seed: 3 },
      { method: 'svd', rank: 1 },
      { method: 'linear', testLimit: 500 },
    ]);
    const read = ids.map((id) => store.mergePreviews.find(id)!.request);
    expect(read[0]).toEqual({ baseModelId: expect.any(Number) as number, adapters: [{ adapterId: 1, weight: 1 }], method: 'ties_svd', density: 0.5, rank: 2, seed: 1 });
    expect(read[1]).toMatchObject({ method: 'dare_linear_svd', density: 0.3, seed: 3 });
    expect(read[1]).not.toHaveProperty('dropRate');
    expect(read[2]).toMatchObject({ method: 'svd', rank: 1 });
    expect(read[3]).toMatchObject({ method: 'linear', testLimit: 500 });
    // What the Merge page lists (lab/previews.ts) is the same.
    expect(listPreviews(store).map((p) => p.request.method)).toEqual(['linear', 'svd', 'dare_linear_svd', 'ties_svd']);
    const raw = store.db.prepare('SELECT request FROM merge_previews WHERE id = ?').pluck().get(ids[0]) as string;
    expect(JSON.parse(raw)).toMatchObject({ method: 'ties' });
  });

  it('a preview kept now is stored with the mark, so its ties stays the factor-wise ties', () => {
    const { store, base } = withRows([]);
    const request: MergeRequest = { baseModelId: base.id, adapters: [{ adapterId: 1, weight: -1 }], method: 'ties', density: 0.5, majoritySign: 'frequency' };
    const p = store.mergePreviews.create({ request, result: { base: summary, adapters: [summary], combined: summary }, baseName: 'base', adapterNames: ['a'] });
    expect(p.request).toEqual(request);
    expect(store.mergePreviews.find(p.id)!.request).toEqual(request);
    const raw = JSON.parse(store.db.prepare('SELECT request FROM merge_previews WHERE id = ?').pluck().get(p.id) as string) as Record<string, unknown>;
    expect(raw).toMatchObject({ method: 'ties', [PEFT_NAMES]: true });
    // A request that still says dare is stored in today's names.
    const legacy = store.mergePreviews.create({ request: { ...request, method: 'dare', dropRate: 0.25 }, result: { base: summary, adapters: [summary], combined: summary }, baseName: 'base', adapterNames: ['a'] });
    expect(legacy.request).toMatchObject({ method: 'dare_linear_svd', density: 0.75 });
    expect(legacy.request).not.toHaveProperty('dropRate');
  });
});

describe('requests and origins', () => {
  it('normalizeMergeRequest: dare is an alias of dare_linear_svd; today’s ties is left alone', () => {
    const req: MergeRequest = { baseModelId: 1, adapters: [{ adapterId: 2, weight: 1 }], method: 'dare', dropRate: 0.1, seed: 4 };
    expect(normalizeMergeRequest(req)).toEqual({ baseModelId: 1, adapters: [{ adapterId: 2, weight: 1 }], method: 'dare_linear_svd', density: 0.9, seed: 4 });
    expect(normalizeMergeRequest({ ...req, method: 'ties', density: 0.2 })).toMatchObject({ method: 'ties', density: 0.2 });
    expect(normalizeMergeRequest({ ...req, method: 'ties', density: 0.2 }, true)).toMatchObject({ method: 'ties_svd', density: 0.2 });
  });

  it('normalizeMergeOrigin: an old merged model’s origin reads in today’s names; a new one and others unchanged', () => {
    expect(normalizeMergeOrigin({ merge: { method: 'ties', base: 1, adapters: [], density: 0.5 } })).toEqual({ merge: { method: 'ties_svd', base: 1, adapters: [], density: 0.5 } });
    expect(normalizeMergeOrigin({ merge: { method: 'dare', base: 1, dropRate: 0.5 } })).toEqual({ merge: { method: 'dare_linear_svd', base: 1, density: 0.5 } });
    expect(normalizeMergeOrigin({ merge: { method: 'ties', base: 1, [PEFT_NAMES]: true } })).toEqual({ merge: { method: 'ties', base: 1 } });
    expect(normalizeMergeOrigin({ run: 3 })).toEqual({ run: 3 });
    expect(normalizeMergeOrigin(null)).toBeNull();
  });
});
