/**
 * How groups of runs read: a figure's mean ± std with its unit (accuracy as %, counts
 * as test samples, seconds), why a std is missing, a difference of two groups with its
 * 95% confidence interval and Welch's p-value, and the one plain-language line that
 * states the focus figure's difference. Pure functions; the numbers come from the Lab.
 */
import { GROUP_FIGURES, type GroupFigure, type GroupTest, type GroupView, type Stat } from '../../src-main/contract/groups.ts';
import type { ParamValue } from '../../src-main/contract/sweep.ts';
import type { DatasetRef } from '../../src-main/contract/api.ts';
import { className, isDigits, listNames } from './classes.ts';
import { fmtNum } from './format.ts';

export type FigureDef = (typeof GROUP_FIGURES)[number];
export type FigureUnit = FigureDef['unit'];

const MINUS = '\u2212';

export function figureDef(key: GroupFigure): FigureDef {
  return GROUP_FIGURES.find((f) => f.key === key) ?? GROUP_FIGURES[0];
}

/** The unit as a column header states it: fractions are shown as %. */
export function unitLabel(unit: FigureUnit): string {
  return unit === 'fraction' ? '%' : unit;
}

/** "test accuracy (%)", "wall time (s)" … */
export function figureHeader(def: FigureDef): string {
  return `${def.label} (${unitLabel(def.unit)})`;
}

/** What follows the number: % for fractions, " s" for seconds; counts and losses have theirs in the header. */
function suffix(unit: FigureUnit): string {
  return unit === 'fraction' ? '%' : unit === 's' ? ' s' : '';
}

/** A figure's number without its unit: fractions as percent with 2 decimals, counts with 1, the rest 3 significant digits. */
export function fmtFigureNumber(v: number | null, unit: FigureUnit): string {
  if (v === null || !Number.isFinite(v)) return '—';
  const s = unit === 'fraction' ? (v * 100).toFixed(2) : unit === 'test samples' ? v.toFixed(1) : fmtNum(v, 3);
  return s.replace(/^-/, MINUS);
}

/** A single value with its unit ("91.50%", "13.8", "2.41 s"). */
export function fmtFigure(v: number | null, unit: FigureUnit): string {
  const s = fmtFigureNumber(v, unit);
  return s === '—' ? s : `${s}${suffix(unit)}`;
}

/** Why the std of a stat is (or is not) shown, for a cell's title. */
export function stdTitle(stat: Stat): string {
  if (stat.n === 0) return 'no completed run of this group has this figure';
  if (stat.std === null) return `only ${stat.n} run has this figure: a standard deviation needs at least two`;
  return `sample standard deviation over ${stat.n} runs (n − 1)`;
}

export interface StatParts {
  /** The mean's number ("91.50"), or "—". */
  mean: string;
  /** The std's number, or "—" (see `title`). */
  std: string;
  /** The unit after the numbers ("%", " s", ""). */
  suffix: string;
  n: number;
  title: string;
  /** The whole cell as text: "91.50 ± 1.29%", "91.50% ± —", "—". */
  text: string;
}

/** A stat as a table cell shows it: mean ± std with the unit once; "—" for the std where n < 2. */
export function statParts(stat: Stat, unit: FigureUnit): StatParts {
  const mean = fmtFigureNumber(stat.mean, unit);
  const sfx = suffix(unit);
  const std = stat.std === null || stat.n < 2 ? '—' : fmtFigureNumber(stat.std, unit);
  const text = mean === '—' ? '—' : std === '—' ? `${mean}${sfx} ± —` : `${mean} ± ${std}${sfx}`;
  return { mean, std, suffix: sfx, n: stat.n, title: stdTitle(stat), text };
}

export const fmtStat = (stat: Stat, unit: FigureUnit): string => statParts(stat, unit).text;

/** A difference's number with its sign: "+7.4", "−0.42 pp" (accuracies differ in percentage points). */
export function fmtDiff(v: number | null, unit: FigureUnit): string {
  if (v === null || !Number.isFinite(v)) return '—';
  const body = fmtFigureNumber(Math.abs(v), unit);
  const sign = v > 0 ? '+' : v < 0 ? MINUS : '';
  return `${sign}${body}${unit === 'fraction' ? ' pp' : suffix(unit)}`;
}

/** A range of two numbers: "3.1–11.7" when both are ≥ 0, else "−1.2 to 3.4" (a dash beside a minus misreads). */
export function fmtRange(lo: number, hi: number, unit: FigureUnit): string {
  const a = fmtFigureNumber(lo, unit);
  const b = fmtFigureNumber(hi, unit);
  return lo >= 0 && hi >= 0 ? `${a}–${b}` : `${a} to ${b}`;
}

/** "p = 0.002", "p < 0.001", "p = 0.51"; two significant digits. */
export function fmtP(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return 'p —';
  if (p < 0.001) return 'p < 0.001';
  return `p = ${String(Number(p.toPrecision(2)))}`;
}

/** A, B, C … for groups on a page (Z, then G27 …). */
export function groupLetter(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `G${i + 1}`;
}

/** Figures that some group has (a base-only table has no focus classes). */
export function shownFigures(groups: readonly Pick<GroupView, 'figures'>[]): FigureDef[] {
  return GROUP_FIGURES.filter((f) => groups.some((g) => (g.figures[f.key]?.n ?? 0) > 0));
}

