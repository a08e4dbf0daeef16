/**
 * `lora-lab data import|add|list|show|rm`: the lab's data sets, through LabApi. A data
 * set is named by its name or id (data-ref.ts); every subcommand prints a table, or one
 * JSON value with --json.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  BUILTIN_DATASETS, type BuiltinDataset, type BuiltinView, type DatasetImportRequest, type DatasetList, type DatasetView, IMPORT_FORMATS, type ImportFormat,
  describeShape,
} from '../contract/dataset.ts';
import { addBuiltin, classList, datasetLine, lookupDataset, withTaskBar } from './data-ref.ts';
import { type Flags, UsageError, commonFlags, parse } from './options.ts';
import { oneLine } from './sanitize.ts';
import type { Session } from './session.ts';
import { plural, table } from './table.ts';

const SUBCOMMANDS = ['import', 'add', 'list', 'show', 'rm'] as const;

const date = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);

function bytesText(n: number): string {
  if (n < 1024) return plural(n, 'byte');
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) [v, u] = [v / 1024, u + 1];
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** The per-class table: each class by name with its train and test counts. */
export function classTable(d: DatasetView): string {
  const rows = d.classes.map((c, i) => [c, d.train.perClass[i] ?? 0, d.test.perClass[i] ?? 0]);
  rows.push(['all', d.train.count, d.test.count]);
  return table(['class', 'train', 'test'], rows.map((r) => [r[0] as string, (r[1] as number).toLocaleString('en-US'), (r[2] as number).toLocaleString('en-US')]));
}

function number(flags: Flags, name: string): number | undefined {
  const v = flags[name];
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

async function importData(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, name: { type: 'string' }, format: { type: 'string' }, 'test-fraction': { type: 'string' }, seed: { type: 'string' }, 'label-column': { type: 'string' } }, true);
  const path = positionals[0];
  if (!path) throw new UsageError('data import needs a file or folder: a .csv file, a folder of IDX files, of CSV files, or of one folder of images per class');
  if (positionals.length > 1) throw new UsageError(`data import reads one file or folder, got ${positionals.length} (${positionals.join(' ')})`);
  const format = values['format'];
  if (format !== undefined && !(IMPORT_FORMATS as readonly unknown[]).includes(format)) throw new UsageError(`--format must be one of ${IMPORT_FORMATS.join(', ')}, got "${String(format)}"`);
  const full = resolve(path);
  if (!existsSync(full)) {
    if ((BUILTIN_DATASETS as readonly string[]).includes(path)) throw new UsageError(`${path} is a built-in data set, not a file here: add it with lora-lab data add ${path}`);
    throw new UsageError(`${path} does not exist`);
  }
  const req: DatasetImportRequest = { path: full };
  if (typeof values['name'] === 'string') req.name = values['name'];
  if (format !== undefined) req.format = format as ImportFormat;
  const testFraction = number(values, 'test-fraction');
  if (testFraction !== undefined) req.testFraction = testFraction;
  const seed = number(values, 'seed');
  if (seed !== undefined) req.seed = seed;
  if (typeof values['label-column'] === 'string') req.labelColumn = values['label-column'];
  const lab = s.lab();
  // The Lab names the task after the import ("import NAME"); this process runs one at a time.
  const d = await withTaskBar(lab, 'import ', 'importing', s.quiet, () => lab.importDataset(req));
  if (values['json']) return s.out(JSON.stringify(d));
  s.out([`imported data set ${d.id}`, datasetLine(d), '', classTable(d)].join('\n'));
}

async function addData(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  const name = positionals[0];
  const builtins = BUILTIN_DATASETS.filter((b) => b !== 'mnist');
  if (!name || !(BUILTIN_DATASETS as readonly string[]).includes(name)) {
    throw new UsageError(`data add takes a built-in data set: ${builtins.join(', ')} (MNIST is always there); to read your own files: lora-lab data import PATH`);
  }
  const lab = s.lab();
  const had = (await lab.listDatasets()).builtins.find((b) => b.name === name)?.datasetId ?? null;
  const d = had !== null ? await lab.getDataset(had) : await addBuiltin(lab, name as BuiltinDataset, s.quiet);
  if (values['json']) return s.out(JSON.stringify(d));
  s.out([had !== null ? `${name} is in the lab already (data set ${d.id})` : `added data set ${d.id}`, datasetLine(d), '', classTable(d)].join('\n'));
}

