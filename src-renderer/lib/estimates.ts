/**
 * What a config will do before it runs: training examples and optimizer steps (the
 * same arithmetic as the trainer's subset and loop), from the data set's class counts.
 * Without counts they are MNIST's (data set 1), for callers that only know a config.
 */
import type { RunConfig } from '../../src-main/contract/config.ts';

/** Images per digit in the MNIST training set. */
export const MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949] as const;
export const MNIST_TEST_SIZE = 10_000;

/** Training samples of the chosen classes (all of them for null), capped by the training limit. */
export function estimateExamples(cfg: Pick<RunConfig, 'classes' | 'trainLimit'>, trainPerClass: readonly number[] = MNIST_TRAIN_COUNTS): number {
  const available = cfg.classes ? cfg.classes.reduce((s, c) => s + (trainPerClass[c] ?? 0), 0) : trainPerClass.reduce((s, n) => s + n, 0);
  return cfg.trainLimit === null ? available : Math.min(available, cfg.trainLimit);
}

export function estimateStepsPerEpoch(cfg: Pick<RunConfig, 'classes' | 'trainLimit' | 'batchSize'>, trainPerClass: readonly number[] = MNIST_TRAIN_COUNTS): number {
  return Math.max(1, Math.ceil(estimateExamples(cfg, trainPerClass) / Math.max(1, cfg.batchSize)));
}

export function estimateSteps(
  cfg: Pick<RunConfig, 'classes' | 'trainLimit' | 'batchSize' | 'epochs' | 'maxSteps'>,
  trainPerClass: readonly number[] = MNIST_TRAIN_COUNTS,
): number {
  const all = estimateStepsPerEpoch(cfg, trainPerClass) * cfg.epochs;
  return cfg.maxSteps === null ? all : Math.min(cfg.maxSteps, all);
}
