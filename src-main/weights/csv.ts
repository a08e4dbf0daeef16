/**
 * Metrics, parameters and comparisons as CSV (RFC 4180: comma-separated, CRLF line
 * ends, a field quoted when it holds a comma, quote, CR or LF, quotes doubled).
 *
 * Formula injection: spreadsheets run a cell that starts with = + - @ (and, in some,
 * tab or CR) as a formula, and run names, tags and keys come from users. Every *text*
 * cell starting with one of those characters gets a leading apostrophe (OWASP's
 * advice), so `=HYPERLINK(…)` shows as text. *Numeric* cells are written as numbers,
 * never prefixed: a negative loss must stay a number, and JavaScript's own number
 * formatting cannot produce a formula. Non-finite numbers are written NaN, Infinity and
 * -Infinity (what pandas and Python's float() read); null or missing is an empty cell.
 * Times are milliseconds since the Unix epoch, as stored.
 */

export type Cell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One field, neutralised against formulas (text only) and quoted as RFC 4180 requires. */
export function csvCell(value: Cell): string {
  let s: string;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') s = Number.isNaN(value) ? 'NaN' : String(value);
  else if (typeof value === 'boolean') s = value ? 'true' : 'false';
  else s = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows of cells → CSV text, CRLF after every record (the header included). */
export function toCsv(rows: readonly (readonly Cell[])[]): string {
  return rows.map((r) => `${r.map(csvCell).join(',')}\r\n`).join('');
}

export const LONG_HEADER = ['run_id', 'key', 'step', 'value', 'time'] as const;

export interface MetricRow {
  runId: number | string;
  key: string;
  step: number;
  value: number;
  /** Milliseconds since the Unix epoch. */
  time: number;
}

/** `run_id,key,step,value,time`, one row per metric point, in the order given. */
export function metricsCsv(rows: readonly MetricRow[]): string {
  return toCsv([LONG_HEADER, ...rows.map((m) => [m.runId, m.key, m.step, m.value, m.time])]);
}

export interface RunParams {
  runId: number | string;
  /** Flattened config: dotted path → value (see lab/compare.ts flattenConfig). */
  params: Record<string, string | number | boolean | null>;
}

/**
 * Parameters in the same long layout as metrics, so one file can hold both:
 * `run_id,key,step,value,time` with step and time empty.
 */
export function paramsCsv(runs: readonly RunParams[]): string {
  const rows: Cell[][] = [[...LONG_HEADER]];
  for (const r of runs) for (const [k, v] of Object.entries(r.params)) rows.push([r.runId, k, null, v, null]);
  return toCsv(rows);
}

/** What a comparison table needs; the Lab service's `Comparison` has this shape. */
export interface ComparisonTable {
  runs: readonly { id: number; name: string }[];
  params: readonly { path: string; values: readonly (string | number | boolean | null)[] }[];
  summary: readonly {
    key: string;
    perRun: readonly ({ final: number; best: number; min: number; max: number; bestStep: number } | null)[];
  }[];
  evaluations?: readonly { before?: EvaluationLike; after?: EvaluationLike }[];
  /** Each run's data set name, and the class names when every run shares them. */
  datasets?: readonly (string | null)[];
  classes?: readonly string[] | null;
}

interface EvaluationLike {
  accuracy: number;
  wrongPerClass: readonly number[];
}

/**
 * A wide table, one column per run: `field,<run 1>,<run 2>…`. Rows: `run_id`, then
 * every parameter (`param:<path>`), every metric's final and best value
 * (`metric:<key>:final`, `…:best`, `…:best_step`) and the evaluations after training
 * (`eval:accuracy`, `eval:wrong:<class>`, by name when every run has the same classes,
 * else by index). Run names head the columns; `data_set` names each run's data set.
 */
export function comparisonCsv(c: ComparisonTable): string {
  const n = c.runs.length;
  const rows: Cell[][] = [['field', ...c.runs.map((r) => r.name)], ['run_id', ...c.runs.map((r) => r.id)]];
  if (c.datasets) rows.push(['data_set', ...pad(c.datasets, n)]);
  for (const p of c.params) rows.push([`param:${p.path}`, ...pad(p.values, n)]);
  for (const s of c.summary) {
    rows.push([`metric:${s.key}:final`, ...pad(s.perRun.map((x) => x?.final), n)]);
    rows.push([`metric:${s.key}:best`, ...pad(s.perRun.map((x) => x?.best), n)]);
    rows.push([`metric:${s.key}:best_step`, ...pad(s.perRun.map((x) => x?.bestStep), n)]);
  }
  if (c.evaluations) {
    const after = c.evaluations.map((e) => e.after ?? null);
    if (after.some((e) => e !== null)) {
      rows.push(['eval:accuracy', ...pad(after.map((e) => e?.accuracy), n)]);
      const classes = Math.max(...after.map((e) => e?.wrongPerClass.length ?? 0));
      for (let d = 0; d < classes; d++) rows.push([`eval:wrong:${c.classes?.[d] ?? d}`, ...pad(after.map((e) => e?.wrongPerClass[d]), n)]);
    }
  }
  return toCsv(rows);
}

function pad(values: readonly Cell[], n: number): Cell[] {
  return Array.from({ length: n }, (_, i) => values[i]);
}
