/**
 * A sweep spec expanded into its points and runs (pure: the service, the CLI and the New
 * sweep form share it). Grid axes give the cartesian product in spec order (the first
 * axis varies slowest); random axes give `trials` draws with Rng(samplingSeed); grid ×
 * trials; each point × `seeds` seeds (the starting seed + 0, 1, …); `budget` keeps whole
 * points in order. Every problem is collected, so a person fixes them all at once.
 */
import { Rng } from '../util/rng.ts';
import { type DataShape, type RunConfig, configIssues, isFineTune, runConfigSchema } from './config.ts';
import type { Distribution, ParamValue, SweepAxis, SweepSpec } from './sweep.ts';

/** At most this many runs in one sweep (points × seeds), before the budget. */
export const MAX_SWEEP_RUNS = 100_000;
/** Metrics the runs report while they train (contract: trainer/loop.ts), the ones ASHA can prune on. */
export const PRUNE_METRICS = ['train/loss', 'val/accuracy', 'val/loss'] as const;

export interface SweepPoint {
  index: number;
  /** The swept paths' values at this point. */
  params: Record<string, ParamValue>;
  /** The point's config with the first seed. */
  config: RunConfig;
}

export interface SweepRunPlan {
  point: number;
  seedIndex: number;
  seed: number;
  params: Record<string, ParamValue>;
  config: RunConfig;
}

export interface SweepPlan {
  /** The starting config with the overrides applied. */
  config: RunConfig;
  /** Swept paths, grid axes first, in spec order. */
  paths: string[];
  points: SweepPoint[];
  /** Points × seeds within the budget, in start order. */
  runs: SweepRunPlan[];
  seeds: number;
  /** Every problem, one line each; empty when the sweep can run. */
  issues: string[];
}

interface PathKind {
  type: 'number' | 'string' | 'boolean' | 'list' | 'object';
  nullable: boolean;
  options?: readonly string[];
}

type AnySchema = { type: string; wrapped?: AnySchema; options?: readonly string[]; entries?: Record<string, AnySchema> };

/** Wrappers that give a field a default (`v.optional(v.picklist(…), 'lora')`): the value itself is the wrapped schema's. */
const DEFAULTED = new Set(['optional', 'exact_optional', 'undefinedable', 'non_optional']);

function kindOf(s: AnySchema): PathKind {
  if (DEFAULTED.has(s.type) && s.wrapped) return kindOf(s.wrapped);
  if ((s.type === 'nullable' || s.type === 'nullish') && s.wrapped) return { ...kindOf(s.wrapped), nullable: true };
  if (s.type === 'number') return { type: 'number', nullable: false };
  if (s.type === 'picklist') return { type: 'string', nullable: false, options: s.options ?? [] };
  if (s.type === 'string') return { type: 'string', nullable: false };
  if (s.type === 'boolean') return { type: 'boolean', nullable: false };
  if (s.type === 'array') return { type: 'list', nullable: false };
  return { type: 'object', nullable: false };
}

/** Every dotted path of a run config and what it holds, read off the config schema. */
const PATHS: ReadonlyMap<string, PathKind> = (() => {
  const out = new Map<string, PathKind>();
  const walk = (entries: Record<string, AnySchema>, prefix: string) => {
    for (const [key, schema] of Object.entries(entries)) {
      const path = prefix + key;
      out.set(path, kindOf(schema));
      let inner: AnySchema | undefined = schema;
      while (inner?.wrapped && (inner.type === 'nullable' || inner.type === 'nullish' || DEFAULTED.has(inner.type))) inner = inner.wrapped;
      if (inner?.entries) walk(inner.entries, `${path}.`);
    }
  };
  walk((runConfigSchema as unknown as AnySchema).entries ?? {}, '');
  return out;
})();

/** Paths an axis or override may set: the single values (not lists, not the lora object). */
export const SWEEPABLE_PATHS: readonly string[] = [...PATHS].filter(([, k]) => k.type !== 'list' && k.type !== 'object').map(([p]) => p);

