/**
 * Sweeps as text: the list, one sweep in full (its axes, progress, points and their
 * runs, groups, importance and best point), and its --json form (groups with class names
 * and units; see sweep-format.ts).
 */
import { GROUP_FIGURES, type GroupFigure } from '../contract/groups.ts';
import type { Distribution, SweepDetail, SweepSpec, SweepView } from '../contract/sweep.ts';
import { formatDuration } from './progress.ts';
import { oneLine } from './sanitize.ts';
import { FIGURE_UNITS, groupJson, groupsText, statText } from './sweep-format.ts';
import { plural, table } from './table.ts';

const date = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);

export const figureLabel = (key: string) => GROUP_FIGURES.find((f) => f.key === key)?.label ?? key;

/** Runs that are over (completed, failed, cancelled or pruned) of all the sweep's runs. */
export const doneCount = (v: SweepView) => v.counts.completed + v.counts.failed + v.counts.cancelled + v.counts.pruned;

/** "5 completed, 1 pruned, 1 failed, 1 running, 2 pending" (the zero counts left out but completed). */
export function countsText(v: SweepView): string {
  const c = v.counts;
  const parts = [`${c.completed} completed`];
  for (const k of ['pruned', 'failed', 'cancelled', 'running', 'queued', 'pending'] as const) if (c[k] > 0) parts.push(`${c[k]} ${k}`);
  return parts.join(', ');
}

function distText(d: Distribution): string {
  return d.kind === 'choice' ? `choice(${d.values.map(String).join(',')})` : `${d.kind}(${d.min},${d.max})`;
}

function axesText(spec: SweepSpec): string {
  const axes = spec.axes.map((a) => ('values' in a ? `${a.path} = ${a.values.map(String).join(', ')}` : `${a.path} ~ ${distText(a.distribution)}`));
  return axes.join('; ') || '(no axes: the starting config only)';
}

function startText(spec: SweepSpec): string {
  const s = spec.start;
  return s.kind === 'finetune' ? `fine-tunes of model ${s.baseModelId}` : s.kind === 'base' ? 'base trainings' : `clones of run ${s.runId}`;
}

/** The heading of a sweep: what it is, where it is. */
export function sweepHeader(v: SweepView): string[] {
  const spec = v.spec;
  const random = spec.axes.some((a) => 'distribution' in a);
  const owner = v.status === 'running' && !v.drivenHere ? ` (driven by ${oneLine(v.owner ?? 'another process')})` : '';
  return [
    `sweep ${v.id}: ${oneLine(v.name)}, ${v.status}${owner}${v.error ? ` — ${oneLine(v.error)}` : ''}`,
    `  ${startText(spec)}; axes: ${oneLine(axesText(spec))}`,
    `  ${plural(v.points, 'point')} × ${plural(v.seeds, 'seed')} = ${plural(v.counts.total, 'run')}${random ? `, ${plural(spec.trials ?? 1, 'trial')} drawn with sampling seed ${spec.samplingSeed ?? 0}` : ''}${spec.budget ? `, budget ${spec.budget}` : ''}, concurrency ${spec.concurrency ?? 1}${spec.prune ? `, ASHA pruning on ${spec.prune.metric} (η ${spec.prune.eta ?? 3})` : ''}`,
    `  progress: ${doneCount(v)} of ${v.counts.total} done (${countsText(v)})${v.etaSeconds !== null && v.status === 'running' ? `, ETA ${formatDuration(v.etaSeconds)}` : ''}`,
    `  objective: ${figureLabel(v.objective.figure)} (${v.objective.better} is better); created ${date(v.createdAt)}${v.finishedAt ? `, finished ${date(v.finishedAt)}` : ''}`,
  ];
}

