/**
 * The pure half of the New sweep form: which config paths an axis may sweep (the
 * starting config's numeric and text leaves), an axis as typed (a comma list for a grid,
 * or a distribution) turned into a SweepAxis with the problem in words, and the live
 * count "9 points × 3 seeds = 27 runs" (the same arithmetic as the Lab's expansion:
 * grid product × trials, budget cutting whole points).
 */
import { LORA_INITS, LORA_SCALINGS, LORA_VARIANTS, OPTIMIZERS, type RunConfig } from '../../src-main/contract/config.ts';
import type { DistributionKind, ParamValue, SweepAxis } from '../../src-main/contract/sweep.ts';

export type PathType = 'number' | 'text' | 'boolean';

export interface ConfigPath {
  path: string;
  type: PathType;
  /** The starting config's value there (null: unset, e.g. maxSteps "all epochs"). */
  value: ParamValue;
  /** A number path the config allows to be null. */
  nullable: boolean;
  /** A text path that takes one of these (the LoRA variant, init, scaling, the optimizer). */
  options?: readonly string[];
}

/** The text paths that are a choice among names, and the names. */
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  optimizer: OPTIMIZERS,
  'lora.init': LORA_INITS,
  'lora.variant': LORA_VARIANTS,
  'lora.scaling': LORA_SCALINGS,
};
/** Paths with a default that a config stored before they existed may lack; offered with that default. */
const DEFAULTED: Readonly<Record<string, ParamValue>> = { 'lora.variant': 'lora', 'lora.freezeA': false };

/** What the values field suggests for a path: its choices, true/false, or numbers. */
export function valuesPlaceholder(p: ConfigPath | undefined): string {
  if (p?.options) return p.options.join(', ');
  if (p?.type === 'boolean') return 'false, true';
  return '1, 2, 4';
}

/** Never offered: the run kind and data set make another experiment, and seeds are the `seeds` field. */
const NOT_SWEPT = new Set(['kind', 'data', 'seed']);
/** Leaves that are null in a config but numbers when set. */
const NULLABLE_NUMBERS = new Set(['maxSteps', 'trainLimit', 'testLimit']);

/** The config's scalar leaves an axis may sweep, in config order (`lora.*` after the top level). */
export function configPaths(cfg: RunConfig): ConfigPath[] {
  const out: ConfigPath[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (NOT_SWEPT.has(path)) continue;
      if (typeof v === 'number') out.push({ path, type: 'number', value: v, nullable: NULLABLE_NUMBERS.has(path) });
      else if (typeof v === 'string') out.push({ path, type: 'text', value: v, nullable: false, ...(CHOICES[path] ? { options: CHOICES[path] } : {}) });
      else if (typeof v === 'boolean') out.push({ path, type: 'boolean', value: v, nullable: false });
      else if (v === null && NULLABLE_NUMBERS.has(path)) out.push({ path, type: 'number', value: null, nullable: true });
      else if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, path);
    }
  };
  const source = cfg as unknown as Record<string, unknown>;
  const lora = cfg.lora as Record<string, unknown> | null;
  // An old config's lora settings lack the variant fields: they read as their defaults (plain LoRA).
  const filled = lora ? { ...source, lora: { ...Object.fromEntries(Object.entries(DEFAULTED).map(([p, d]) => [p.slice(5), d])), ...lora } } : source;
  walk(filled, '');
  return out;
}

/** How an axis is given: a value list (grid), or a distribution sampled `trials` times. */
export type AxisMode = 'grid' | DistributionKind;

export interface AxisDraft {
  path: string;
  mode: AxisMode;
  /** Grid and choice: "0.001, 0.003, 0.01". */
  values: string;
  min: string;
  max: string;
}

