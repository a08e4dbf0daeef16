/**
 * Data sets and their classes on the command line. A data set is named by its name or
 * its id (a bare number), found through listDatasets; a built-in not added yet
 * (fashion-mnist) is added on first use, with a progress bar. `--classes` picks classes
 * by name (or index), `--digits` is its MNIST-only alias.
 */
import type { DatasetRef, LabApi } from '../contract/api.ts';
import { type BuiltinDataset, type DatasetList, type DatasetView, MNIST_DATASET_ID, describeShape } from '../contract/dataset.ts';
import type { Flags } from './options.ts';
import { UsageError } from './usage-error.ts';
import { ProgressBar } from './progress.ts';
import { plural } from './table.ts';

/** A data set in the lab, or a built-in the lab can add. */
export type FoundDataset = { dataset: DatasetView; builtin?: undefined } | { dataset?: undefined; builtin: BuiltinDataset };

/** What `lora-lab data list` offers: the names, and the built-ins not added yet. */
function known(list: DatasetList): string {
  const names = list.datasets.map((d) => d.name).join(', ');
  const toAdd = list.builtins.filter((b) => b.datasetId === null).map((b) => b.name);
  return `data sets: ${names || 'none'}${toAdd.length ? `; built-in, added on first use: ${toAdd.join(', ')}` : ''}`;
}

/** NAME or ID → the data set (or the built-in to add); unknown → a UsageError listing the names. */
export function lookupDataset(list: DatasetList, ref: string): FoundDataset {
  const text = ref.trim();
  if (text === '') throw new UsageError(`which data set? give its name or id (${known(list)})`);
  if (/^\d+$/.test(text)) {
    const byId = list.datasets.find((d) => d.id === Number(text));
    if (!byId) throw new UsageError(`data set ${text} does not exist (${list.datasets.map((d) => `${d.id} ${d.name}`).join(', ')})`);
    return { dataset: byId };
  }
  const exact = list.datasets.find((d) => d.name === text);
  if (exact) return { dataset: exact };
  const loose = list.datasets.filter((d) => d.name.toLowerCase() === text.toLowerCase());
  if (loose.length === 1) return { dataset: loose[0]! };
  const builtin = list.builtins.find((b) => b.name === text.toLowerCase() && b.datasetId === null);
  if (builtin) return { builtin: builtin.name };
  throw new UsageError(`no data set "${text}" (${known(list)})`);
}

/**
 * Adds a built-in (converted into the lab's database), with a progress bar fed by the
 * Lab's `task` events.
 */
export async function addBuiltin(lab: LabApi, name: BuiltinDataset, quiet: boolean): Promise<DatasetView> {
  return withTaskBar(lab, `add ${name}`, `adding ${name}`, quiet, () => lab.addBuiltinDataset(name));
}

/** `--data NAME|ID`: the data set, added first if it is a built-in not yet in the lab. */
export async function datasetByRef(lab: LabApi, ref: string, quiet: boolean): Promise<DatasetView> {
  const found = lookupDataset(await lab.listDatasets(), ref);
  return found.dataset ?? (await addBuiltin(lab, found.builtin, quiet));
}

/**
 * Runs `work` with a progress bar for the Lab task named `task` (a prefix: the Lab names
 * an import after its file). A new phase (`what`) starts a new bar.
 */
export async function withTaskBar<T>(lab: LabApi, task: string, label: string, quiet: boolean, work: () => Promise<T>): Promise<T> {
  let bar: ProgressBar | null = null;
  let phase: string | undefined;
  const off = lab.subscribe((e) => {
    if (e.type !== 'task' || !e.task.startsWith(task)) return;
    if (!bar || e.what !== phase) {
      phase = e.what;
      bar = new ProgressBar(phase ? `${label}: ${phase}` : label, !quiet);
    }
    bar.update(e.done, e.total, {});
  });
  try {
    return await work();
  } finally {
    off();
  }
}

/** "fashion: 28×28 grey, 10 classes, 60,000 train / 10,000 test". */
export function datasetLine(d: DatasetView): string {
  return `${d.name}: ${describeShape(d.kind, d.shape)}, ${plural(d.classes.length, 'class', 'classes')}, ${d.train.count.toLocaleString('en-US')} train / ${d.test.count.toLocaleString('en-US')} test`;
}

/** The heading of a per-class column: MNIST's classes are its digits. */
export function classHeading(data: Pick<DatasetRef, 'id'> | null | undefined): string {
  return data && data.id !== MNIST_DATASET_ID ? 'class' : 'digit';
}

/** Row labels of a per-class table: the class names, or the indices where they are unknown. */
export function classLabels(classes: readonly string[] | null | undefined, count: number): string[] {
  return Array.from({ length: count }, (_, i) => classes?.[i] ?? String(i));
}

/** Class names as a list to read: "bird, cat, dog" (the first 20, then how many more). */
export function classList(classes: readonly string[]): string {
  const shown = classes.slice(0, 20).map((c) => (/[\s,]/.test(c) || c === '' ? JSON.stringify(c) : c));
  return `${shown.join(', ')}${classes.length > 20 ? `, … (${classes.length} in all)` : ''}`;
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim());
}

/** A class of `data` by name (exact, else the one that matches ignoring case), else by index; -1: none. */
function classIndex(data: DatasetView, item: string): number {
  const exact = data.classes.indexOf(item);
  if (exact >= 0) return exact;
  const loose = data.classes.flatMap((c, i) => (c.toLowerCase() === item.toLowerCase() ? [i] : []));
  if (loose.length === 1) return loose[0]!;
  if (/^\d+$/.test(item) && Number(item) < data.classes.length) return Number(item);
  return -1;
}

/**
 * `--classes NAME[,NAME…]` (or MNIST's `--digits 7,3`) → class indices; null: all
 * classes ("all" or an empty list); undefined: neither flag given.
 */
export function classesFromFlags(flags: Flags, data: DatasetView): number[] | null | undefined {
  const classes = flags['classes'];
  const digits = flags['digits'];
  if (typeof classes === 'string' && typeof digits === 'string') throw new UsageError('give --classes or --digits, not both (--digits is the MNIST name of --classes)');
  if (typeof digits === 'string') {
    if (data.id !== MNIST_DATASET_ID) {
      throw new UsageError(`--digits is for MNIST; ${data.name} has classes, not digits: use --classes NAME[,NAME…] (classes of ${data.name}: ${classList(data.classes)})`);
    }
    if (digits.trim() === '' || digits.trim() === 'all') return null;
    return splitList(digits).map((s) => {
      if (!/^\d+$/.test(s)) throw new UsageError(`--digits must be a comma-separated list of digits 0–9, got "${digits}"`);
      const d = Number(s);
      if (d > 9) throw new UsageError(`--digits: unknown digit ${d} (MNIST's digits are 0–9)`);
      return d;
    });
  }
  if (typeof classes !== 'string') return undefined;
  if (classes.trim() === '' || classes.trim() === 'all') return null;
  return splitList(classes).map((item) => {
    const i = item === '' ? -1 : classIndex(data, item);
    if (i < 0) throw new UsageError(`--classes: ${data.name} has no class "${item}" (classes: ${classList(data.classes)}; or an index 0–${data.classes.length - 1})`);
    return i;
  });
}
