/**
 * `lora-lab export`, `merge`, `import` and `evaluate`: the CLI faces of merging and of
 * moving weights in and out, all through LabApi. The CLI is the local user, so paths are
 * free here: it hands the Lab absolute paths, which only in-process callers may (the
 * web and Electron transports' schemas accept names inside the export folder only).
 */
import { resolve } from 'node:path';
import { type EvalSummary, type ExportFormat, type ExportTarget, LEGACY_MERGE_METHODS, LabError, MAJORITY_SIGN_METHODS, MERGE_METHODS, type MajoritySignMethod, type MergeRequest } from '../contract/api.ts';
import { normalizeMergeRequest } from '../weights/merge-request.ts';
import { MAX_MERGE_WEIGHT } from '../weights/finite.ts';
import { ProgressBar } from './progress.ts';
import { UsageError, commonFlags, parse } from './options.ts';
import { resolveModel, type Session } from './session.ts';
import { plural, pct, table } from './table.ts';
import { importKind } from './import-kind.ts';

const FORMATS: ExportFormat[] = ['safetensors', 'peft', 'tfjs', 'csv', 'json'];

/** `r5` or `5`: run 5; `m3`: model 3; `a2`: adapter 2. */
export function parseTarget(ref: string | undefined): ExportTarget {
  if (!ref) throw new UsageError('what to export? give a run (5 or r5), a model (m3) or an adapter (a2)');
  const m = /^(r|m|a)?(\d+)$/.exec(ref.trim());
  if (!m) throw new UsageError(`"${ref}" is not a run (5 or r5), a model (m3) or an adapter (a2)`);
  const kind = m[1] === 'm' ? 'model' : m[1] === 'a' ? 'adapter' : 'run';
  return { kind, id: Number(m[2]) };
}

export async function exportCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, format: { type: 'string' }, out: { type: 'string' }, merged: { type: 'boolean' }, force: { type: 'boolean' } }, true);
  const format = values['format'] as ExportFormat | undefined;
  if (!format || !FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  // An empty --out would resolve to the current folder.
  if (typeof values['out'] !== 'string' || values['out'].trim() === '') throw new UsageError('--out PATH is required (a file, or a folder for peft and tfjs)');
  const runIds = (p: string) => {
    const t = parseTarget(p);
    if (t.kind !== 'run') throw new UsageError('several ids export a comparison: give runs only');
    return t.id;
  };
  const target: ExportTarget = positionals.length > 1 ? { kind: 'comparison', ids: positionals.map(runIds) } : parseTarget(positionals[0]);
  const lab = s.lab();
  const bar = new ProgressBar('export', !s.quiet);
  // The Lab tells how far a write is as `task` events; this process runs one export at a time.
  const off = lab.subscribe((e) => {
    if (e.type === 'task' && e.task.startsWith('export ')) bar.update(e.done, e.total, {});
  });
  const { files } = await lab
    .exportWeights({ target, format, merged: Boolean(values['merged']), fileName: resolve(values['out']), overwrite: Boolean(values['force']) })
    .catch((err: unknown) => {
      // The Lab says "allow overwriting" (the app asks); here that is --force.
      const exists = err instanceof LabError && err.status === 409 ? /^(.*) already exists; /s.exec(err.message) : null;
      throw exists ? new LabError(`${exists[1]} already exists; add --force to replace it, or choose another --out`, 409) : err;
    })
    .finally(off);
  bar.done('written');
  if (values['json']) return s.out(JSON.stringify({ files }));
  s.out(files.map((f) => `${f.path}  ${plural(f.bytes, 'byte')}  sha256 ${f.sha256}`).join('\n'));
}

/** Rows are the classes by name (EvalSummary.classes); MNIST's names are its digits. */
function evalTable(labels: string[], evals: EvalSummary[]): string {
  const classes = evals[0]?.classes ?? [];
  const rows = classes.map((name, c) => [name, ...evals.map((e) => e.wrongPerClass[c] ?? '—')]);
  rows.push(['accuracy', ...evals.map((e) => pct(e.accuracy))]);
  const digits = classes.length === 10 && classes.every((name, c) => name === String(c));
  return table([`wrong per ${digits ? 'digit' : 'class'}`, ...labels], rows);
}

