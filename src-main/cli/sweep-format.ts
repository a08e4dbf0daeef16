/**
 * Groups of runs for the terminal and for --json, shared by `lora-lab groups` and
 * `lora-lab sweep`: a row per group with n and mean ± std of every summary figure (with
 * its unit said once under the table), wrong per class as classes × groups, and the
 * JSON form where every per-class figure carries its class name and a units map names
 * the unit of each figure.
 */
import type { DatasetRef } from '../contract/api.ts';
import { GROUP_FIGURES, type GroupFigure, type GroupView, type Stat } from '../contract/groups.ts';
import { classHeading, classLabels } from './data-ref.ts';
import { sig, table } from './table.ts';

/** Short column headings; the full label and unit are in GROUP_FIGURES and the legend. */
const HEADINGS: Record<GroupFigure, string> = {
  accuracy: 'accuracy',
  focusWrong: 'focus wrong',
  focusWrongBefore: 'focus wrong before',
  otherAccuracy: 'other accuracy',
  finalLoss: 'final loss',
  wallSeconds: 'time',
};

/** The unit of each figure, for --json (`fraction` is 0–1; counts are test samples). */
export const FIGURE_UNITS: Record<GroupFigure, string> = Object.fromEntries(GROUP_FIGURES.map((f) => [f.key, f.unit])) as Record<GroupFigure, string>;

/** A number of a figure in its display unit: accuracies in %, counts to 1 decimal, loss to 4 digits, time in s. */
function shown(figure: GroupFigure | 'count', x: number): string {
  if (figure === 'accuracy' || figure === 'otherAccuracy') return (x * 100).toFixed(2);
  if (figure === 'finalLoss') return sig(x);
  if (figure === 'wallSeconds') return x.toFixed(1);
  return x.toFixed(1);
}

const SUFFIX: Partial<Record<GroupFigure, string>> = { accuracy: '%', otherAccuracy: '%', wallSeconds: ' s' };

/** "91.23 ± 0.41%" (n ≥ 2), "91.23%" (n = 1), "—" (n = 0). */
export function statText(s: Stat | undefined, figure: GroupFigure | 'count'): string {
  if (!s || s.n === 0 || s.mean === null) return '—';
  const suffix = figure === 'count' ? '' : (SUFFIX[figure] ?? '');
  return s.std === null ? `${shown(figure, s.mean)}${suffix}` : `${shown(figure, s.mean)} ± ${shown(figure, s.std)}${suffix}`;
}

/** The figures any group has a value for (a base sweep has no focus classes …). */
export function figuresPresent(groups: readonly GroupView[]): GroupFigure[] {
  return GROUP_FIGURES.map((f) => f.key).filter((k) => groups.some((g) => (g.figures[k]?.n ?? 0) > 0));
}

export const LEGEND =
  'mean ± std over the n completed runs of each group (std from n ≥ 2); accuracy in % of the test samples, wrong counts in test samples, final loss as cross-entropy, time in s';

/**
 * One row per group: its label, n (completed of all its runs), mean ± std of each figure.
 * `mark` adds a last column (the sweep's best point).
 */
export function groupTable(groups: readonly GroupView[], mark?: (g: GroupView) => string): string {
  const figures = figuresPresent(groups);
  const marks = mark ? groups.map(mark) : [];
  const withMark = marks.some(Boolean);
  const head = ['group', 'n', ...figures.map((f) => HEADINGS[f]), ...(withMark ? [''] : [])];
  const rows = groups.map((g, i) => [
    g.label || '(all)',
    g.runIds.length > g.n ? `${g.n} of ${g.runIds.length}` : String(g.n),
    ...figures.map((f) => statText(g.figures[f], f)),
    ...(withMark ? [marks[i] ?? ''] : []),
  ]);
  return table(head, rows, head.map((_, i) => (i === 0 || (withMark && i === head.length - 1) ? 'l' : 'r')));
}

/** Wrong per class after training: a row per class, a column per group, mean ± std of the wrong count. */
export function wrongPerClassTable(groups: readonly GroupView[]): string | null {
  const count = Math.max(0, ...groups.map((g) => g.wrongPerClass.length));
  if (count === 0 || groups.every((g) => g.n === 0)) return null;
  const sets = [...new Set(groups.map((g) => g.dataset?.id ?? null))];
  const data: DatasetRef | null = sets.length === 1 ? (groups[0]?.dataset ?? null) : null;
  const labels = classLabels(data?.classes, count);
  const head = [sets.length === 1 ? classHeading(data) : 'class #', ...groups.map((g, i) => (groups.length > 1 ? `#${i + 1}` : g.label || '(all)'))];
  const rows = labels.map((label, c) => [label, ...groups.map((g) => statText(g.wrongPerClass[c], 'count'))]);
  return table(head, rows);
}

/** Group rows, their legend and (for more than one group) the numbers the class table's columns refer to. */
export function groupsText(groups: readonly GroupView[], mark?: (g: GroupView) => string): string {
  if (groups.length === 0) return 'no groups: none of the runs has completed yet';
  const out = [groupTable(groups, mark), LEGEND];
  const wrong = wrongPerClassTable(groups);
  if (wrong) {
    out.push('', `wrong per class after training (mean ± std, test samples)${groups.length > 1 ? `; columns: ${groups.map((g, i) => `#${i + 1} ${g.label || '(all)'}`).join(', ')}` : ''}:`, wrong);
  }
  return out.join('\n');
}

/**
 * A group as --json gives it: the contract's GroupView with each per-class Stat naming
 * its class (`class`, the data set's class name), plus its figures' units.
 */
export function groupJson(g: GroupView): GroupView & { wrongPerClass: (Stat & { class: string })[]; units: Record<GroupFigure, string> } {
  const labels = classLabels(g.dataset?.classes, g.wrongPerClass.length);
  return { ...g, wrongPerClass: g.wrongPerClass.map((s, i) => ({ class: labels[i]!, ...s })), units: FIGURE_UNITS };
}
