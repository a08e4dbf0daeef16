/**
 * What the New run form derives from a config for its side panel (trainable parameters,
 * scaling, images, steps, memory …) and which fields need attention. A figure computed
 * from a field with a problem would be nonsense ("Scaling Infinity" at rank 0, a
 * negative parameter count at rank −3, "242% of the base" at a rank the layers cannot
 * hold), so each figure is null — shown as "—" — while any field it depends on has a
 * problem. Pure: unit-tested without a browser.
 */
import { type FieldIssue, type LoraVariant, type ParamCounts, type RunConfig, layerNames, loraScaling, paramCounts } from '../../src-main/contract/config.ts';
import { trainerMemory } from '../../src-main/contract/memory.ts';
import { MNIST_TEST_SIZE, MNIST_TRAIN_COUNTS, estimateExamples, estimateSteps } from './estimates.ts';

export interface RunFigures {
  counts: ParamCounts | null;
  scaling: number | null;
  examples: number | null;
  steps: number | null;
  testImages: number | null;
  /** Estimated trainer memory in bytes. */
  memory: number | null;
}

/** The fields each figure is computed from (configIssues' field names, plus the form's baseModel and data). */
export const FIGURE_INPUTS: Record<keyof RunFigures, readonly string[]> = {
  counts: ['kind', 'sizes', 'baseModel', 'lora', 'lora.r', 'lora.targets', 'lora.variant', 'lora.freezeA'],
  scaling: ['kind', 'lora', 'lora.r', 'lora.alpha', 'lora.scaling'],
  examples: ['data', 'classes', 'trainLimit'],
  steps: ['data', 'classes', 'trainLimit', 'batchSize', 'epochs', 'maxSteps'],
  testImages: ['data', 'testLimit'],
  memory: ['data', 'kind', 'sizes', 'baseModel', 'batchSize', 'optimizer', 'lora', 'lora.r', 'lora.targets', 'lora.variant', 'lora.freezeA'],
};

/** What the figures need of the run's data set: its counts, and the bytes its samples take (undefined: MNIST's figure). */
export interface DataCounts {
  trainPerClass: readonly number[];
  testCount: number;
  bytes?: number | undefined;
}

export const MNIST_COUNTS: DataCounts = { trainPerClass: MNIST_TRAIN_COUNTS, testCount: MNIST_TEST_SIZE };

/** `data` null: the data set is not known (none chosen, or deleted): the figures from its counts are null. */
export function runFigures(cfg: RunConfig, issues: readonly FieldIssue[], data: DataCounts | null = MNIST_COUNTS): RunFigures {
  const bad = new Set(issues.map((i) => i.field));
  const ok = (figure: keyof RunFigures) => FIGURE_INPUTS[figure].every((f) => !bad.has(f)) && (data !== null || !FIGURE_INPUTS[figure].includes('data'));
  return {
    counts: ok('counts') ? paramCounts(cfg) : null,
    scaling: cfg.lora && ok('scaling') ? loraScaling(cfg.lora) : null,
    examples: ok('examples') ? estimateExamples(cfg, data!.trainPerClass) : null,
    steps: ok('steps') ? estimateSteps(cfg, data!.trainPerClass) : null,
    // The trainer evaluates on at most the whole test split.
    testImages: ok('testImages') ? Math.min(cfg.testLimit ?? data!.testCount, data!.testCount) : null,
    memory: ok('memory') ? trainerMemory(cfg, data!.bytes).total : null,
  };
}

/**
 * Parameters a rank-r adapter adds to each layer, r·(in + out), and DoRA's magnitude
 * (one per output) on top; `trainable` of them, without A (r·in) under LoRA-FA. Null
 * for a layer whose width cannot hold rank r (r > min(in, out)) or when r is not a
 * positive integer. The same arithmetic as paramCounts, per layer.
 */
export function layerAdapterParams(
  sizes: readonly number[],
  r: number,
  opts: { variant?: LoraVariant | undefined; freezeA?: boolean | undefined } = {},
): { name: string; inp: number; out: number; params: number | null; trainable: number | null }[] {
  const rankOk = Number.isInteger(r) && r >= 1;
  return layerNames(sizes).map((name, i) => {
    const inp = sizes[i] as number;
    const out = sizes[i + 1] as number;
    if (!rankOk || r > Math.min(inp, out)) return { name, inp, out, params: null, trainable: null };
    const magnitude = opts.variant === 'dora' ? out : 0;
    const params = r * (inp + out) + magnitude;
    return { name, inp, out, params, trainable: opts.freezeA ? params - r * inp : params };
  });
}

/**
 * The fields that need attention, once each in the order of their first problem, with
 * their messages joined (a rank too large for three layers is one field, not three).
 */
export function fieldProblems(issues: readonly FieldIssue[]): { field: string; message: string }[] {
  const by = new Map<string, string[]>();
  for (const i of issues) {
    const list = by.get(i.field) ?? [];
    if (!list.includes(i.message)) list.push(i.message);
    by.set(i.field, list);
  }
  return [...by].map(([field, messages]) => ({ field, message: messages.join('; ') }));
}
