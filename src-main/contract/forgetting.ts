/**
 * Learning against forgetting (Biderman et al. 2024, "LoRA Learns Less and Forgets
 * Less"), as every side sees it: for a set of fine-tunes on one slice, what each learned
 * (accuracy on the fine-tuned classes, gain over the base) against what it forgot
 * (accuracy lost on the other classes), each evaluation point of its run on the way,
 * and the Pareto front of the finished runs. Accuracies are fractions (0–1); every
 * figure says over how many test samples (n) it was measured.
 */
import * as v from 'valibot';
import type { DatasetRef } from './api.ts';
import type { RunKind } from './config.ts';

const id = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));

export const forgettingRequestSchema = v.strictObject({
  /** The runs to set side by side (fine-tunes: LoRA or full), or a sweep's runs. */
  runIds: v.optional(v.pipe(v.array(id), v.minLength(1), v.maxLength(2000))),
  sweepId: v.optional(id),
});
export type ForgettingRequest = v.InferOutput<typeof forgettingRequestSchema>;

/** An accuracy and the test samples it is over. */
export interface Measured {
  accuracy: number;
  n: number;
}

export interface TrajectoryPoint {
  /** Optimizer steps done (0: the base, before fine-tuning). */
  step: number;
  /** Gain on the focus classes and loss on the others at this point, against the base's (fractions). */
  learned: number;
  forgotten: number;
  focus: Measured;
  other: Measured;
  /** `before`/`after`: the full evaluations; `quick`: an evaluation on the first evalSubset test samples. */
  source: 'before' | 'quick' | 'after';
}

export interface ForgettingRun {
  runId: number;
  name: string;
  kind: RunKind;
  /** "LoRA r8", "DoRA r4", "full fine-tune". */
  method: string;
  /** The adapter's rank (null for a full fine-tune). */
  rank: number | null;
  lr: number;
  seed: number;
  steps: number;
  /** After fine-tuning against the base: focus accuracy gained and other accuracy lost (fractions; forgotten < 0 is a gain). */
  learned: number;
  forgotten: number;
  before: { focus: Measured; other: Measured };
  after: { focus: Measured; other: Measured };
  /** Every evaluation of the run, in step order: the base, the quick evaluations, the end. */
  trajectory: TrajectoryPoint[];
  /** On the Pareto front: no other run learned at least as much and forgot at most as much, one of them strictly. */
  pareto: boolean;
}

export interface ForgettingView {
  dataset: DatasetRef | null;
  /** The fine-tuned classes, by name, shared by every run shown. */
  focusClasses: string[];
  runs: ForgettingRun[];
  /** The front's run ids, by forgotten ascending (the line drawn). */
  front: number[];
  /** Runs asked for but left out, and why (not completed, a base run, another slice …). */
  skipped: { runId: number; name: string; reason: string }[];
}