export function listText(sweeps: SweepView[]): string {
  if (sweeps.length === 0) return 'no sweeps yet: lora-lab sweep create makes one (lora-lab sweep create --help)';
  return table(
    ['id', 'name', 'status', 'points', 'seeds', 'done', 'completed', 'pruned', 'failed', 'running', 'axes', 'created'],
    sweeps.map((v) => [v.id, v.name, v.status, v.points, v.seeds, `${doneCount(v)}/${v.counts.total}`, v.counts.completed, v.counts.pruned, v.counts.failed, v.counts.running, v.paths.join(', '), date(v.createdAt)]),
    ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
  );
}

/** A param value as a table cell (text as is, numbers to at most 4 significant digits: 0.001, 1, 0.003162). */
const paramCell = (x: unknown) => (typeof x === 'number' ? String(Number(x.toPrecision(4))) : String(x));

function runCell(r: SweepDetail['pointList'][number]['runs'][number]): string {
  const where = r.state === 'running' && r.step !== null && r.totalSteps ? ` ${r.step}/${r.totalSteps}` : r.state === 'pruned' && r.step !== null ? ` at ${r.step}` : '';
  return `${r.runId !== null ? `r${r.runId} ` : ''}${r.state}${where}${r.attempts > 1 ? ` (attempt ${r.attempts})` : ''}`;
}

/** The sweep's points, a row each: its values, its runs (one per seed) and its objective. */
export function pointsTable(d: SweepDetail): string {
  const fig = d.objective.figure as GroupFigure;
  const head = ['point', ...d.paths, 'runs (one per seed)', `${figureLabel(fig)}`];
  const rows = d.pointList.map((p) => [p.index, ...d.paths.map((k) => paramCell(p.params[k])), p.runs.map(runCell).join(', '), `${statText(p.objective, fig)} (n ${p.objective.n})`]);
  return table(head, rows, head.map((_, i) => (i === 0 || i === head.length - 1 ? 'r' : i <= d.paths.length ? 'r' : 'l')));
}

function importanceText(d: SweepDetail): string | null {
  if (d.importance.length === 0) return null;
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  return table(
    ['path', 'correlation', 'importance', 'n'],
    d.importance.map((r) => [r.path, f(r.correlation), f(r.importance), r.n]),
  );
}

export function bestText(d: SweepDetail): string {
  if (!d.best) return 'best point: none yet (no point has a completed run)';
  const fig = d.objective.figure as GroupFigure;
  const params = Object.entries(d.best.params).map(([k, x]) => `${k}=${paramCell(x)}`).join(' ');
  return `best point: #${d.best.point} ${params || '(the starting config)'}: ${figureLabel(fig)} ${statText(d.best.objective, fig)} (n ${d.best.objective.n}); runs ${d.best.runIds.join(', ')}`;
}

/** The mark of the best point's group in a group table. */
export const bestMark = (d: SweepDetail) => (g: { completedIds: number[] }) => (d.best && d.best.runIds.some((id) => g.completedIds.includes(id)) ? `◀ best ${figureLabel(d.objective.figure)}` : '');

/** What `sweep create` and `sweep resume` print once the sweep is over here. */
export function summaryText(d: SweepDetail): string {
  return [...sweepHeader(d), '', groupsText(d.groups, bestMark(d)), '', bestText(d)].join('\n');
}

export function showText(d: SweepDetail): string {
  const out = [...sweepHeader(d), '', 'points:', pointsTable(d), '', 'groups (by the swept paths, over completed runs):', groupsText(d.groups, bestMark(d))];
  const imp = importanceText(d);
  out.push('', imp ? `importance of each swept path for ${figureLabel(d.objective.figure)} (correlation −1…1; random-forest permutation importance, sums to 1):\n${imp}` : 'importance: none (no swept paths)');
  out.push('', bestText(d));
  return out.join('\n');
}

/** The --json form of a sweep in full: the contract's SweepDetail, groups with class names, units of every figure. */
export function detailJson(d: SweepDetail): object {
  return { ...d, groups: d.groups.map(groupJson), units: FIGURE_UNITS, figures: GROUP_FIGURES };
}
