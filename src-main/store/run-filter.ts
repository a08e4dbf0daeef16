/**
 * Run listing filters → one SQL statement. The statement text depends only on which
 * filters are present (values are always bound), so RunsRepo can cache one prepared
 * statement per shape.
 */
import type { RunKind } from '../contract/config.ts';
import { StoreError } from './errors.ts';
import type { RunStatus } from './run-status.ts';
import { isRunStatus } from './run-status.ts';

export type ParamValue = string | number | boolean;

export interface RunFilter {
  status?: RunStatus | RunStatus[];
  kind?: RunKind;
  /** Runs carrying this tag (exact match). */
  tag?: string;
  /** Case-insensitive substring of the name, the notes or any tag. */
  text?: string;
  /** Dotted paths into the config, all of which must equal: `{ lr: 0.001, 'lora.r': 1 }`. */
  params?: Record<string, ParamValue>;
  limit?: number;
}

export interface RunQuery {
  sql: string;
  args: (string | number)[];
}

const SEGMENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$/;

/** `lora.r` → `$.lora.r`, `digits.0` → `$.digits[0]`; anything else is refused, not escaped. */
export function jsonPath(dotted: string): string {
  const parts = dotted.split('.');
  if (!parts.every((p) => SEGMENT.test(p)) || /^\d/.test(parts[0] ?? '')) {
    throw new StoreError(`parameter path ${JSON.stringify(dotted)} must be dotted names like "lora.r"`);
  }
  return '$' + parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
}

/** LIKE pattern matching `text` literally anywhere (\ escapes % and _). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function buildRunQuery(filter: RunFilter): RunQuery {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.status !== undefined) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    const bad = statuses.filter((s) => !isRunStatus(s));
    if (bad.length) throw new StoreError(`unknown run status ${bad.map((s) => JSON.stringify(s)).join(', ')}`);
    // An empty list matches nothing, like SQL's `IN ()` would if it were allowed.
    where.push(statuses.length ? `status IN (${statuses.map(() => '?').join(', ')})` : '0');
    args.push(...statuses);
  }
  if (filter.kind !== undefined) {
    where.push('kind = ?');
    args.push(filter.kind);
  }
  if (filter.tag !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)');
    args.push(filter.tag);
  }
  if (filter.text !== undefined && filter.text !== '') {
    const like = containsPattern(filter.text);
    where.push(
      `(name LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\'
        OR EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value LIKE ? ESCAPE '\\'))`,
    );
    args.push(like, like, like);
  }
  for (const [path, value] of Object.entries(filter.params ?? {})) {
    // JSON true/false come out of json_extract as 1/0.
    const bound = typeof value === 'boolean' ? Number(value) : value;
    if (typeof bound === 'number' && !Number.isFinite(bound)) throw new StoreError(`parameter ${path}: ${value} is not a finite number`);
    where.push('json_extract(config, ?) = ?');
    args.push(jsonPath(path), bound);
  }
  let sql = `SELECT * FROM runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 0) throw new StoreError(`limit must be a non-negative integer, got ${filter.limit}`);
    sql += ' LIMIT ?';
    args.push(filter.limit);
  }
  return { sql, args };
}
