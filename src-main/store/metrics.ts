/**
 * Metric points `(run, key, step, value, time)`. The two hot paths are measured in
 * test/bench/store-bench.ts: ingest (≥ 500k points/s) and the compare read
 * (10 runs × 10k points in ≤ 50 ms).
 */
import type { MetricPoint } from '../contract/protocol.ts';
import type { Db } from './database.ts';

export interface MetricSeries {
  steps: number[];
  values: number[];
  /** Milliseconds since the Unix epoch. */
  times: number[];
}

export interface LastPoint {
  step: number;
  value: number;
  time: number;
}

/**
 * Rows per multi-row INSERT: one native call per CHUNK points instead of one per point
 * is what lifts ingest from ~600k to ~700k points/s here; 64 × 5 = 320 bound values
 * stays far below SQLite's parameter limit.
 */
const CHUNK = 64;
const COLUMNS = 5;
// Re-sent points (same run, key, step) replace the old value instead of failing the batch.
const UPSERT = 'ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value, time = excluded.time';

const insertSql = (rows: number) =>
  `INSERT INTO metrics (run_id, key, step, value, time) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')} ${UPSERT}`;

interface SeriesRow {
  steps: string;
  values: string;
  times: string;
}

/** SQLite stores NaN as NULL (it has no NaN); JSON gives it back as null. */
function nullToNaN(values: (number | null)[]): number[] {
  for (let i = 0; i < values.length; i++) if (values[i] === null) values[i] = NaN;
  return values as number[];
}

export class MetricsRepo {
  readonly #db: Db;
  readonly #one;
  readonly #many;
  readonly #args = new Array<unknown>(CHUNK * COLUMNS);
  readonly #series;
  readonly #keys;
  readonly #last;
  readonly #count;
  readonly #countKey;
  readonly #appendTx;

  constructor(db: Db) {
    this.#db = db;
    this.#one = db.prepare(insertSql(1));
    this.#many = db.prepare(insertSql(CHUNK));
    // SQLite builds the three arrays as JSON text in C and V8 parses them: about 3×
    // faster than materialising one JS row object per point.
    this.#series = db.prepare<[number, string], SeriesRow>(
      `SELECT json_group_array(step) AS steps, json_group_array(value) AS "values", json_group_array(time) AS times
       FROM (SELECT step, value, time FROM metrics WHERE run_id = ? AND key = ? ORDER BY step)`,
    );
    // Distinct keys by skip-scan over the primary key: one seek per key, not one row per point.
    this.#keys = db
      .prepare<{ run: number }, string | null>(
        `WITH RECURSIVE k(key) AS (
           SELECT min(key) FROM metrics WHERE run_id = :run
           UNION ALL
           SELECT (SELECT min(key) FROM metrics WHERE run_id = :run AND key > k.key) FROM k WHERE k.key IS NOT NULL)
         SELECT key FROM k WHERE key IS NOT NULL`,
      )
      .pluck();
    this.#last = db.prepare<[number, string], { step: number; value: number | null; time: number }>(
      'SELECT step, value, time FROM metrics WHERE run_id = ? AND key = ? ORDER BY step DESC LIMIT 1',
    );
    this.#count = db.prepare<[number], number>('SELECT count(*) FROM metrics WHERE run_id = ?').pluck();
    this.#countKey = db.prepare<[number, string], number>('SELECT count(*) FROM metrics WHERE run_id = ? AND key = ?').pluck();
    this.#appendTx = db.transaction((runId: number, points: readonly MetricPoint[]) => this.#insert(runId, points));
  }

  /** Stores a batch in one transaction: all of it or (on error) none of it. */
  append(runId: number, points: readonly MetricPoint[]): void {
    if (points.length === 0) return;
    this.#appendTx(runId, points);
  }

  #insert(runId: number, points: readonly MetricPoint[]): void {
    const args = this.#args;
    let i = 0;
    for (; i + CHUNK <= points.length; i += CHUNK) {
      for (let j = 0; j < CHUNK; j++) {
        const p = points[i + j] as MetricPoint;
        const o = j * COLUMNS;
        args[o] = runId;
        args[o + 1] = p.key;
        args[o + 2] = p.step;
        args[o + 3] = p.value;
        // The column is INTEGER ms: a fractional time (performance.now-based) is rounded.
        args[o + 4] = Math.round(p.time);
      }
      this.#many.run(args);
    }
    for (; i < points.length; i++) {
      const p = points[i] as MetricPoint;
      this.#one.run(runId, p.key, p.step, p.value, Math.round(p.time));
    }
  }

  /** One metric of one run, ordered by step; NaN values come back as NaN. */
  series(runId: number, key: string): MetricSeries {
    const row = this.#series.get(runId, key);
    if (!row) return { steps: [], values: [], times: [] };
    return {
      steps: JSON.parse(row.steps) as number[],
      values: nullToNaN(JSON.parse(row.values) as (number | null)[]),
      times: JSON.parse(row.times) as number[],
    };
  }

  /** The same metric for several runs (the compare view), in the order of `runIds`. */
  seriesMany(runIds: readonly number[], key: string): (MetricSeries & { runId: number })[] {
    // One read transaction, so every series comes from the same snapshot.
    return this.#db.transaction(() => runIds.map((runId) => ({ runId, ...this.series(runId, key) })))();
  }

  /** The metric keys a run has, sorted. */
  keys(runId: number): string[] {
    return this.#keys.all({ run: runId }).filter((k): k is string => k !== null);
  }

  /** The point with the highest step, or undefined when the run has none for `key`. */
  last(runId: number, key: string): LastPoint | undefined {
    const row = this.#last.get(runId, key);
    return row && { step: row.step, value: row.value ?? NaN, time: row.time };
  }

  /** Number of stored points, for one key or all of them. */
  count(runId: number, key?: string): number {
    return (key === undefined ? this.#count.get(runId) : this.#countKey.get(runId, key)) ?? 0;
  }
}