export async function mergeCommand(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, {
    ...commonFlags,
    base: { type: 'string' },
    adapter: { type: 'string', multiple: true },
    method: { type: 'string' },
    rank: { type: 'string' },
    density: { type: 'string' },
    'majority-sign': { type: 'string' },
    'drop-rate': { type: 'string' },
    seed: { type: 'string' },
    save: { type: 'string' },
    as: { type: 'string' },
    'test-limit': { type: 'string' },
    'no-preview': { type: 'boolean' },
  });
  const lab = s.lab();
  const adapterArgs = ([] as string[]).concat((values['adapter'] as string[] | undefined) ?? []);
  if (adapterArgs.length === 0) throw new UsageError('name at least one --adapter ID[:WEIGHT] (lora-lab show RUN gives a run\'s adapter)');
  const adapters = adapterArgs.map((a) => {
    const [idText, w] = a.split(':');
    const id = Number((idText ?? '').replace(/^a/, ''));
    const weight = w === undefined ? 1 : Number(w);
    if (!Number.isInteger(id) || id < 1 || !Number.isFinite(weight)) throw new UsageError(`--adapter takes ID or ID:WEIGHT (e.g. a3:0.5), got "${a}"`);
    if (Math.abs(weight) > MAX_MERGE_WEIGHT) throw new UsageError(`--adapter ${a}: a weight is a number from -${MAX_MERGE_WEIGHT} to ${MAX_MERGE_WEIGHT}`);
    return { adapterId: id, weight };
  });
  const method = (values['method'] ?? 'linear') as MergeRequest['method'];
  // `dare` (with --drop-rate) is the old name of dare_linear_svd, still understood.
  if (![...MERGE_METHODS, ...LEGACY_MERGE_METHODS].includes(method)) throw new UsageError(`--method must be one of ${MERGE_METHODS.join(', ')}`);
  const sign = values['majority-sign'] as string | undefined;
  if (sign !== undefined && !(MAJORITY_SIGN_METHODS as readonly string[]).includes(sign)) throw new UsageError(`--majority-sign must be ${MAJORITY_SIGN_METHODS.join(' or ')}`);
  const first = (await lab.listAdapters()).find((a) => a.id === adapters[0]!.adapterId);
  const baseModelId = values['base'] !== undefined ? await resolveModel(lab, values['base'] as string) : first?.baseModelId;
  if (baseModelId === undefined) throw new UsageError(`adapter ${adapters[0]!.adapterId} does not exist`);
  const num = (k: string) => {
    if (values[k] === undefined) return undefined;
    const n = Number(values[k]);
    if (!Number.isFinite(n) || String(values[k]).trim() === '') throw new UsageError(`--${k} takes a number, got "${String(values[k])}"`);
    return n;
  };
  let req: MergeRequest = { baseModelId, adapters, method, ...(sign !== undefined ? { majoritySign: sign as MajoritySignMethod } : {}) };
  for (const [k, f] of [['rank', 'rank'], ['density', 'density'], ['dropRate', 'drop-rate'], ['seed', 'seed'], ['testLimit', 'test-limit']] as const) {
    const v = num(f);
    if (v !== undefined) (req as unknown as Record<string, number>)[k] = v;
  }
  req = normalizeMergeRequest(req);
  let preview = null;
  if (!values['no-preview']) {
    if (!s.quiet) process.stderr.write('evaluating the base, each adapter and the combination…\n');
    preview = await lab.previewMerge(req);
  }
  let saved = null;
  if (typeof values['save'] === 'string') {
    const output = (values['as'] ?? 'model') as 'model' | 'adapter';
    if (output !== 'model' && output !== 'adapter') throw new UsageError('--as must be model or adapter');
    saved = await lab.saveMerge({ ...req, name: values['save'], output });
  }
  if (values['json']) return s.out(JSON.stringify({ preview, saved }));
  const lines: string[] = [];
  if (preview) {
    // Each single-adapter column is that adapter alone at full weight (what the Lab
    // previews); only the combination uses the weights given.
    lines.push(evalTable(['base', ...adapters.map((a) => `a${a.adapterId} alone`), `${req.method} merge`], [preview.base, ...preview.adapters, preview.combined]));
    lines.push('', `aN alone: each adapter at full weight on the base; ${req.method} merge: ${adapters.map((a) => `a${a.adapterId}×${a.weight}`).join(' + ')}`);
  }
  if (saved) lines.push('', `saved as ${'kind' in saved && 'sizes' in saved ? `model ${saved.id}` : `adapter ${saved.id}`}: ${saved.name}`);
  s.out(lines.join('\n'));
}

export async function importCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, as: { type: 'string' }, base: { type: 'string' }, name: { type: 'string' } }, true);
  const path = positionals[0];
  if (!path) throw new UsageError('import needs a file (safetensors) or a PEFT adapter folder');
  const lab = s.lab();
  const as = values['as'] ?? importKind(resolve(path), path);
  const name = typeof values['name'] === 'string' ? values['name'] : path.split('/').filter(Boolean).at(-1) ?? path;
  if (as === 'model') {
    const m = await lab.importWeights({ fileName: resolve(path), kind: 'model', name });
    return s.out(values['json'] ? JSON.stringify({ model: m.id }) : `imported model ${m.id}: ${m.name}`);
  }
  if (as !== 'adapter') throw new UsageError('--as must be model or adapter');
  if (values['base'] === undefined) throw new UsageError('importing an adapter needs --base MODEL (the model it was trained on; lora-lab models lists them)');
  const baseModelId = await resolveModel(lab, values['base'] as string);
  const a = await lab.importWeights({ fileName: resolve(path), kind: 'adapter', baseModelId, name });
  s.out(values['json'] ? JSON.stringify({ adapter: a.id }) : `imported adapter ${a.id}: ${a.name}`);
}

export async function evaluateCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, 'test-limit': { type: 'string' } }, true);
  if (!positionals[0]) throw new UsageError('evaluate needs a model id (lora-lab models lists them)');
  const id = await resolveModel(s.lab(), positionals[0]);
  const limit = values['test-limit'] === undefined ? null : Number(values['test-limit']);
  const e = await s.lab().evaluateModel(id, limit);
  if (values['json']) return s.out(JSON.stringify(e));
  s.out(evalTable([`model ${id}`], [e]));
}
