/**
 * Run configuration: the one description of a training or fine-tuning run, shared by
 * the CLI, the Lab service, the UI (live parameter counts) and the trainer. Pure data
 * and pure functions — no tfjs here, so the renderer can import it.
 */
import * as v from 'valibot';
import { MAX_SCALING } from './limits.ts';
import { MAX_CLASSES, MNIST_DATASET_ID } from './dataset.ts';

/**
 * `base` trains an MLP from scratch; `lora` fine-tunes a stored model with an adapter
 * (the base frozen); `full` fine-tunes every weight of a stored model on the same slice,
 * with the same data, steps and optimizer: the baseline LoRA is set against (issue 16).
 */
export const RUN_KINDS = ['base', 'lora', 'full'] as const;
export const OPTIMIZERS = ['adam', 'sgd'] as const;
/** `lora`: ΔW = s·B·A added to W0; `dora`: W' = m ⊙ (W0 + s·B·A) / ‖W0 + s·B·A‖ per output row (src-main/adapters/). */
export const LORA_VARIANTS = ['lora', 'dora'] as const;
/**
 * How A and B start. `kaiming` (PEFT's default) and `gaussian` draw A and set B = 0;
 * `pissa` (SVD) and `olora` (QR) take both from the base weight and train against the
 * residual W0 − s·B0·A0, so the adapted model still equals the base at step 0.
 */
export const LORA_INITS = ['kaiming', 'gaussian', 'pissa', 'olora'] as const;
export const LORA_SCALINGS = ['standard', 'rslora'] as const;

const finite = v.pipe(v.number(), v.finite());
const shortText = (max: number) => v.pipe(v.string(), v.maxLength(max));

/**
 * The shapes below are the schemas every boundary checks (IPC, HTTP: contract/schemas.ts);
 * the TypeScript types are derived from them, so each is stated once. Structure and
 * sizes are checked by the schema; meaning (a rank that fits its layer …) by configIssues.
 */
export const loraConfigSchema = v.strictObject({
  /** Rank r of A [r, in] and B [out, r]. */
  r: finite,
  alpha: finite,
  /** Layer names (`linear1` …) that get an adapter. */
  targets: v.pipe(v.array(shortText(64)), v.maxLength(64)),
  /** How A and B start (LORA_INITS). */
  init: v.picklist(LORA_INITS),
  /** LoRA or DoRA (LORA_VARIANTS); configs stored before variants existed read as `lora`. */
  variant: v.optional(v.picklist(LORA_VARIANTS), 'lora'),
  /** LoRA-FA: A stays as initialised, only B (and DoRA's magnitude) trains, B's gradient projected as PEFT's LoraFAOptimizer. */
  freezeA: v.optional(v.boolean(), false),
  /** `standard`: alpha / r; `rslora`: alpha / √r. */
  scaling: v.picklist(LORA_SCALINGS),
  /** LoRA+: B learns at `loraPlusRatio × lr`; 1 turns it off. */
  loraPlusRatio: finite,
});

export const runConfigSchema = v.strictObject({
  kind: v.picklist(RUN_KINDS),
  /** The data set it trains and is evaluated on (a datasets row; MNIST is 1). */
  data: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)),
  /** Layer widths, input first: [784, 1000, 2000, 10]; input and output follow the data set. */
  sizes: v.pipe(v.array(finite), v.minLength(2), v.maxLength(65)),
  seed: finite,
  batchSize: finite,
  epochs: finite,
  /** Stop after this many optimizer steps (null: run all epochs). */
  maxSteps: v.nullable(finite),
  optimizer: v.picklist(OPTIMIZERS),
  lr: finite,
  /** Train only on these classes, by index (null: all of them). MNIST's classes are its digits. */
  classes: v.nullable(v.pipe(v.array(finite), v.maxLength(MAX_CLASSES))),
  /** Use at most this many training samples (null: all of the subset). */
  trainLimit: v.nullable(finite),
  /** Evaluate on this many test samples (null: the whole test set). */
  testLimit: v.nullable(finite),
  /** Quick evaluation every N steps on the first `evalSubset` test samples (0: only at the end). */
  evalEvery: finite,
  evalSubset: finite,
  /** Present exactly when kind = 'lora' (null for base and full runs). */
  lora: v.nullable(loraConfigSchema),
});

