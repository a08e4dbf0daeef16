/**
 * What the New run form derives from a config for its side panel (trainable parameters,
 * scaling, images, steps, memory …) and which fields need attention. A figure computed
 * from a field with a problem would be nonsense ("Scaling Infinity" at rank 0, a
 * negative parameter count at rank −3, "242% of the base" at a rank the layers cannot
 * hold), so each figure is null — shown as "—" — while any field it depends on has a
 * problem. Pure: unit-tested without a browser.
 */
import { type FieldIssue, type ParamCounts, type RunConfig, layerNames, loraScaling, paramCounts } from '../../src-main/contract/config.ts';
import { trainerMemory } from '../../src-main/trainer/memory.ts';
import { MNIST_TEST_SIZE, estimateExamples, estimateSteps } from './estimates.ts';

export interface RunFigures {
  counts: ParamCounts | null;
  scaling: number | null;
  examples: number | null;
  steps: number | null;
  testImages: number | null;
  /** Estimated trainer memory in bytes. */
  memory: number | null;
}

/** The fields each figure is computed from (configIssues' field names, plus the form's baseModel). */
export const FIGURE_INPUTS: Record<keyof RunFigures, readonly string[]> = {
  counts: ['kind', 'sizes', 'baseModel', 'lora', 'lora.r', 'lora.targets'],
  scaling: ['kind', 'lora', 'lora.r', 'lora.alpha', 'lora.scaling'],
  examples: ['digits', 'trainLimit'],
  steps: ['digits', 'trainLimit', 'batchSize', 'epochs', 'maxSteps'],
  testImages: ['testLimit'],
  memory: ['kind', 'sizes', 'baseModel', 'batchSize', 'optimizer', 'lora', 'lora.r', 'lora.targets'],
};

export function runFigures(cfg: RunConfig, issues: readonly FieldIssue[]): RunFigures {
  const bad = new Set(issues.map((i) => i.field));
  const ok = (figure: keyof RunFigures) => FIGURE_INPUTS[figure].every((f) => !bad.has(f));
  return {
    counts: ok('counts') ? paramCounts(cfg) : null,
    scaling: cfg.lora && ok('scaling') ? loraScaling(cfg.lora) : null,
    examples: ok('examples') ? estimateExamples(cfg) : null,
    steps: ok('steps') ? estimateSteps(cfg) : null,
    testImages: ok('testImages') ? (cfg.testLimit ?? MNIST_TEST_SIZE) : null,
    memory: ok('memory') ? trainerMemory(cfg).total : null,
  };
}

/**
 * Parameters a rank-r adapter adds to each layer, r·(in + out); null for a layer whose
 * width cannot hold rank r (r > min(in, out)) or when r is not a positive integer.
 */
export function layerAdapterParams(sizes: readonly number[], r: number): { name: string; inp: number; out: number; params: number | null }[] {
  const rankOk = Number.isInteger(r) && r >= 1;
  return layerNames(sizes).map((name, i) => {
    const inp = sizes[i] as number;
    const out = sizes[i + 1] as number;
    return { name, inp, out, params: rankOk && r <= Math.min(inp, out) ? r * (inp + out) : null };
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
