/**
 * Groups of runs as every side sees them: runs with the same config but the seed (or
 * the same values of the keys a person picks), summarised as n and mean ± std of every
 * figure, their curves as a mean with a band, and two groups set against each other
 * (difference of means with its 95% confidence interval, Welch's t-test). The
 * statistics themselves are in stats.ts.
 */
import type { DatasetRef, NamedRef, Series } from './api.ts';
import type { ParamValue } from './sweep.ts';

/** n, mean and sample standard deviation (n − 1) of one figure over a group's runs. */
export interface Stat {
  /** Runs that have the figure. */
  n: number;
  mean: number | null;
  /** Sample standard deviation; null for n < 2. */
  std: number | null;
  min: number | null;
  max: number | null;
  /** Half-width of the 95% confidence interval of the mean (Student t, n − 1 df); null for n < 2. */
  ci95: number | null;
}

/**
 * The summary figures a group row shows, stated once: key (as in GroupView.figures),
 * what it is, its unit and which way is better. Accuracies are fractions (0–1).
 */
export const GROUP_FIGURES = [
  { key: 'accuracy', label: 'test accuracy', unit: 'fraction', better: 'higher' },
  { key: 'focusWrong', label: 'wrong on the focus classes', unit: 'test samples', better: 'lower' },
  { key: 'focusWrongBefore', label: 'wrong on the focus classes before', unit: 'test samples', better: 'lower' },
  { key: 'otherAccuracy', label: 'accuracy on the other classes', unit: 'fraction', better: 'higher' },
  { key: 'finalLoss', label: 'final training loss', unit: 'cross-entropy', better: 'lower' },
  { key: 'wallSeconds', label: 'wall time', unit: 's', better: 'lower' },
] as const;
export type GroupFigure = (typeof GROUP_FIGURES)[number]['key'];
export const GROUP_FIGURE_KEYS = GROUP_FIGURES.map((f) => f.key) as readonly GroupFigure[];

export interface GroupView {
  /** Stable within one answer: the grouping values as JSON. */
  key: string;
  /** A short name: the grouping values, e.g. "lora.r=4 lr=0.003". */
  label: string;
  /** The grouping paths' values shared by the group's runs. */
  params: Record<string, ParamValue>;
  /** Every run of the group, completed or not. */
  runIds: number[];
  /** Completed runs: the ones its figures are over. */
  completedIds: number[];
  /** n = completed runs. */
  n: number;
  figures: Record<GroupFigure, Stat>;
  /** Wrong predictions per true class after training (index = class of `dataset`). */
  wrongPerClass: Stat[];
  dataset: DatasetRef | null;
  /** Seeds of its completed runs, in completedIds order. */
  seeds: number[];
}

export interface GroupRequest {
  /** The runs to group (any runs); or all runs of a sweep. One of the two. */
  runIds?: number[];
  sweepId?: number;
  /**
   * Config paths to group by. Default: every path whose value differs between the
   * runs, except `seed`: runs with the same config but the seed form one group.
   */
  by?: string[];
}

export interface GroupTable {
  /** The paths the groups are keyed by (the default or the request's). */
  by: string[];
  groups: GroupView[];
  /** Runs left out and why (not completed yet, failed …), by id and name. */
  excluded: (NamedRef & { reason: string })[];
  figures: typeof GROUP_FIGURES;
}

/** A group's curve of one metric: the mean over its runs at each step, with its band. */
export interface GroupSeries {
  steps: number[];
  mean: number[];
  std: number[];
  /** Runs that have a value at that step. */
  n: number[];
  /** mean ∓ the 95% confidence half-width (Student t), as drawn for the band. */
  lo95: number[];
  hi95: number[];
  /** The member runs' own series, drawn faint underneath (completedIds order). */
  members: Series[];
}

/** Two groups set against each other on one figure: b − a. */
export interface GroupTest {
  figure: GroupFigure | `wrong:${number}`;
  /** mean(b) − mean(a). */
  diff: number | null;
  /** 95% confidence interval of the difference (Welch–Satterthwaite df). */
  ci95: [number, number] | null;
  t: number | null;
  df: number | null;
  /** Two-sided p-value of Welch's t-test; null when a group has n < 2 or both variances are 0. */
  p: number | null;
}

export interface GroupComparisonRequest {
  groups: { name?: string; runIds: number[] }[];
}

export interface GroupComparison {
  groups: (GroupView & { name: string })[];
  /** Metric key → one curve per group (null where a group's runs lack it). */
  series: Record<string, (GroupSeries | null)[]>;
  /** With exactly two groups: second minus first on every figure and per class. */
  tests: GroupTest[];
}

/** How much one swept path matters for a sweep's objective (W&B's importance panel, offline). */
export interface ImportanceRow {
  path: string;
  /** Pearson correlation of the (numeric or ordinal-coded) value with the objective over completed runs; null when constant. */
  correlation: number | null;
  /** Permutation importance from a random forest fitted to the completed runs, normalised to sum 1; null below 4 runs. */
  importance: number | null;
  /** Runs the figures are over. */
  n: number;
}
