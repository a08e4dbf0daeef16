/**
 * Adapters: the A/B tensors of a LoRA run (or an imported PEFT adapter) with the
 * settings needed to apply them — rank, alpha, scaling and its rule, target layers,
 * variant (DoRA adds a magnitude tensor per layer), init and LoRA-FA.
 * The tensors themselves are in the tensors table, owned by `{ adapterId }`.
 */
import type { AdapterInfo } from '../contract/protocol.ts';
import type { AdapterRecord } from '../contract/records.ts';
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';
import { NotFoundError } from './errors.ts';

/** The adapter record (contract/records.ts). */
export type StoredAdapter = AdapterRecord;

export interface NewAdapter {
  name: string;
  runId?: number | null;
  baseModelId: number;
  info: AdapterInfo;
  origin?: unknown;
}

export interface AdapterFilter {
  baseModelId?: number;
  runId?: number;
}

interface AdapterRow {
  id: number;
  name: string;
  run_id: number | null;
  base_model_id: number;
  r: number;
  alpha: number;
  scaling: number;
  scaling_rule: AdapterInfo['scalingRule'];
  targets: string;
  init: AdapterInfo['init'];
  variant: AdapterInfo['variant'];
  freeze_a: number;
  origin: string | null;
  created_at: number;
}

function toAdapter(r: AdapterRow): StoredAdapter {
  return {
    id: r.id,
    name: r.name,
    runId: r.run_id,
    baseModelId: r.base_model_id,
    info: {
      r: r.r,
      alpha: r.alpha,
      scaling: r.scaling,
      scalingRule: r.scaling_rule,
      targets: fromJson<string[]>(r.targets) ?? [],
      init: r.init,
      variant: r.variant,
      freezeA: r.freeze_a === 1,
    },
    origin: fromJson<unknown>(r.origin),
    createdAt: r.created_at,
  };
}

type InsertArgs = [string, number | null, number, number, number, number, string, string, string, string, number, string | null, number];

export class AdaptersRepo {
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #delete;

  constructor(db: Db) {
    this.#insert = db.prepare<InsertArgs, never>(
      `INSERT INTO adapters (name, run_id, base_model_id, r, alpha, scaling, scaling_rule, targets, init, variant, freeze_a, origin, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#get = db.prepare<[number], AdapterRow>('SELECT * FROM adapters WHERE id = ?');
    // `? IS NULL OR …` keeps one prepared statement for every combination of filters.
    this.#list = db.prepare<{ base: number | null; run: number | null }, AdapterRow>(
      `SELECT * FROM adapters
       WHERE (:base IS NULL OR base_model_id = :base) AND (:run IS NULL OR run_id = :run)
       ORDER BY created_at DESC, id DESC`,
    );
    this.#delete = db.prepare<[number], never>('DELETE FROM adapters WHERE id = ?');
  }

  create(a: NewAdapter): StoredAdapter {
    const i = a.info;
    const origin = a.origin === undefined || a.origin === null ? null : toJson(a.origin);
    const result = this.#insert.run(
      a.name,
      a.runId ?? null,
      a.baseModelId,
      i.r,
      i.alpha,
      i.scaling,
      i.scalingRule,
      toJson(i.targets),
      i.init,
      i.variant ?? 'lora',
      i.freezeA ? 1 : 0,
      origin,
      Date.now(),
    );
    return this.get(Number(result.lastInsertRowid));
  }

  /** The adapter, or undefined when there is none with that id. */
  find(id: number): StoredAdapter | undefined {
    const row = this.#get.get(id);
    return row && toAdapter(row);
  }

  /** The adapter; a missing one is a NotFoundError. */
  get(id: number): StoredAdapter {
    const found = this.find(id);
    if (!found) throw new NotFoundError('adapter', id);
    return found;
  }


  /** Newest first. */
  list(filter: AdapterFilter = {}): StoredAdapter[] {
    return this.#list.all({ base: filter.baseModelId ?? null, run: filter.runId ?? null }).map(toAdapter);
  }

  /** Deletes the adapter and its tensors; the run that trained it keeps its record. */
  delete(id: number): void {
    if (this.#delete.run(id).changes === 0) throw new NotFoundError('adapter', id);
  }
}