export type RunKind = (typeof RUN_KINDS)[number];

/** Runs that start from a stored model (its weights, widths and data set): LoRA and full fine-tunes. */
export const isFineTune = (kind: RunKind): boolean => kind !== 'base';
/** What a run kind is called in tables and headings. */
export const RUN_KIND_LABELS: Record<RunKind, string> = { base: 'base', lora: 'LoRA', full: 'full fine-tune' };
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type LoraInit = (typeof LORA_INITS)[number];
export type LoraVariant = (typeof LORA_VARIANTS)[number];
export type LoraScaling = (typeof LORA_SCALINGS)[number];
export type LoraConfig = v.InferOutput<typeof loraConfigSchema>;
export type RunConfig = v.InferOutput<typeof runConfigSchema>;

/** What validation needs to know of the run's data set: its widths and class names. */
export interface DataShape {
  name: string;
  inputSize: number;
  classes: readonly string[];
}

export const DEFAULT_SIZES: readonly number[] = [784, 1000, 2000, 10];

export function layerNames(sizes: readonly number[]): string[] {
  return sizes.slice(1).map((_, i) => `linear${i + 1}`);
}

export function defaultLora(sizes: readonly number[] = DEFAULT_SIZES): LoraConfig {
  return { r: 1, alpha: 1, targets: layerNames(sizes), init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false };
}

export function defaultConfig(kind: RunKind): RunConfig {
  return {
    kind,
    data: MNIST_DATASET_ID,
    sizes: [...DEFAULT_SIZES],
    seed: 0,
    batchSize: 10,
    epochs: 1,
    maxSteps: isFineTune(kind) ? 100 : null,
    optimizer: 'adam',
    lr: 1e-3,
    classes: isFineTune(kind) ? [7] : null,
    trainLimit: null,
    testLimit: null,
    evalEvery: isFineTune(kind) ? 25 : 500,
    evalSubset: 1000,
    lora: kind === 'lora' ? defaultLora() : null,
  };
}

/** The classic experiment (docs/math.md, The classic experiment): base MLP one epoch, then rank-1 LoRA on digit 7. */
export function classicPreset(kind: RunKind, seed = 0): RunConfig {
  const cfg = defaultConfig(kind);
  cfg.seed = seed;
  if (cfg.lora) cfg.lora.init = 'gaussian';
  return cfg;
}

