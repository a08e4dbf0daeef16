/**
 * Command-line flags → RunConfig. Every flag maps onto one config field, and the
 * config's own validation produces the error messages (the same ones the UI shows),
 * checked against the run's data set (its widths and class names).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LORA_INITS, LORA_VARIANTS, type RunConfig, type RunKind, classicPreset, layerNames, validateConfig } from '../contract/config.ts';
import { type DatasetView, MNIST_DATASET_ID } from '../contract/dataset.ts';
import { classesFromFlags } from './data-ref.ts';
import { UsageError } from './usage-error.ts';

export { UsageError };

export const runFlags = {
  seed: { type: 'string' },
  'batch-size': { type: 'string' },
  epochs: { type: 'string' },
  steps: { type: 'string' },
  /** The same as --steps (the config's name for it). */
  'max-steps': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  data: { type: 'string' },
  classes: { type: 'string' },
  digits: { type: 'string' },
  hidden: { type: 'string' },
  sizes: { type: 'string' },
  rank: { type: 'string' },
  alpha: { type: 'string' },
  targets: { type: 'string' },
  init: { type: 'string' },
  variant: { type: 'string' },
  /** LoRA-FA: A frozen after its init; --no-freeze-a undoes it (a run cloned with --from-run). */
  'freeze-a': { type: 'boolean' },
  'no-freeze-a': { type: 'boolean' },
  rslora: { type: 'boolean' },
  'lora-plus': { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  'eval-every': { type: 'string' },
  backend: { type: 'string' },
  name: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const commonFlags = {
  json: { type: 'boolean' },
  db: { type: 'string' },
  'reset-db': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export type Flags = Record<string, string | boolean | undefined>;

/**
 * `--lr -1` → `--lr=-1`: where a flag takes a value, the next argument is its value even
 * when it begins with a dash (a negative number), unless it is itself one of the
 * command's flags; validation then says what is wrong with the value. (parseArgs alone
 * calls `--lr -1` "ambiguous".) A flag left without a value says so by name.
 */
function attachValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const shorts = new Set(Object.values(options).flatMap((o) => (o.short ? [`-${o.short}`] : [])));
  const isFlag = (a: string) => a === '--' || shorts.has(a) || (a.startsWith('--') && a.slice(2).split('=')[0]! in options);
  const out: string[] = [];
  // A negative number where a positional goes (`show -1`) is an argument, not a flag: it
  // moves after `--`, so the command's own check says what is wrong with it.
  const negatives: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i), ...negatives);
      return out;
    }
    if (/^-\d/.test(a) && !shorts.has(a)) {
      negatives.push(a);
      continue;
    }
    const long = /^--([^=]+)$/.exec(a)?.[1];
    const name = long ?? Object.keys(options).find((k) => shorts.has(a) && options[k]!.short === a.slice(1));
    if (name !== undefined && options[name]?.type === 'string') {
      const next = argv[i + 1];
      if (next === undefined || isFlag(next)) throw new UsageError(`--${name} needs a value`);
      out.push(`--${name}=${next}`);
      i++;
      continue;
    }
    out.push(a);
  }
  return negatives.length ? [...out, '--', ...negatives] : out;
}

