/**
 * Merge previews: what the Merge page evaluated (the request, the base, each adapter
 * alone and the combination), with the names at the time and, once saved, what it was
 * saved as. Links to models and adapters are SET NULL on delete (see
 * migrations/0002_merge_previews.sql): a preview outlives what it names.
 *
 * The request is stored in PEFT's method names with a mark (weights/merge-request.ts);
 * one kept before the rename (`ties` meaning today's `ties_svd`, `dare` with a drop
 * rate) reads in today's names, so it displays and saves as what it computed. The rows
 * are left as they are (no migration): reading is the one place that maps them.
 */
import type { EvalSummary, MergeRequest } from '../contract/api.ts';
import { readStoredMergeRequest, storedMergeRequest } from '../weights/merge-request.ts';
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';

export interface PreviewResult {
  base: EvalSummary;
  /** Each adapter alone on the base, in request order. */
  adapters: EvalSummary[];
  combined: EvalSummary;
}

export interface PreviewSaved {
  kind: 'model' | 'adapter';
  name: string;
  /** The model or adapter it was saved as; null once that was deleted. */
  id: number | null;
  at: number;
}

export interface StoredPreview {
  id: number;
  /** null once the base model was deleted. */
  baseModelId: number | null;
  request: MergeRequest;
  result: PreviewResult;
  baseName: string;
  adapterNames: string[];
  saved: PreviewSaved | null;
  createdAt: number;
}

export interface NewPreview {
  request: MergeRequest;
  result: PreviewResult;
  baseName: string;
  adapterNames: string[];
}

interface PreviewRow {
  id: number;
  base_model_id: number | null;
  request: string;
  result: string;
  base_name: string;
  adapter_names: string;
  saved_kind: 'model' | 'adapter' | null;
  saved_name: string | null;
  saved_model_id: number | null;
  saved_adapter_id: number | null;
  saved_at: number | null;
  created_at: number;
}

function toPreview(r: PreviewRow): StoredPreview {
  return {
    id: r.id,
    baseModelId: r.base_model_id,
    request: readStoredMergeRequest(fromJson<MergeRequest & Record<string, unknown>>(r.request) as MergeRequest & Record<string, unknown>),
    result: fromJson<PreviewResult>(r.result) as PreviewResult,
    baseName: r.base_name,
    adapterNames: fromJson<string[]>(r.adapter_names) ?? [],
    saved:
      r.saved_kind === null
        ? null
        : { kind: r.saved_kind, name: r.saved_name ?? '', id: r.saved_kind === 'model' ? r.saved_model_id : r.saved_adapter_id, at: r.saved_at ?? 0 },
    createdAt: r.created_at,
  };
}

/** Only the summary numbers: no predictions or other bulk that a caller may have attached. */
const summary = (s: EvalSummary): EvalSummary => ({ accuracy: s.accuracy, loss: s.loss, total: s.total, wrongPerClass: s.wrongPerClass, countPerClass: s.countPerClass, classes: s.classes });

export class MergePreviewsRepo {
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #saved;
  readonly #delete;

  constructor(db: Db) {
    this.#insert = db.prepare<[number, string, string, string, string, number], never>(
      'INSERT INTO merge_previews (base_model_id, request, result, base_name, adapter_names, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare<[number], PreviewRow>('SELECT * FROM merge_previews WHERE id = ?');
    this.#list = db.prepare<[], PreviewRow>('SELECT * FROM merge_previews ORDER BY created_at DESC, id DESC');
    this.#saved = db.prepare<[string, string, number | null, number | null, number, number], never>(
      'UPDATE merge_previews SET saved_kind = ?, saved_name = ?, saved_model_id = ?, saved_adapter_id = ?, saved_at = ? WHERE id = ?',
    );
    this.#delete = db.prepare<[number], never>('DELETE FROM merge_previews WHERE id = ?');
  }

  create(p: NewPreview): StoredPreview {
    const result = { base: summary(p.result.base), adapters: p.result.adapters.map(summary), combined: summary(p.result.combined) };
    const r = this.#insert.run(p.request.baseModelId, toJson(storedMergeRequest(p.request)), toJson(result), p.baseName, toJson(p.adapterNames), Date.now());
    return this.find(Number(r.lastInsertRowid)) as StoredPreview;
  }

  find(id: number): StoredPreview | undefined {
    const row = this.#get.get(id);
    return row && toPreview(row);
  }

  /** Newest first. */
  list(): StoredPreview[] {
    return this.#list.all().map(toPreview);
  }

  /** Records what the preview was saved as (a later save replaces an earlier one). False: no such preview. */
  markSaved(id: number, saved: { kind: 'model' | 'adapter'; id: number; name: string }): boolean {
    const model = saved.kind === 'model' ? saved.id : null;
    const adapter = saved.kind === 'adapter' ? saved.id : null;
    return this.#saved.run(saved.kind, saved.name, model, adapter, Date.now(), id).changes > 0;
  }

  /** False: there was no such preview. */
  delete(id: number): boolean {
    return this.#delete.run(id).changes > 0;
  }
}
