/**
 * Commands over stored runs: runs (a filtered table), show, compare, rm, tag, models.
 * Every one prints a table, or one JSON value with --json.
 */
import type { Comparison, RunDetail, RunFilter, RunStatus, RunView } from '../contract/api.ts';
import { RUN_KINDS, type RunKind } from '../contract/config.ts';
import { formatDuration } from './progress.ts';
import { type Flags, UsageError, commonFlags, parse } from './options.ts';
import type { Session } from './session.ts';
import { oneLine } from './sanitize.ts';
import { plural, pct, sig, table } from './table.ts';
import { classHeading, classLabels, lookupDataset } from './data-ref.ts';
import { describeShape } from '../contract/dataset.ts';
import { variantLabel, variantShort } from '../contract/variant-label.ts';

const STATUSES: RunStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'];

export function runId(ref: string | undefined): number {
  if (ref === undefined) throw new UsageError('which run? give its id (lora-lab runs lists them)');
  const id = Number(ref.replace(/^r/, ''));
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`"${ref}" is not a run id`);
  return id;
}

function duration(r: RunView): string {
  if (r.startedAt === null) return '';
  return formatDuration(((r.finishedAt ?? Date.now()) - r.startedAt) / 1000);
}

const date = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
const num = (x: number | null | undefined, f: (v: number) => string = String) => (x === null || x === undefined ? '—' : f(x));

function statusCell(r: RunView): string {
  if (r.status === 'running' && r.progress && r.progress.totalSteps > 0) return `running ${Math.floor((r.progress.step / r.progress.totalSteps) * 100)}%`;
  return r.status;
}

