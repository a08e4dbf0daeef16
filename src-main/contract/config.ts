/**
 * Run configuration: the one description of a training or fine-tuning run, shared by
 * the CLI, the Lab service, the UI (live parameter counts) and the trainer. Pure data
 * and pure functions — no tfjs here, so the renderer can import it.
 */
import { MAX_SCALING } from '../weights/finite.ts';

export type RunKind = 'base' | 'lora';
export type OptimizerName = 'adam' | 'sgd';
export type LoraInit = 'kaiming' | 'gaussian';
export type LoraScaling = 'standard' | 'rslora';

export interface LoraConfig {
  /** Rank r of A [r, in] and B [out, r]. */
  r: number;
  alpha: number;
  /** Layer names (`linear1` …) that get an adapter. */
  targets: string[];
  /** A's initialisation; B always starts at zero. `kaiming` is PEFT's default. */
  init: LoraInit;
  /** `standard`: alpha / r; `rslora`: alpha / √r. */
  scaling: LoraScaling;
  /** LoRA+: B learns at `loraPlusRatio × lr`; 1 turns it off. */
  loraPlusRatio: number;
}

export interface RunConfig {
  kind: RunKind;
  /** Layer widths, input first: [784, 1000, 2000, 10]. */
  sizes: number[];
  seed: number;
  batchSize: number;
  epochs: number;
  /** Stop after this many optimizer steps (null: run all epochs). */
  maxSteps: number | null;
  optimizer: OptimizerName;
  lr: number;
  /** Train only on these digits (null: all ten). */
  digits: number[] | null;
  /** Use at most this many training images (null: all of the subset). */
  trainLimit: number | null;
  /** Evaluate on this many test images (null: the whole test set). */
  testLimit: number | null;
  /** Quick evaluation every N steps on the first `evalSubset` test images (0: only at the end). */
  evalEvery: number;
  evalSubset: number;
  /** Present exactly when kind = 'lora'. */
  lora: LoraConfig | null;
}

export const DEFAULT_SIZES: readonly number[] = [784, 1000, 2000, 10];

export function layerNames(sizes: readonly number[]): string[] {
  return sizes.slice(1).map((_, i) => `linear${i + 1}`);
}

export function defaultLora(sizes: readonly number[] = DEFAULT_SIZES): LoraConfig {
  return { r: 1, alpha: 1, targets: layerNames(sizes), init: 'kaiming', scaling: 'standard', loraPlusRatio: 1 };
}

export function defaultConfig(kind: RunKind): RunConfig {
  return {
    kind,
    sizes: [...DEFAULT_SIZES],
    seed: 0,
    batchSize: 10,
    epochs: 1,
    maxSteps: kind === 'lora' ? 100 : null,
    optimizer: 'adam',
    lr: 1e-3,
    digits: kind === 'lora' ? [7] : null,
    trainLimit: null,
    testLimit: null,
    evalEvery: kind === 'lora' ? 25 : 500,
    evalSubset: 1000,
    lora: kind === 'lora' ? defaultLora() : null,
  };
}

