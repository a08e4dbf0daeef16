/**
 * The sweep flags as text → the SweepSpec's parts: `--grid PATH=V1,V2,…`,
 * `--random PATH=DIST`, `--prune asha:METRIC[:eta]`. Pure, so it is unit-tested alone.
 *
 * Values are typed by the starting config's value at the path: `--grid optimizer=adam,sgd`
 * stays text and `--grid lr=0.001,0.01` becomes numbers, so "1" for a string setting is
 * not turned into a number. Where the config has null (maxSteps …) or no value at all,
 * the text decides (a number, true/false, null, else text). Whether a path exists and a
 * value fits is the Lab's check (createSweep names every problem at once); the syntax is
 * checked here.
 */
import type { RunConfig } from '../contract/config.ts';
import { CONFIG_PATH, type Distribution, type ParamValue, type PruneSpec, type SweepAxis } from '../contract/sweep.ts';
import { UsageError } from './usage-error.ts';

export type GridAxis = Extract<SweepAxis, { values: unknown }>;
export type RandomAxis = Extract<SweepAxis, { distribution: unknown }>;

/** The value at a dotted path of a config; `undefined` when there is no such path. */
export function valueAt(config: RunConfig, path: string): unknown {
  let at: unknown = config;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

/** One value for `path` from the command line, typed like the config's value there. */
export function typedValue(text: string, current: unknown): ParamValue {
  const s = text.trim();
  if (s === 'null') return null;
  if (typeof current === 'string') return s;
  if (typeof current === 'number') return isNumber(s) ? Number(s) : s; // the Lab names a non-number
  if (typeof current === 'boolean') return s === 'true' ? true : s === 'false' ? false : s;
  if (isNumber(s)) return Number(s);
  if (s === 'true' || s === 'false') return s === 'true';
  return s;
}

/** `PATH=REST` → [path, rest], the path checked for its syntax. */
function splitPath(flag: string, text: string, example: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq < 1) throw new UsageError(`--${flag} takes PATH=${flag === 'grid' ? 'V1,V2,…' : 'DIST'}, e.g. --${flag} ${example}, got "${text}"`);
  const path = text.slice(0, eq).trim();
  if (!CONFIG_PATH.test(path)) throw new UsageError(`--${flag} ${text}: "${path}" is not a config path (dotted names like lora.r or lr)`);
  return [path, text.slice(eq + 1)];
}

/** Comma-separated items; an empty item (`1,,2`, a trailing comma) is a mistake. */
function items(flag: string, path: string, text: string): string[] {
  if (text.trim() === '') throw new UsageError(`--${flag} ${path}= has no values: an axis needs at least one`);
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`--${flag} ${path}=${text}: an empty value between commas`);
  return parts;
}

/** `--grid lora.r=1,2,4` → a grid axis with values typed by `start`. */
export function parseGrid(text: string, start: RunConfig): GridAxis {
  const [path, rest] = splitPath('grid', text, 'lora.r=1,2,4');
  const current = valueAt(start, path);
  return { path, values: items('grid', path, rest).map((s) => typedValue(s, current)) };
}

const DIST = /^\s*([A-Za-z-]+)\s*\((.*)\)\s*$/;
const DIST_NAMES = 'uniform(a,b), log-uniform(a,b), int(a,b) or choice(v1,v2,…)';

/** `uniform(0,1)`, `log-uniform(1e-4,1e-2)` (or `loguniform`), `int(1,8)`, `choice(a,b,c)`. */
export function parseDistribution(text: string, current: unknown = undefined): Distribution {
  const m = DIST.exec(text);
  if (!m) throw new UsageError(`"${text}" is not a distribution: use ${DIST_NAMES}`);
  const name = m[1]!.toLowerCase();
  const args = m[2]!.split(',').map((s) => s.trim());
  if (name === 'choice') {
    if (args.some((a) => a === '')) throw new UsageError(`${text}: choice needs values separated by commas, none empty`);
    return { kind: 'choice', values: args.map((a) => typedValue(a, current)) };
  }
  const kind = name === 'loguniform' ? 'log-uniform' : name;
  if (kind !== 'uniform' && kind !== 'log-uniform' && kind !== 'int') throw new UsageError(`unknown distribution "${m[1]}" in ${text}: use ${DIST_NAMES}`);
  if (args.length !== 2 || !args.every(isNumber)) throw new UsageError(`${text}: ${kind} takes two numbers, its lowest and highest value, e.g. ${kind}(${kind === 'int' ? '1,8' : kind === 'log-uniform' ? '0.0001,0.01' : '0,1'})`);
  const [min, max] = args.map(Number) as [number, number];
  if (min > max) throw new UsageError(`${text}: the lowest value ${min} is above the highest ${max}`);
  if (kind === 'log-uniform' && min <= 0) throw new UsageError(`${text}: log-uniform needs both bounds above 0 (it is uniform in log space)`);
  if (kind === 'int' && !(Number.isInteger(min) && Number.isInteger(max))) throw new UsageError(`${text}: int takes whole-number bounds`);
  return { kind, min, max };
}

/** `--random lr=log-uniform(1e-4,1e-2)` → a random axis. */
export function parseRandom(text: string, start: RunConfig): RandomAxis {
  const [path, rest] = splitPath('random', text, 'lr=log-uniform(0.0001,0.01)');
  try {
    return { path, distribution: parseDistribution(rest, valueAt(start, path)) };
  } catch (err) {
    throw err instanceof UsageError ? new UsageError(`--random ${path}: ${err.message}`) : err;
  }
}

/** `--prune asha:val/accuracy[:3]` → ASHA early stopping on that metric (η = 3 unless given). */
export function parsePrune(text: string): PruneSpec {
  const parts = text.split(':').map((s) => s.trim());
  const [kind, metric, eta, ...more] = parts;
  const usage = 'e.g. --prune asha:val/accuracy or --prune asha:val/loss:2';
  if (kind !== 'asha' || !metric || more.length) throw new UsageError(`--prune takes asha:METRIC[:ETA], ${usage}; got "${text}"`);
  if (eta === undefined) return { kind: 'asha', metric };
  if (!/^\d+$/.test(eta) || Number(eta) < 2 || Number(eta) > 16) throw new UsageError(`--prune ${text}: the reduction factor η must be a whole number from 2 to 16, got "${eta}"`);
  return { kind: 'asha', metric, eta: Number(eta) };
}

/** A whole-number flag within bounds, or undefined when not given. */
export function intFlag(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const s = String(value);
  const n = Number(s);
  if (!/^\s*\d+\s*$/.test(s) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got "${s}"`);
  return n;
}

/** Several values of a repeatable flag (parseArgs gives a string, an array or nothing). */
export const many = (v: unknown): string[] => (v === undefined ? [] : ([] as unknown[]).concat(v).map(String));