export interface FieldIssue {
  field: string;
  message: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

/**
 * Absurdity bounds, whatever the machine: one weight matrix of 2^28 float32 values is
 * 1 GiB, and with its gradient and Adam's two moments already the whole 4 GiB a wasm
 * heap can hold. (What fits a given machine is checked when a run is created: memory.ts.)
 */
export const MAX_LAYER_WEIGHTS = 2 ** 28;
export const MAX_LAYERS = 64;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const oneOf = (list: readonly string[], value: unknown): boolean => typeof value === 'string' && list.includes(value);
const mustBe = (list: readonly string[], value: unknown) => `must be ${list.map((x) => `"${x}"`).join(' or ')}, got ${JSON.stringify(value)}`;
const isPosFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Every problem with a config, as field-level messages a form can show. */
export function configIssues(cfg: RunConfig, data: DataShape | null = null): FieldIssue[] {
  const out: FieldIssue[] = [];
  const bad = (field: string, message: string) => out.push({ field, message });
  if (!oneOf(RUN_KINDS, cfg.kind)) bad('kind', mustBe(RUN_KINDS, cfg.kind));
  const sizes = cfg.sizes;
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => isInt(s) && s >= 1 && s <= 65536)) {
    bad('sizes', 'must be at least two layer widths, each an integer from 1 to 65536');
  } else {
    if (data && sizes[0] !== data.inputSize) bad('sizes', `the input width must be ${data.inputSize} (the values of one sample of ${data.name}), got ${sizes[0]}`);
    if (data && sizes[sizes.length - 1] !== data.classes.length) {
      bad('sizes', `the output width must be ${data.classes.length} (the classes of ${data.name}), got ${sizes[sizes.length - 1]}`);
    }
    if (sizes.length - 1 > MAX_LAYERS) bad('sizes', `at most ${MAX_LAYERS} layers, got ${sizes.length - 1}`);
    const huge = layerNames(sizes).findIndex((_, i) => (sizes[i] as number) * (sizes[i + 1] as number) > MAX_LAYER_WEIGHTS);
    if (huge >= 0) {
      const [a, b] = [sizes[huge] as number, sizes[huge + 1] as number];
      bad('sizes', `layer linear${huge + 1} (${a}→${b}) would hold ${(a * b).toLocaleString('en-US')} weights; a layer holds at most ${MAX_LAYER_WEIGHTS.toLocaleString('en-US')} (1 GiB of float32)`);
    }
  }
  if (!isInt(cfg.seed) || cfg.seed < 0 || cfg.seed > 0xffffffff) bad('seed', 'must be an integer from 0 to 4294967295');
  if (!isInt(cfg.batchSize) || cfg.batchSize < 1 || cfg.batchSize > 60000) bad('batchSize', 'must be an integer from 1 to 60000');
  if (!isInt(cfg.epochs) || cfg.epochs < 1 || cfg.epochs > 1000) bad('epochs', 'must be an integer from 1 to 1000');
  if (cfg.maxSteps !== null && (!isInt(cfg.maxSteps) || cfg.maxSteps < 1)) bad('maxSteps', 'must be a positive integer or empty');
  if (!oneOf(OPTIMIZERS, cfg.optimizer)) bad('optimizer', mustBe(OPTIMIZERS, cfg.optimizer));
  if (!isPosFinite(cfg.lr) || cfg.lr > 10) bad('lr', `learning rate must be a number in (0, 10], got ${cfg.lr}`);
  if (!isInt(cfg.data) || cfg.data < 1) bad('data', 'must be the id of a data set');
  if (cfg.classes !== null) {
    const count = data?.classes.length ?? MAX_CLASSES;
    const named = (c: number) => (data && isInt(c) && c >= 0 && c < count ? `${c} (${data.classes[c]})` : JSON.stringify(c));
    if (!Array.isArray(cfg.classes) || cfg.classes.length === 0) bad('classes', 'must list at least one class, or be empty for all');
    else {
      const wrong = cfg.classes.filter((c) => !isInt(c) || c < 0 || c >= count);
      if (wrong.length) bad('classes', `unknown class ${wrong.map((c) => JSON.stringify(c)).join(', ')} (classes are 0–${count - 1}${data ? ` in ${data.name}` : ''})`);
      else if (new Set(cfg.classes).size !== cfg.classes.length) bad('classes', `lists a class twice (${named(cfg.classes.find((c, i) => cfg.classes!.indexOf(c) !== i)!)})`);
    }
  }
  if (cfg.trainLimit !== null && (!isInt(cfg.trainLimit) || cfg.trainLimit < 1)) bad('trainLimit', 'must be a positive integer or empty');
  if (cfg.testLimit !== null && (!isInt(cfg.testLimit) || cfg.testLimit < 1)) bad('testLimit', 'must be a positive integer or empty');
  if (!isInt(cfg.evalEvery) || cfg.evalEvery < 0) bad('evalEvery', 'must be a non-negative integer (0: only at the end)');
  if (!isInt(cfg.evalSubset) || cfg.evalSubset < 1) bad('evalSubset', 'must be a positive integer');
  if (cfg.kind === 'lora') {
    if (!cfg.lora) bad('lora', 'a LoRA run needs LoRA settings');
    else out.push(...loraIssues(cfg.lora, Array.isArray(sizes) ? sizes : []));
  } else if (cfg.lora !== null) {
    bad('lora', cfg.kind === 'full' ? 'a full fine-tune trains every weight: it has no LoRA settings' : 'a base run has no LoRA settings');
  }
  return out;
}

