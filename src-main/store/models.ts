/**
 * Models: base (trained by a base run), merged (base + adapters) and imported. Their
 * tensors live in the tensors table; lineage (what was merged, with which weights,
 * exported where) is free JSON in `origin` so new kinds of lineage need no migration.
 */
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';
import type { Dependents, Ref } from './errors.ts';
import { DependencyError, NotFoundError, hasDependents } from './errors.ts';

export type { ModelKind } from '../contract/records.ts';
import type { ModelKind, ModelRecord } from '../contract/records.ts';

/** The model record (contract/records.ts). */
export type StoredModel = ModelRecord;

export interface NewModel {
  name: string;
  kind: ModelKind;
  sizes: number[];
  parentModelId?: number | null;
  sourceRunId?: number | null;
  datasetId?: number | null;
  origin?: unknown;
}

export interface ModelFilter {
  kind?: ModelKind;
}

interface ModelRow {
  id: number;
  name: string;
  kind: ModelKind;
  sizes: string;
  parent_model_id: number | null;
  source_run_id: number | null;
  dataset_id: number | null;
  origin: string | null;
  created_at: number;
}

function toModel(r: ModelRow): StoredModel {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    sizes: fromJson<number[]>(r.sizes) ?? [],
    parentModelId: r.parent_model_id,
    sourceRunId: r.source_run_id,
    datasetId: r.dataset_id,
    origin: fromJson<unknown>(r.origin),
    createdAt: r.created_at,
  };
}

export class ModelsRepo {
  readonly #db: Db;
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #listKind;
  readonly #delete;
  readonly #depRuns;
  readonly #depAdapters;
  readonly #depModels;

  constructor(db: Db) {
    this.#db = db;
    this.#insert = db.prepare<[string, string, string, number | null, number | null, number | null, string | null, number], never>(
      `INSERT INTO models (name, kind, sizes, parent_model_id, source_run_id, dataset_id, origin, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#get = db.prepare<[number], ModelRow>('SELECT * FROM models WHERE id = ?');
    this.#list = db.prepare<[], ModelRow>('SELECT * FROM models ORDER BY created_at DESC, id DESC');
    this.#listKind = db.prepare<[string], ModelRow>('SELECT * FROM models WHERE kind = ? ORDER BY created_at DESC, id DESC');
    this.#delete = db.prepare<[number], never>('DELETE FROM models WHERE id = ?');
    this.#depRuns = db.prepare<[number], Ref>('SELECT id, name FROM runs WHERE base_model_id = ? ORDER BY id');
    this.#depAdapters = db.prepare<[number], Ref>('SELECT id, name FROM adapters WHERE base_model_id = ? ORDER BY id');
    this.#depModels = db.prepare<[number], Ref>('SELECT id, name FROM models WHERE parent_model_id = ? ORDER BY id');
  }

  create(m: NewModel): StoredModel {
    const origin = m.origin === undefined || m.origin === null ? null : toJson(m.origin);
    const info = this.#insert.run(
      m.name,
      m.kind,
      toJson(m.sizes),
      m.parentModelId ?? null,
      m.sourceRunId ?? null,
      m.datasetId ?? null,
      origin,
      Date.now(),
    );
    return this.get(Number(info.lastInsertRowid));
  }

  /** The model, or undefined when there is none with that id. */
  find(id: number): StoredModel | undefined {
    const row = this.#get.get(id);
    return row && toModel(row);
  }

  /** The model; a missing one is a NotFoundError. */
  get(id: number): StoredModel {
    const found = this.find(id);
    if (!found) throw new NotFoundError('model', id);
    return found;
  }


  /** Newest first. */
  list(filter: ModelFilter = {}): StoredModel[] {
    const rows = filter.kind ? this.#listKind.all(filter.kind) : this.#list.all();
    return rows.map(toModel);
  }

  /**
   * What would break if the model went: runs that start from it, adapters trained on
   * it, models derived from it. The run that produced it is not a dependent.
   */
  dependents(id: number): Dependents {
    return { runs: this.#depRuns.all(id), adapters: this.#depAdapters.all(id), models: this.#depModels.all(id) };
  }

  /** Deletes the model and its tensors; refused with DependencyError while anything depends on it. */
  delete(id: number): void {
    this.#db.transaction(() => {
      const model = this.get(id);
      const deps = this.dependents(id);
      if (hasDependents(deps)) throw new DependencyError({ id, name: model.name }, deps);
      this.#delete.run(id);
    })();
  }
}