/** A value as a label shows it: numbers to 4 significant digits, text as is. */
export function formatParam(v: ParamValue): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  if (v === null) return 'none';
  return String(v);
}

/** "lora.r=4 lr=0.003" (empty for a point without axes). */
export function pointLabel(params: Record<string, ParamValue>): string {
  return Object.entries(params).map(([p, v]) => `${p}=${formatParam(v)}`).join(' ');
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Why no axis or override can set `path` at all (unknown, the seed, the kind, a list), or null. */
export function pathProblem(path: string): string | null {
  const kind = PATHS.get(path);
  if (!kind) return `unknown config path "${path}" (sweepable: ${SWEEPABLE_PATHS.join(', ')})`;
  if (path === 'kind') return 'kind: a sweep cannot change the run kind (start from a base, a fine-tune or a run instead)';
  if (kind.type === 'list' || kind.type === 'object') return `${path}: ${kind.type === 'list' ? 'a list' : 'a group of settings'}; a sweep sets single values (set ${path} in the starting config)`;
  return null;
}

/** Why `value` cannot go at `path`, or null. The type must be the config's own there. */
export function valueProblem(path: string, value: unknown): string | null {
  const structural = pathProblem(path);
  if (structural) return structural;
  const kind = PATHS.get(path) as PathKind;
  if (value === null) return kind.nullable ? null : `${path}=none: ${path} cannot be empty`;
  if (kind.type === 'number') {
    if (typeof value === 'number') return Number.isFinite(value) ? null : `${path}=${show(value)}: not a finite number`;
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return `${path}=${show(value)}: is text; ${path} takes a number (write ${Number(value)} without quotes)`;
    return `${path}=${show(value)}: ${path} takes a number, got ${typeof value === 'string' ? 'text' : typeof value}`;
  }
  if (kind.type === 'string') {
    if (typeof value !== 'string') return `${path}=${show(value)}: ${path} takes text${kind.options ? ` (${kind.options.map((o) => `"${o}"`).join(' or ')})` : ''}, got a ${typeof value}`;
    if (kind.options && !kind.options.includes(value)) return `${path}=${show(value)}: must be ${kind.options.map((o) => `"${o}"`).join(' or ')}`;
    return null;
  }
  return typeof value === 'boolean' ? null : `${path}=${show(value)}: ${path} takes true or false`;
}

/** Sets `value` at the dotted `path` of `cfg` (in place); a problem when its parent is empty. */
function setPath(cfg: RunConfig, path: string, value: ParamValue): string | null {
  const parts = path.split('.');
  let obj = cfg as unknown as Record<string, unknown>;
  for (const key of parts.slice(0, -1)) {
    const next = obj[key];
    if (next === null || typeof next !== 'object') return `${path}: the starting config has no ${key} settings (${key} is empty${key === 'lora' ? ': a base run' : ''})`;
    obj = next as Record<string, unknown>;
  }
  obj[parts.at(-1) as string] = value;
  return null;
}

/** The config with the point's values at their paths (a copy); throws on a path it cannot set. */
export function applyParams(cfg: RunConfig, params: Record<string, ParamValue>): RunConfig {
  const out = structuredClone(cfg);
  for (const [path, value] of Object.entries(params)) {
    const problem = valueProblem(path, value) ?? setPath(out, path, value);
    if (problem) throw new Error(problem);
  }
  return out;
}

function distributionProblem(path: string, d: Distribution): string | null {
  if (d.kind === 'choice') return d.values.length === 0 ? `${path}: the choice has no values` : null;
  if (!(d.min <= d.max)) return `${path}: ${d.kind} from ${d.min} to ${d.max}: the minimum is above the maximum`;
  if (d.kind === 'log-uniform' && d.min <= 0) return `${path}: log-uniform needs bounds above 0, got ${d.min}`;
  if (d.kind === 'int' && (!Number.isInteger(d.min) || !Number.isInteger(d.max))) return `${path}: int needs integer bounds, got ${d.min} and ${d.max}`;
  return null;
}

function draw(rng: Rng, d: Distribution): ParamValue {
  switch (d.kind) {
    case 'uniform':
      return rng.uniform(d.min, d.max);
    case 'log-uniform':
      return Math.exp(rng.uniform(Math.log(d.min), Math.log(d.max)));
    case 'int':
      return d.min + rng.int(d.max - d.min + 1);
    case 'choice':
      return d.values[rng.int(d.values.length)] as ParamValue;
  }
}

const isGrid = (a: SweepAxis): a is Extract<SweepAxis, { values: unknown }> => 'values' in a;

/** The values an axis can take, for the type checks (a distribution's bounds stand for its draws). */
function axisSamples(a: SweepAxis): ParamValue[] {
  if (isGrid(a)) return a.values;
  const d = a.distribution;
  return d.kind === 'choice' ? d.values : [d.min, d.max];
}

/**
 * Expands `spec` over its starting config `start` (before the overrides). `shape` is
 * the data set's shape (or one per data set id, when an axis moves `data`).
 */
export function expandSweep(spec: SweepSpec, start: RunConfig, shape: DataShape | null | ((dataId: number) => DataShape | null)): SweepPlan {
  const shapeOf = typeof shape === 'function' ? shape : () => shape;
  const issues: string[] = [];
  const seen = new Set<string>();
  const bad = (msg: string) => {
    if (!seen.has(msg)) issues.push(msg), seen.add(msg);
  };
  const seeds = spec.seeds ?? 1;
  const grid = spec.axes.filter(isGrid);
  const random = spec.axes.filter((a): a is Extract<SweepAxis, { distribution: unknown }> => !isGrid(a));
  const paths = [...grid, ...random].map((a) => a.path);
  const empty: SweepPlan = { config: start, paths, points: [], runs: [], seeds, issues };

  if (spec.start.kind === 'finetune' && !isFineTune(start.kind)) bad(`config: a fine-tune sweep needs a fine-tune config (kind "lora" or "full"), got kind "${start.kind}"`);
  if (spec.start.kind === 'base' && start.kind !== 'base') bad(`config: a base sweep needs a base config (kind "base"), got kind "${start.kind}"`);

  // The starting config: the overrides, then its own problems (they hold for every point).
  const config = structuredClone(start);
  for (const [path, value] of Object.entries(spec.overrides ?? {})) {
    const problem = valueProblem(path, value) ?? setPath(config, path, value);
    if (problem) bad(problem);
  }
  empty.config = config;

  // The axes: each path once, never empty, every value of the config's type there.
  const counted = new Set<string>();
  for (const axis of spec.axes) {
    if (counted.has(axis.path)) bad(`${axis.path}: swept by two axes (give one axis all its values)`);
    counted.add(axis.path);
    const structural = axis.path === 'seed' ? 'seed: not swept as an axis; use seeds (each point runs with the starting seed, +1, +2 …)' : pathProblem(axis.path);
    if (structural) {
      bad(structural);
      continue;
    }
    const parent = setPath(structuredClone(config), axis.path, null);
    if (parent) {
      bad(parent);
      continue;
    }
    if (isGrid(axis) && axis.values.length === 0) bad(`${axis.path}: the axis has no values`);
    if (!isGrid(axis)) {
      const dp = distributionProblem(axis.path, axis.distribution);
      if (dp) bad(dp);
      if (axis.distribution.kind !== 'choice' && PATHS.get(axis.path)?.type !== 'number') {
        bad(`${axis.path}: ${axis.distribution.kind} draws numbers, but ${axis.path} takes ${PATHS.get(axis.path)?.type === 'string' ? 'text' : 'true or false'} (use choice)`);
        continue;
      }
    }
    for (const value of axisSamples(axis)) {
      const vp = valueProblem(axis.path, value);
      if (vp) bad(vp);
    }
  }
  if (spec.trials !== undefined && random.length === 0) bad(`trials: ${spec.trials} trials, but no axis is random (trials draw the random axes)`);

  // How many runs before expanding anything (a product can be astronomically large).
  const trials = random.length ? (spec.trials ?? 1) : 1;
  const gridPoints = grid.reduce((n, a) => n * Math.max(a.values.length, 1), 1);
  const total = gridPoints * trials * seeds;
  if (total > MAX_SWEEP_RUNS) {
    const parts = [...grid.map((a) => String(a.values.length)), ...(random.length ? [`${trials} trials`] : []), `${seeds} seed${seeds === 1 ? '' : 's'}`];
    bad(`the sweep would be ${total.toLocaleString('en-US')} runs (${parts.join(' × ')}); at most ${MAX_SWEEP_RUNS.toLocaleString('en-US')} runs in one sweep`);
  }
  if (spec.budget !== undefined && spec.budget < seeds) bad(`budget: ${spec.budget} run${spec.budget === 1 ? '' : 's'} is a budget below one point (each point runs ${seeds} seeds)`);
  if (spec.prune) {
    const m = spec.prune.metric;
    if (!(PRUNE_METRICS as readonly string[]).includes(m)) bad(`prune: unknown metric "${m}" (runs report ${PRUNE_METRICS.join(', ')} while they train)`);
  }
  if (issues.length) return empty;

  // The starting config's own problems, stated once.
  const startIssues = new Set<string>();
  for (const i of configIssues(config, shapeOf(config.data))) {
    startIssues.add(`${i.field}\u0000${i.message}`);
    bad(`${i.field}: ${i.message}`);
  }
  const lastSeed = config.seed + seeds - 1;
  if (Number.isInteger(config.seed) && lastSeed > 0xffffffff) bad(`seeds: ${seeds} seeds from seed ${config.seed} go up to ${lastSeed}, above 4294967295`);

  // Grid product (first axis slowest) × trials drawn once with the sampling seed.
  let combos: Record<string, ParamValue>[] = [{}];
  for (const a of grid) combos = combos.flatMap((c) => a.values.map((v) => ({ ...c, [a.path]: v })));
  const rng = new Rng(spec.samplingSeed ?? 0);
  const draws = Array.from({ length: random.length ? trials : 1 }, () => Object.fromEntries(random.map((a) => [a.path, draw(rng, a.distribution)])));
  let params = combos.flatMap((c) => draws.map((d) => ({ ...c, ...d })));
  if (spec.budget !== undefined) params = params.slice(0, Math.floor(spec.budget / seeds));

  const points: SweepPoint[] = [];
  const runs: SweepRunPlan[] = [];
  params.forEach((p, index) => {
    const cfg = structuredClone(config);
    for (const [path, v] of Object.entries(p)) setPath(cfg, path, v);
    for (const i of configIssues(cfg, shapeOf(cfg.data))) {
      if (startIssues.has(`${i.field}\u0000${i.message}`)) continue;
      const swept = i.field in p ? i.field : paths.find((q) => i.field.startsWith(`${q}.`));
      if (swept !== undefined) bad(`${swept}=${formatParam(p[swept] as ParamValue)}: ${i.message}`);
      else bad(`${i.field}: ${i.message} (at ${pointLabel(p)})`);
    }
    if (spec.prune?.metric.startsWith('val/') && cfg.evalEvery === 0) {
      bad(`prune: ${spec.prune.metric} is measured every evalEvery steps, but evalEvery is 0${Object.keys(p).length && 'evalEvery' in p ? ` (at ${pointLabel(p)})` : ''}: set evalEvery above 0`);
    }
    points.push({ index, params: p, config: cfg });
    for (let k = 0; k < seeds; k++) runs.push({ point: index, seedIndex: k, seed: cfg.seed + k, params: p, config: { ...cfg, seed: cfg.seed + k } });
  });
  if (issues.length) return empty;
  return { config, paths, points, runs, seeds, issues };
}