/** The figure a comparison leads with: the focus classes' wrong count when there are focus classes, else accuracy. */
export function focusFigure(groups: readonly Pick<GroupView, 'figures'>[]): GroupFigure {
  return groups.some((g) => (g.figures.focusWrong?.n ?? 0) > 0) ? 'focusWrong' : 'accuracy';
}

/** A grouping value as people read it: the data set and classes by name, numbers compact. */
export function paramText(path: string, v: ParamValue, dataset: DatasetRef | null): string {
  if (v === null) return '—';
  if (path === 'data' && dataset && v === dataset.id) return dataset.name;
  // Lists come as JSON ("[7]", "[784,32,10]"): the classes by name, the sizes as layers.
  const list = typeof v === 'string' && v.startsWith('[') ? parseList(v) : null;
  if (list) {
    if (path === 'classes') return list.map((c) => (typeof c === 'number' ? className(dataset, c) : String(c))).join(', ');
    return list.join(path === 'sizes' ? '→' : ', ');
  }
  if (typeof v === 'number') return fmtNum(v);
  return String(v);
}

function parseList(s: string): unknown[] | null {
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** "wrong 7s" (one digit), "wrong answers on digits 3, 7", "wrong answers on cat". */
export function wrongNoun(dataset: DatasetRef | null, classes: readonly number[]): string {
  const names = classes.map((c) => className(dataset, c));
  if (names.length === 0) return 'wrong answers on the focus classes';
  if (isDigits(dataset)) return names.length === 1 ? `wrong ${names[0]}s` : `wrong answers on digits ${listNames(names)}`;
  return `wrong answers on ${listNames(names)}`;
}

/** A test's figure by name: a GROUP_FIGURES label or "wrong on <class>". */
export function testLabel(figure: GroupTest['figure'], dataset: DatasetRef | null): string {
  if (figure.startsWith('wrong:')) return `wrong on ${className(dataset, Number(figure.slice(6)))}`;
  return figureDef(figure as GroupFigure).label;
}

export function testUnit(figure: GroupTest['figure']): FigureUnit {
  return figure.startsWith('wrong:') ? 'test samples' : figureDef(figure as GroupFigure).unit;
}

export interface DifferenceInput {
  test: GroupTest;
  /** The groups' names as the page calls them ("group A"). */
  a: string;
  b: string;
  nA: number;
  nB: number;
  dataset: DatasetRef | null;
  /** The focus classes (indices), for the wrong count's name. */
  classes: readonly number[];
}

/** Why a test has no CI or p-value. */
function missingReason(nA: number, nB: number, a: string, b: string): string {
  if (nA < 2 || nB < 2) {
    const few = nA < 2 ? `${a} has ${nA} completed run${nA === 1 ? '' : 's'}` : `${b} has ${nB} completed run${nB === 1 ? '' : 's'}`;
    return `no confidence interval or p-value: ${few}, at least two are needed`;
  }
  return 'no p-value: neither group varies';
}

/**
 * The difference of two groups on one figure in a sentence, b against a:
 * "group B gets 7.4 fewer wrong 7s than group A (95% CI 3.1–11.7, p = 0.002, Welch's t-test, n = 8 and 8)".
 */
export function differenceLine(d: DifferenceInput): string {
  const { test, a, b, nA, nB } = d;
  const unit = testUnit(test.figure);
  const ns = `n = ${nA} and ${nB}`;
  if (test.diff === null) return `${b} and ${a} cannot be set against each other on ${testLabel(test.figure, d.dataset)} (${ns})`;
  const diff = test.diff;
  const size = fmtFigureNumber(Math.abs(diff), unit);
  const wrong = test.figure === 'focusWrong' || test.figure.startsWith('wrong:');
  const lower = diff < 0;
  let claim: string;
  if (wrong) {
    const noun = test.figure === 'focusWrong' ? wrongNoun(d.dataset, d.classes) : `wrong ${className(d.dataset, Number(test.figure.slice(6)))}s`;
    claim = diff === 0 ? `${b} gets as many ${noun} as ${a}` : `${b} gets ${size} ${lower ? 'fewer' : 'more'} ${noun} than ${a}`;
  } else {
    const label = testLabel(test.figure, d.dataset);
    const amount = unit === 'fraction' ? `${size} percentage points` : `${size}${suffix(unit) || ` ${unitLabel(unit)}`}`;
    claim = diff === 0 ? `${b}'s ${label} is the same as ${a}'s` : `${b}'s ${label} is ${amount} ${lower ? 'lower' : 'higher'} than ${a}'s`;
  }
  if (test.ci95 === null || test.p === null) {
    const ci = test.ci95 ? `95% CI ${ciOfSize(test.ci95, diff, unit)}; ` : '';
    return `${claim} (${ci}${missingReason(nA, nB, a, b)}, ${ns})`;
  }
  return `${claim} (95% CI ${ciOfSize(test.ci95, diff, unit)}, ${fmtP(test.p)}, Welch's t-test, ${ns})`;
}

/** The CI of the difference stated in the sentence's direction: for "7.4 fewer", the CI of a − b. */
function ciOfSize(ci: [number, number], diff: number, unit: FigureUnit): string {
  const [lo, hi] = diff < 0 ? [-ci[1], -ci[0]] : ci;
  return fmtRange(lo, hi, unit);
}