function filterFromFlags(v: Flags): RunFilter {
  const f: RunFilter = {};
  if (typeof v['status'] === 'string') {
    const s = v['status'].split(',') as RunStatus[];
    const bad = s.filter((x) => !STATUSES.includes(x));
    if (bad.length) throw new UsageError(`--status: unknown status ${bad.join(', ')} (one of ${STATUSES.join(', ')})`);
    f.status = s;
  }
  if (typeof v['kind'] === 'string') {
    if (!(RUN_KINDS as readonly string[]).includes(v['kind'])) throw new UsageError(`--kind must be ${RUN_KINDS.join(', ')}`);
    f.kind = v['kind'] as RunKind;
  }
  if (typeof v['tag'] === 'string') f.tag = v['tag'];
  if (typeof v['search'] === 'string') f.text = v['search'];
  const params = v['param'];
  if (params !== undefined) {
    f.params = {};
    for (const p of ([] as unknown[]).concat(params) as string[]) {
      const eq = p.indexOf('=');
      if (eq < 1) throw new UsageError(`--param takes path=value, e.g. --param lora.r=1, got "${p}"`);
      const raw = p.slice(eq + 1);
      const n = Number(raw);
      f.params[p.slice(0, eq)] = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
  }
  return f;
}

export async function runsCommand(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, {
    ...commonFlags,
    status: { type: 'string' },
    kind: { type: 'string' },
    tag: { type: 'string' },
    search: { type: 'string' },
    param: { type: 'string', multiple: true },
    data: { type: 'string' },
  });
  const filter = filterFromFlags(values);
  if (typeof values['data'] === 'string') {
    // A built-in not added yet has no runs: nothing is added for a filter.
    const found = lookupDataset(await s.lab().listDatasets(), values['data']);
    filter.params = { ...filter.params, data: found.dataset?.id ?? 0 };
  }
  const runs = await s.lab().listRuns(filter);
  if (values['json']) return s.out(JSON.stringify(runs));
  if (runs.length === 0) return s.out('no runs match');
  s.out(
    table(
      ['id', 'name', 'kind', 'status', 'data', 'base', 'rank', 'alpha', 'variant', 'lr', 'batch', 'steps', 'accuracy', 'focus wrong', 'time', 'tags', 'created'],
      runs.map((r) => [
        r.id,
        r.name,
        r.kind,
        statusCell(r),
        r.dataset?.name ?? '—',
        num(r.baseModelId),
        num(r.config.lora?.r),
        num(r.config.lora?.alpha),
        r.config.lora ? variantShort(r.config.lora) : '—',
        r.config.lr,
        r.config.batchSize,
        num(r.summary?.steps ?? r.progress?.step),
        num(r.accuracy, (a) => pct(a)),
        r.focusWrong === null ? '—' : `${r.focusWrongBefore ?? '?'}→${r.focusWrong}`,
        duration(r),
        r.tags.join(','),
        date(r.createdAt),
      ]),
      ['r', 'l', 'l', 'l', 'l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
}

/** "  data set cats (4×4 grey, 3 classes: bird, cat, dog), focus: cat". */
function dataLine(r: RunView): string {
  if (!r.dataset) return `  data set ${r.config.data}`;
  const d = r.dataset;
  const focus = r.focusClasses ? `, focus: ${oneLine(r.focusClasses.join(', '))}` : '';
  return `  data set ${d.name} (${describeShape(d.kind, d.shape)}, ${plural(d.classes.length, 'class', 'classes')})${focus}`;
}

function showText(r: RunDetail): string {
  const lines = [
    // Stored text is made one line (a name with a line break must not forge a line);
    // notes keep their line breaks, indented under the heading.
    `run ${r.id}: ${oneLine(r.name)}`,
    `  kind ${r.kind}, status ${r.status}${r.error ? ` — ${oneLine(r.error)}` : ''}`,
    r.exitReason ? `  trainer process: ${r.exitReason}` : '',
    `  backend ${oneLine(r.backend ?? '—')}${r.device ? ` (${oneLine(r.device)})` : ''}, created ${date(r.createdAt)}${r.startedAt ? `, ran ${duration(r)}` : ''}`,
    r.kind === 'lora'
      ? `  fine-tunes model ${r.baseModelId}${r.adapterId ? ` → adapter ${r.adapterId}` : ''}${r.config.lora ? `: ${variantLabel(r.config.lora)}` : ''}`
      : r.kind === 'full'
        ? `  full fine-tune of model ${r.baseModelId}${r.modelId ? ` → model ${r.modelId}` : ''} (every weight trained)`
        : `  ${r.modelId ? `→ model ${r.modelId}` : 'no model stored'}`,
    dataLine(r),
    r.baseDataset && r.dataset ? `  domain shift: base trained on ${r.baseDataset.name}, fine-tuned on ${r.dataset.name}` : '',
    r.tags.length ? `  tags: ${oneLine(r.tags.join(', '))}` : '',
    r.notes ? `  notes: ${r.notes.replace(/\r?\n/g, '\n         ')}` : '',
    `  config: ${JSON.stringify(r.config)}`,
    r.summary ? `  ${plural(r.summary.steps, 'step')}, final loss ${sig(r.summary.finalLoss)}, ${Math.round(r.summary.samplesPerSec)} samples/s, ${plural(r.summary.trainableParams, 'trainable parameter')} (${r.summary.percentTrainable.toFixed(3)}%)` : '',
    `  metrics: ${Object.entries(r.metrics).map(([k, s]) => `${k} (${plural(s.steps.length, 'point')})`).join(', ') || 'none'}`,
  ].filter(Boolean);
  const { before, after } = r.evaluations;
  if (after) {
    const head = before ? [classHeading(r.dataset), 'wrong before', 'wrong after'] : [classHeading(r.dataset), 'wrong'];
    const labels = classLabels(r.dataset?.classes, after.wrongPerClass.length);
    const rows = after.wrongPerClass.map((w, c) => (before ? [labels[c]!, before.wrongPerClass[c] as number, w] : [labels[c]!, w]));
    lines.push('', table(head, rows), '', before ? `accuracy ${pct(before.accuracy)} → ${pct(after.accuracy)}` : `accuracy ${pct(after.accuracy)}`);
  }
  return lines.join('\n');
}

export async function showCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  const r = await s.lab().getRun(runId(positionals[0]));
  if (values['json']) return s.out(JSON.stringify({ ...r, evaluations: stripPredictions(r.evaluations) }));
  s.out(showText(r));
}

function stripPredictions(e: RunDetail['evaluations']): object {
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ? { ...v, predictions: undefined } : v]));
}