/** The classic experiment (DESIGN.md): base MLP one epoch, then rank-1 LoRA on digit 7. */
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
const isPosFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Every problem with a config, as field-level messages a form can show. */
export function configIssues(cfg: RunConfig): FieldIssue[] {
  const out: FieldIssue[] = [];
  const bad = (field: string, message: string) => out.push({ field, message });
  if (cfg.kind !== 'base' && cfg.kind !== 'lora') bad('kind', `must be "base" or "lora", got ${JSON.stringify(cfg.kind)}`);
  const sizes = cfg.sizes;
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => isInt(s) && s >= 1 && s <= 65536)) {
    bad('sizes', 'must be at least two layer widths, each an integer from 1 to 65536');
  } else {
    if (sizes[0] !== 784) bad('sizes', `the input width must be 784 (28×28 MNIST pixels), got ${sizes[0]}`);
    if (sizes[sizes.length - 1] !== 10) bad('sizes', `the output width must be 10 (digits), got ${sizes[sizes.length - 1]}`);
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
  if (cfg.optimizer !== 'adam' && cfg.optimizer !== 'sgd') bad('optimizer', `must be "adam" or "sgd", got ${JSON.stringify(cfg.optimizer)}`);
  if (!isPosFinite(cfg.lr) || cfg.lr > 10) bad('lr', `learning rate must be a number in (0, 10], got ${cfg.lr}`);
  if (cfg.digits !== null) {
    if (!Array.isArray(cfg.digits) || cfg.digits.length === 0) bad('digits', 'must list at least one digit, or be empty for all');
    else {
      const wrong = cfg.digits.filter((d) => !isInt(d) || d < 0 || d > 9);
      if (wrong.length) bad('digits', `unknown digit ${wrong.map((d) => JSON.stringify(d)).join(', ')} (digits are 0–9)`);
      else if (new Set(cfg.digits).size !== cfg.digits.length) bad('digits', 'lists a digit twice');
    }
  }
  if (cfg.trainLimit !== null && (!isInt(cfg.trainLimit) || cfg.trainLimit < 1)) bad('trainLimit', 'must be a positive integer or empty');
  if (cfg.testLimit !== null && (!isInt(cfg.testLimit) || cfg.testLimit < 1 || cfg.testLimit > 10000)) bad('testLimit', 'must be an integer from 1 to 10000 or empty');
  if (!isInt(cfg.evalEvery) || cfg.evalEvery < 0) bad('evalEvery', 'must be a non-negative integer (0: only at the end)');
  if (!isInt(cfg.evalSubset) || cfg.evalSubset < 1 || cfg.evalSubset > 10000) bad('evalSubset', 'must be an integer from 1 to 10000');
  if (cfg.kind === 'lora') {
    if (!cfg.lora) bad('lora', 'a LoRA run needs LoRA settings');
    else out.push(...loraIssues(cfg.lora, Array.isArray(sizes) ? sizes : []));
  } else if (cfg.kind === 'base' && cfg.lora !== null) {
    bad('lora', 'a base run has no LoRA settings');
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
  if (lora.init !== 'kaiming' && lora.init !== 'gaussian') bad('init', `must be "kaiming" or "gaussian", got ${JSON.stringify(lora.init)}`);
  if (lora.scaling !== 'standard' && lora.scaling !== 'rslora') bad('scaling', `must be "standard" or "rslora", got ${JSON.stringify(lora.scaling)}`);
  if (!isPosFinite(lora.loraPlusRatio) || lora.loraPlusRatio > 1000) bad('loraPlusRatio', 'must be a number in (0, 1000] (1 turns LoRA+ off)');
  return out;
}

export function validateConfig(cfg: RunConfig): RunConfig {
  const issues = configIssues(cfg);
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
  /** trainable / base × 100 for LoRA (the paper's "extra parameters"), 100 for base. */
  percent: number;
}

export function paramCounts(cfg: Pick<RunConfig, 'sizes' | 'lora' | 'kind'>): ParamCounts {
  let base = 0;
  for (let i = 0; i + 1 < cfg.sizes.length; i++) base += (cfg.sizes[i] as number) * (cfg.sizes[i + 1] as number) + (cfg.sizes[i + 1] as number);
  if (cfg.kind !== 'lora' || !cfg.lora) return { base, trainable: base, total: base, adapter: 0, percent: 100 };
  const names = layerNames(cfg.sizes);
  let lora = 0;
  for (const t of cfg.lora.targets) {
    const i = names.indexOf(t);
    if (i >= 0) lora += cfg.lora.r * ((cfg.sizes[i] as number) + (cfg.sizes[i + 1] as number));
  }
  return { base, trainable: lora, total: base, adapter: lora, percent: (lora / base) * 100 };
}
