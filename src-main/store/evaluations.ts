/**
 * Test-set evaluations of a run, one `before` (the starting model) and one `after`
 * (the trained one): accuracy, loss, per-class wrong counts, confusion matrix and the
 * predicted class of every evaluated image (a BLOB of bytes, one per image).
 */
import type { EvalPhase, Evaluation } from '../contract/protocol.ts';
import { fromJson, toJson } from './codec.ts';
import type { Db } from './database.ts';
import { StoreError } from './errors.ts';

export type StoredEvaluation = Evaluation & { step: number };

export interface RunEvaluations {
  before?: StoredEvaluation;
  after?: StoredEvaluation;
}

interface EvaluationRow {
  phase: EvalPhase;
  step: number;
  accuracy: number;
  loss: number | null;
  total: number;
  correct: number;
  wrong_per_class: string;
  count_per_class: string;
  confusion: string;
  predictions: Buffer;
}

function toEvaluation(r: EvaluationRow): StoredEvaluation {
  return {
    step: r.step,
    accuracy: r.accuracy,
    // SQLite has no NaN: a diverged model's NaN loss is stored as NULL.
    loss: r.loss ?? NaN,
    total: r.total,
    correct: r.correct,
    wrongPerClass: fromJson<number[]>(r.wrong_per_class) ?? [],
    countPerClass: fromJson<number[]>(r.count_per_class) ?? [],
    confusion: fromJson<number[][]>(r.confusion) ?? [],
    // A plain Uint8Array of its own, not a Buffer that may share a pooled ArrayBuffer.
    predictions: new Uint8Array(r.predictions),
  };
}

export class EvaluationsRepo {
  readonly #put;
  readonly #get;

  constructor(db: Db) {
    this.#put = db.prepare(
      `INSERT INTO evaluations (run_id, phase, step, accuracy, loss, total, correct,
         wrong_per_class, count_per_class, confusion, predictions)
       VALUES (:runId, :phase, :step, :accuracy, :loss, :total, :correct, :wrong, :count, :confusion, :predictions)
       ON CONFLICT (run_id, phase) DO UPDATE SET step = excluded.step, accuracy = excluded.accuracy,
         loss = excluded.loss, total = excluded.total, correct = excluded.correct,
         wrong_per_class = excluded.wrong_per_class, count_per_class = excluded.count_per_class,
         confusion = excluded.confusion, predictions = excluded.predictions`,
    );
    this.#get = db.prepare<[number], EvaluationRow>('SELECT * FROM evaluations WHERE run_id = ?');
    this.#sharedBefore = db.prepare<{ base: number; data: number; testLimit: number | null; backend: string; run: number }, EvaluationRow>(
      `SELECT e.* FROM evaluations e JOIN runs r ON r.id = e.run_id
       WHERE e.phase = 'before' AND r.kind = 'lora' AND r.base_model_id = :base AND r.dataset_id = :data
         AND json_extract(r.config, '$.testLimit') IS :testLimit AND r.backend = :backend AND r.id != :run
       ORDER BY e.run_id DESC LIMIT 1`,
    );
  }

  readonly #sharedBefore;

  /**
   * A stored `before` evaluation of another LoRA run on the same base model, data set,
   * test limit and backend: a LoRA run starts as its base (B = 0), so that evaluation is
   * the one a new run on that base would compute (runs share it instead).
   */
  sharedBefore(q: { baseModelId: number; datasetId: number; testLimit: number | null; backend: string; excludeRunId: number }): StoredEvaluation | null {
    const row = this.#sharedBefore.get({ base: q.baseModelId, data: q.datasetId, testLimit: q.testLimit, backend: q.backend, run: q.excludeRunId });
    return row ? toEvaluation(row) : null;
  }

  /** Stores (or replaces) the run's evaluation for `phase`. */
  put(runId: number, phase: EvalPhase, step: number, e: Evaluation): void {
    if (phase !== 'before' && phase !== 'after') throw new StoreError(`evaluation phase must be "before" or "after", got ${JSON.stringify(phase)}`);
    if (!(e.predictions instanceof Uint8Array)) throw new StoreError('evaluation predictions must be a Uint8Array');
    this.#put.run({
      runId,
      phase,
      step,
      accuracy: e.accuracy,
      loss: e.loss,
      total: e.total,
      correct: e.correct,
      wrong: toJson(e.wrongPerClass),
      count: toJson(e.countPerClass),
      confusion: toJson(e.confusion),
      predictions: Buffer.from(e.predictions.buffer, e.predictions.byteOffset, e.predictions.byteLength),
    });
  }

  get(runId: number): RunEvaluations {
    const out: RunEvaluations = {};
    for (const row of this.#get.all(runId)) out[row.phase] = toEvaluation(row);
    return out;
  }
}