export function compareText(c: Comparison, all: boolean): string {
  const head = ['', ...c.runs.map((r) => `run ${r.id}`)];
  // The data set by name (the config holds its id).
  const shown = (path: string, v: unknown, i: number) => (v === null ? '—' : path === 'data' ? (c.runs[i]?.dataset?.name ?? String(v)) : String(v));
  const rows = c.params.filter((p) => all || p.differs).map((p) => [p.path, ...p.values.map((v, i) => shown(p.path, v, i))]);
  const out = [`${c.runs.map((r) => `run ${r.id}: ${oneLine(r.name)} (${r.status})`).join('\n')}`, ''];
  out.push(all ? 'hyperparameters:' : 'hyperparameters that differ:', rows.length ? table(head, rows) : '  (none: identical configs)', '');
  const metricRows = c.summary.map((m) => [m.key, ...m.perRun.map((p) => (p ? `${metric(m.key, p.final)} (best ${metric(m.key, p.best)})` : '—'))]);
  if (metricRows.length) out.push('final metrics:', table(['metric', ...head.slice(1)], metricRows), '');
  const evs = c.evaluations.map((e) => e.after);
  if (evs.some(Boolean)) {
    // Rows are the classes of the runs' data set; runs on different data sets line up by class index.
    const sets = [...new Set(c.runs.map((r) => r.dataset?.id ?? r.config.data))];
    const data = sets.length === 1 ? c.runs[0]!.dataset : null;
    const count = Math.max(...evs.map((e) => e?.wrongPerClass.length ?? 0));
    const labels = classLabels(data?.classes, count);
    const cell = (e: (typeof c.evaluations)[number], k: number) => (e.after && k < e.after.wrongPerClass.length ? (e.before ? `${e.before.wrongPerClass[k]}→${e.after.wrongPerClass[k]}` : String(e.after.wrongPerClass[k])) : '—');
    const wrongRows = labels.map((label, k) => [label, ...c.evaluations.map((e) => cell(e, k))]);
    wrongRows.push(['accuracy', ...evs.map((e) => (e ? pct(e.accuracy) : '—'))]);
    const heading = sets.length === 1 ? classHeading(data ?? { id: sets[0]! }) : 'class';
    if (sets.length > 1) out.push(`the runs are on different data sets (${c.runs.map((r) => `run ${r.id}: ${r.dataset?.name ?? r.config.data}`).join(', ')}): rows are class indices`);
    out.push(`wrong per ${heading} (test set):`, table([sets.length > 1 ? 'class #' : heading, ...head.slice(1)], wrongRows));
  }
  return out.join('\n');
}

/** A metric's value: accuracies in %, like everywhere else; the rest to 4 significant digits. */
const metric = (key: string, x: number) => (/accuracy/.test(key) ? pct(x) : sig(x));

export async function compareCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, all: { type: 'boolean' } }, true);
  if (positionals.length < 2) throw new UsageError('compare needs at least two run ids');
  const c = await s.lab().compareRuns(positionals.map(runId));
  if (values['json']) return s.out(JSON.stringify({ ...c, evaluations: c.evaluations.map(stripPredictions) }));
  s.out(compareText(c, Boolean(values['all'])));
}

export async function rmCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  if (positionals.length === 0) throw new UsageError('rm needs at least one run id');
  const ids = positionals.map(runId);
  for (const id of ids) await s.lab().deleteRun(id);
  s.out(values['json'] ? JSON.stringify({ deleted: ids }) : `deleted run${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`);
}

export async function tagCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, remove: { type: 'boolean' } }, true);
  const [ref, ...tags] = positionals;
  const id = runId(ref);
  const run = await s.lab().getRun(id);
  const next = values['remove'] ? run.tags.filter((t) => !tags.includes(t)) : [...run.tags, ...tags];
  const updated = await s.lab().setTags(id, next);
  s.out(values['json'] ? JSON.stringify({ id, tags: updated.tags }) : `run ${id} tags: ${oneLine(updated.tags.join(', ')) || '(none)'}`);
}

export async function modelsCommand(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, commonFlags);
  const models = await s.lab().listModels();
  if (values['json']) return s.out(JSON.stringify(models));
  if (models.length === 0) return s.out('no models yet: lora-lab train or lora-lab demo makes one');
  s.out(
    table(
      ['id', 'name', 'kind', 'layers', 'data', 'from', 'used by', 'created'],
      models.map((m) => [
        m.id,
        m.name,
        m.kind,
        m.sizes.join('→'),
        m.dataset?.name ?? '—',
        m.sourceRunId ? `run ${m.sourceRunId}` : m.parentModelId ? `model ${m.parentModelId}` : '—',
        `${plural(m.dependents.runs, 'run')}, ${plural(m.dependents.adapters, 'adapter')}`,
        date(m.createdAt),
      ]),
      ['r', 'l', 'l', 'l', 'l', 'l', 'l', 'l'],
    ),
  );
}