export function loraIssues(lora: LoraConfig, sizes: readonly number[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  const bad = (field: string, message: string) => out.push({ field: `lora.${field}`, message });
  const names = layerNames(sizes);
  if (!Array.isArray(lora.targets) || lora.targets.length === 0) bad('targets', 'choose at least one layer');
  else {
    const unknown = lora.targets.filter((t) => !names.includes(t));
    if (unknown.length) bad('targets', `unknown layer ${unknown.join(', ')} (layers: ${names.join(', ')})`);
    if (new Set(lora.targets).size !== lora.targets.length) bad('targets', 'lists a layer twice');
  }
  if (!isInt(lora.r) || lora.r < 1) bad('r', `rank must be a positive integer, got ${lora.r}`);
  else if (Array.isArray(lora.targets)) {
    for (const t of lora.targets) {
      const i = names.indexOf(t);
      if (i < 0) continue;
      const limit = Math.min(sizes[i] as number, sizes[i + 1] as number);
      if (lora.r > limit) bad('r', `rank ${lora.r} is larger than layer ${t} allows (min(in, out) = ${limit})`);
    }
  }
  if (!isPosFinite(lora.alpha)) bad('alpha', `must be a positive number, got ${lora.alpha}`);
  else if (isInt(lora.r) && lora.r >= 1 && loraScaling(lora) > MAX_SCALING) {
    // Beyond this, scaling × B·A leaves float32 and the run trains to NaN.
    bad('alpha', `alpha ${lora.alpha} with rank ${lora.r} gives a scaling of ${loraScaling(lora).toPrecision(3)}, more than ${MAX_SCALING.toLocaleString('en-US')}`);
  }
  if (!oneOf(LORA_INITS, lora.init)) bad('init', mustBe(LORA_INITS, lora.init));
  if (!oneOf(LORA_SCALINGS, lora.scaling)) bad('scaling', mustBe(LORA_SCALINGS, lora.scaling));
  if (!oneOf(LORA_VARIANTS, lora.variant ?? 'lora')) bad('variant', mustBe(LORA_VARIANTS, lora.variant));
  if (typeof (lora.freezeA ?? false) !== 'boolean') bad('freezeA', `must be true or false, got ${JSON.stringify(lora.freezeA)}`);
  if (!isPosFinite(lora.loraPlusRatio) || lora.loraPlusRatio > 1000) bad('loraPlusRatio', 'must be a number in (0, 1000] (1 turns LoRA+ off)');
  return out;
}

export function validateConfig(cfg: RunConfig, data: DataShape | null = null): RunConfig {
  const issues = configIssues(cfg, data);
  if (issues.length) throw new ConfigError(issues);
  return cfg;
}

export function loraScaling(lora: Pick<LoraConfig, 'r' | 'alpha' | 'scaling'>): number {
  return lora.scaling === 'rslora' ? lora.alpha / Math.sqrt(lora.r) : lora.alpha / lora.r;
}

export interface ParamCounts {
  /** Parameters of the base MLP (weights and biases). */
  base: number;
  /** Parameters that train in this run. */
  trainable: number;
  /** Parameters of the model the percentage is taken of (the base MLP, as the paper counts). */
  total: number;
  /** Adapter parameters (0 for a base run). */
  adapter: number;
  /** trainable / base × 100 for LoRA (the paper's "extra parameters"), 100 for base and full runs. */
  percent: number;
}

export function paramCounts(cfg: Pick<RunConfig, 'sizes' | 'lora' | 'kind'>): ParamCounts {
  let base = 0;
  for (let i = 0; i + 1 < cfg.sizes.length; i++) base += (cfg.sizes[i] as number) * (cfg.sizes[i + 1] as number) + (cfg.sizes[i + 1] as number);
  if (cfg.kind !== 'lora' || !cfg.lora) return { base, trainable: base, total: base, adapter: 0, percent: 100 };
  const names = layerNames(cfg.sizes);
  const { r, variant = 'lora', freezeA = false } = cfg.lora;
  let adapter = 0;
  let trainable = 0;
  for (const t of cfg.lora.targets) {
    const i = names.indexOf(t);
    if (i < 0) continue;
    const [inF, outF] = [cfg.sizes[i] as number, cfg.sizes[i + 1] as number];
    const magnitude = variant === 'dora' ? outF : 0; // DoRA's m, one per output
    adapter += r * (inF + outF) + magnitude;
    trainable += (freezeA ? 0 : r * inF) + r * outF + magnitude; // LoRA-FA: A frozen
  }
  return { base, trainable, total: base, adapter, percent: (trainable / base) * 100 };
}
