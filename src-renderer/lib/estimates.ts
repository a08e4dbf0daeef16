/**
 * What a config will do before it runs: training examples and optimizer steps (the
 * same arithmetic as the trainer's subset and loop), from MNIST's class counts.
 */
import type { RunConfig } from '../../src-main/contract/config.ts';

/** Images per digit in the MNIST training set. */
export const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949] as const;
export const MNIST_TEST_SIZE = 10_000;

export function estimateExamples(cfg: Pick<RunConfig, 'digits' | 'trainLimit'>): number {
  const digits = cfg.digits ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const available = digits.reduce((s, d) => s + (MNIST_TRAIN_COUNTS[d] ?? 0), 0);
  return cfg.trainLimit === null ? available : Math.min(available, cfg.trainLimit);
}

export function estimateStepsPerEpoch(cfg: Pick<RunConfig, 'digits' | 'trainLimit' | 'batchSize'>): number {
  return Math.max(1, Math.ceil(estimateExamples(cfg) / Math.max(1, cfg.batchSize)));
}

export function estimateSteps(cfg: Pick<RunConfig, 'digits' | 'trainLimit' | 'batchSize' | 'epochs' | 'maxSteps'>): number {
  const all = estimateStepsPerEpoch(cfg) * cfg.epochs;
  return cfg.maxSteps === null ? all : Math.min(cfg.maxSteps, all);
}