/** One typed value, for a path of this type: "null" → null where allowed; numbers must parse. */
function parseOne(raw: string, p: ConfigPath): { value: ParamValue } | { issue: string } {
  const t = raw.trim();
  if (t === 'null' && p.nullable) return { value: null };
  if (p.type === 'boolean') return t === 'true' || t === 'false' ? { value: t === 'true' } : { issue: `“${t}” is not true or false` };
  if (p.type === 'text') return !p.options || p.options.includes(t) ? { value: t } : { issue: `“${t}” is not one of ${p.options.join(', ')}` };
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? { value: n } : { issue: `“${t}” is not a number` };
}

/** A comma list as values of the path's type, or the first problem. */
export function parseValues(text: string, p: ConfigPath): { values: ParamValue[]; issue: string | null } {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) return { values: [], issue: 'give at least one value, e.g. 1, 2, 4' };
  const values: ParamValue[] = [];
  for (const s of parts) {
    const r = parseOne(s, p);
    if ('issue' in r) return { values: [], issue: r.issue };
    values.push(r.value);
  }
  return { values, issue: null };
}

function parseBound(text: string, what: string): { n: number } | { issue: string } {
  const t = text.trim();
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? { n } : { issue: `${what}: “${t}” is not a number` };
}

/** The axis as the spec has it, or why it cannot be one (the Lab checks the values against the config). */
export function buildAxis(d: AxisDraft, paths: readonly ConfigPath[]): { axis: SweepAxis | null; issue: string | null } {
  const p = paths.find((x) => x.path === d.path);
  if (!p) return { axis: null, issue: d.path ? `${d.path} is not a path of the config` : 'choose a config path' };
  if (d.mode === 'grid' || d.mode === 'choice') {
    const { values, issue } = parseValues(d.values, p);
    if (issue) return { axis: null, issue };
    return { axis: d.mode === 'grid' ? { path: p.path, values } : { path: p.path, distribution: { kind: 'choice', values } }, issue: null };
  }
  if (p.type !== 'number') return { axis: null, issue: `${p.path} takes ${p.type === 'boolean' ? 'true or false' : 'text'}: list its values (grid or choice)` };
  const lo = parseBound(d.min, 'min');
  if ('issue' in lo) return { axis: null, issue: lo.issue };
  const hi = parseBound(d.max, 'max');
  if ('issue' in hi) return { axis: null, issue: hi.issue };
  if (lo.n > hi.n) return { axis: null, issue: 'min is larger than max' };
  if (d.mode === 'log-uniform' && lo.n <= 0) return { axis: null, issue: 'log-uniform needs min > 0' };
  return { axis: { path: p.path, distribution: { kind: d.mode, min: lo.n, max: hi.n } }, issue: null };
}

export interface RunCount {
  /** Points within the budget. */
  points: number;
  /** Points before the budget cut. */
  allPoints: number;
  seeds: number;
  runs: number;
  /** "9 points × 3 seeds = 27 runs" (and what the budget cut). */
  text: string;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * Points: the product of the grid axes' value counts, times `trials` when there is a
 * random axis (default 1); no axis at all is one point. Each point runs `seeds` times;
 * a budget keeps whole points only (the Lab refuses a budget below one point).
 */
export function countRuns(opts: { axes: readonly SweepAxis[]; trials: number | null; seeds: number; budget: number | null }): RunCount {
  let grid = 1;
  let random = false;
  for (const a of opts.axes) {
    if ('values' in a) grid *= a.values.length;
    else random = true;
  }
  const allPoints = grid * (random ? Math.max(1, opts.trials ?? 1) : 1);
  const seeds = Math.max(1, opts.seeds);
  const points = opts.budget === null ? allPoints : Math.min(allPoints, Math.floor(opts.budget / seeds));
  const runs = points * seeds;
  let text = `${plural(points, 'point', 'points')} × ${plural(seeds, 'seed', 'seeds')} = ${plural(runs, 'run', 'runs')}`;
  if (points < allPoints) text += ` (the budget keeps ${points} of ${allPoints} points)`;
  return { points, allPoints, seeds, runs, text };
}