export function parse(argv: string[], options: ParseArgsConfig['options'], allowPositionals = false): { values: Flags; positionals: string[] } {
  const args = attachValues(argv, options ?? {});
  try {
    const { values, positionals } = parseArgs({ args, options: options ?? {}, allowPositionals, strict: true });
    return { values: values as Flags, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

function num(flags: Flags, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

function list(flags: Flags, name: string, none = false): number[] | undefined {
  const v = flags[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  if (v === 'all' || v === '') return undefined;
  if (none && v.trim() === 'none') return [];
  return v.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a comma-separated list of numbers, got "${v}"`);
    return n;
  });
}

/** A flag that names one of `choices`: "--variant must be lora or dora, got "x"". */
function oneOf<T extends string>(flags: Flags, name: string, choices: readonly T[]): T | undefined {
  const v = flags[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const s = v.trim().toLowerCase();
  if (!(choices as readonly string[]).includes(s)) {
    const list = choices.length > 2 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join(' or ');
    throw new UsageError(`--${name} must be ${list}, got "${v}"`);
  }
  return s as T;
}

/**
 * A config's starting point on data set `data`: `start`'s hidden widths between the data
 * set's input and output widths. Its fine-tune slice is digit 7 on MNIST (the classic
 * experiment), every class elsewhere.
 */
export function onDataset(start: RunConfig, data: DatasetView): RunConfig {
  const cfg = structuredClone(start);
  cfg.data = data.id;
  cfg.sizes = [data.inputSize, ...start.sizes.slice(1, -1), data.classes.length];
  if (data.id !== MNIST_DATASET_ID) cfg.classes = null;
  return cfg;
}

/** Apply flags over a starting config (defaults or a preset, on `data`) and validate against the data set. */
export function configFromFlags(kind: RunKind, flags: Flags, start: RunConfig, data: DatasetView): RunConfig {
  const cfg: RunConfig = structuredClone(start);
  cfg.data = data.id;
  const set = <K extends keyof RunConfig>(k: K, v: RunConfig[K] | undefined) => {
    if (v !== undefined) cfg[k] = v;
  };
  set('seed', num(flags, 'seed'));
  set('batchSize', num(flags, 'batch-size'));
  set('epochs', num(flags, 'epochs'));
  if (flags['steps'] !== undefined && flags['max-steps'] !== undefined) throw new UsageError('give --steps or --max-steps (the same setting), not both');
  const steps = num(flags, 'steps') ?? num(flags, 'max-steps');
  if (steps !== undefined) cfg.maxSteps = steps;
  set('lr', num(flags, 'lr'));
  if (typeof flags['optimizer'] === 'string') cfg.optimizer = flags['optimizer'] as RunConfig['optimizer'];
  const classes = classesFromFlags(flags, data);
  if (classes !== undefined) cfg.classes = classes;
  if (flags['sizes'] !== undefined && flags['hidden'] !== undefined) {
    throw new UsageError('give --hidden (the hidden widths; input and output follow the data set) or --sizes (every width), not both');
  }
  const hidden = list(flags, 'hidden', true);
  const sizes = hidden ? [data.inputSize, ...hidden, data.classes.length] : list(flags, 'sizes');
  if (sizes) {
    cfg.sizes = sizes;
    if (cfg.lora) cfg.lora.targets = layerNames(sizes);
  }
  const trainLimit = num(flags, 'train-limit');
  if (trainLimit !== undefined) cfg.trainLimit = trainLimit;
  const testLimit = num(flags, 'test-limit');
  if (testLimit !== undefined) cfg.testLimit = testLimit;
  set('evalEvery', num(flags, 'eval-every'));
  if (cfg.lora) {
    const r = num(flags, 'rank');
    if (r !== undefined) cfg.lora.r = r;
    const alpha = num(flags, 'alpha');
    if (alpha !== undefined) cfg.lora.alpha = alpha;
    if (typeof flags['targets'] === 'string') cfg.lora.targets = flags['targets'].split(',').map((s) => s.trim());
    const init = oneOf(flags, 'init', LORA_INITS);
    if (init !== undefined) cfg.lora.init = init;
    const variant = oneOf(flags, 'variant', LORA_VARIANTS);
    if (variant !== undefined) cfg.lora.variant = variant;
    if (flags['freeze-a'] && flags['no-freeze-a']) throw new UsageError('give --freeze-a or --no-freeze-a, not both');
    if (flags['freeze-a']) cfg.lora.freezeA = true;
    if (flags['no-freeze-a']) cfg.lora.freezeA = false;
    if (flags['rslora']) cfg.lora.scaling = 'rslora';
    const plus = num(flags, 'lora-plus');
    if (plus !== undefined) cfg.lora.loraPlusRatio = plus;
  } else {
    for (const f of ['rank', 'alpha', 'targets', 'init', 'variant', 'freeze-a', 'no-freeze-a', 'rslora', 'lora-plus']) {
      if (flags[f] !== undefined) {
        throw new UsageError(cfg.kind === 'full' ? `--${f} is a LoRA setting; --full trains every weight and has none` : `--${f} only applies to LoRA fine-tuning (lora-lab finetune)`);
      }
    }
  }
  return validateConfig(cfg, { name: data.name, inputSize: data.inputSize, classes: data.classes });
}

export { classicPreset };