function usedBy(d: DatasetView): string {
  const { runs, models } = d.usedBy;
  return runs.length || models.length ? `${plural(runs.length, 'run')}, ${plural(models.length, 'model')}` : '—';
}

function notAdded(list: DatasetList): BuiltinView[] {
  return list.builtins.filter((b) => b.datasetId === null);
}

function listText(list: DatasetList): string {
  const rows = list.datasets.map((d) => [
    d.id,
    d.name,
    describeShape(d.kind, d.shape),
    `${d.classes.length}: ${classList(d.classes.slice(0, 5))}${d.classes.length > 5 ? ', …' : ''}`,
    d.train.count.toLocaleString('en-US'),
    d.test.count.toLocaleString('en-US'),
    d.builtin ? 'built-in' : d.source,
    usedBy(d),
  ]);
  const out = [table(['id', 'name', 'shape', 'classes', 'train', 'test', 'source', 'used by'], rows, ['r', 'l', 'l', 'l', 'r', 'r', 'l', 'l'])];
  const toAdd = notAdded(list);
  if (toAdd.length) {
    out.push('', 'built-in, not added yet (lora-lab data add NAME, or --data NAME adds it on first use):');
    for (const b of toAdd) out.push(`  ${b.name}  ${b.description}`);
  }
  return out.join('\n');
}

function showText(d: DatasetView): string {
  const { runs, models } = d.usedBy;
  const refs = (xs: { id: number; name: string }[]) => xs.map((x) => `${x.id} ${oneLine(x.name)}`).join(', ');
  const lines = [
    `data set ${d.id}: ${d.name}`,
    `  ${describeShape(d.kind, d.shape)} (${plural(d.inputSize, 'value')} per sample, ${d.dtype}), ${plural(d.classes.length, 'class', 'classes')}, ${d.train.count.toLocaleString('en-US')} train / ${d.test.count.toLocaleString('en-US')} test`,
    `  source ${d.builtin ? `built-in (${d.builtin})` : d.source}, added ${date(d.createdAt)}${d.bytes ? `, ${bytesText(d.bytes)} in the database` : ''}`,
    `  hash sha-256 ${d.hash}`,
    d.origin ? `  origin: ${oneLine(JSON.stringify(d.origin))}` : '',
    `  used by runs: ${refs(runs) || 'none'}`,
    `  used by models: ${refs(models) || 'none'}`,
  ].filter(Boolean);
  return [...lines, '', classTable(d)].join('\n');
}

async function listData(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, commonFlags);
  const list = await s.lab().listDatasets();
  s.out(values['json'] ? JSON.stringify(list) : listText(list));
}

async function showData(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  if (!positionals[0]) throw new UsageError('data show needs a data set: its name or id (lora-lab data list lists them)');
  const list = await s.lab().listDatasets();
  const found = lookupDataset(list, positionals[0]);
  if (found.builtin) {
    const b = list.builtins.find((x) => x.name === found.builtin)!;
    if (values['json']) return s.out(JSON.stringify(b));
    return s.out(`${b.name}: a built-in data set, not added yet\n  ${b.description}\n  add it with lora-lab data add ${b.name} (or use --data ${b.name}: it is added on first use)`);
  }
  s.out(values['json'] ? JSON.stringify(found.dataset) : showText(found.dataset));
}

async function rmData(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  if (positionals.length === 0) throw new UsageError('data rm needs a data set: its name or id (lora-lab data list lists them)');
  const lab = s.lab();
  const list = await lab.listDatasets();
  // Every name is checked before anything is deleted.
  const targets = positionals.map((ref) => {
    const found = lookupDataset(list, ref);
    if (found.builtin) throw new UsageError(`${found.builtin} is not in the lab, so there is nothing to delete`);
    return found.dataset;
  });
  for (const d of targets) await lab.deleteDataset(d.id);
  if (values['json']) return s.out(JSON.stringify({ deleted: targets.map((d) => d.id) }));
  s.out(targets.map((d) => `deleted data set ${d.id} (${d.name})`).join('\n'));
}

/** `lora-lab data SUBCOMMAND …`; without a subcommand, the list. */
export async function dataCommand(argv: string[], s: Session): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first.startsWith('-')) return listData(argv, s);
  const sub = first as (typeof SUBCOMMANDS)[number];
  if (!SUBCOMMANDS.includes(sub)) throw new UsageError(`unknown data command "${first}" (one of ${SUBCOMMANDS.join(', ')}; lora-lab data --help)`);
  const run = { import: importData, add: addData, list: listData, show: showData, rm: rmData }[sub];
  return run(rest, s);
}
