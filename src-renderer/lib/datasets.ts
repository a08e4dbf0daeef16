/**
 * What the Data page and the New run form derive from a data set, pure (unit-tested
 * without a browser): whether it fits a model's widths, the widths a run on it has,
 * which samples the grid shows, and how its origin reads.
 */
import type { DatasetRef } from '../../src-main/contract/api.ts';
import type { DataShape } from '../../src-main/contract/config.ts';
import { type DatasetView, describeShape, inputSize } from '../../src-main/contract/dataset.ts';
import type { DataCounts } from './run-figures.ts';

type Shaped = Pick<DatasetRef, 'name' | 'kind' | 'shape' | 'classes'>;

/** What validation needs (configIssues). */
export function dataShapeOf(d: Shaped): DataShape {
  return { name: d.name, inputSize: inputSize(d.shape), classes: d.classes };
}

/** What the New run side panel's figures need. */
export function dataCountsOf(d: DatasetView): DataCounts {
  // MNIST is read from its package, not the database: the trainer's own figure for it.
  return { trainPerClass: d.train.perClass, testCount: d.test.count, bytes: d.builtin === 'mnist' ? undefined : d.bytes };
}

/** A model of these widths reads this data set's samples and names its classes. */
export function fitsWidths(d: Pick<DatasetRef, 'shape' | 'classes'>, sizes: readonly number[]): boolean {
  return sizes.length >= 2 && sizes[0] === inputSize(d.shape) && sizes[sizes.length - 1] === d.classes.length;
}

/** Why a model of these widths does not fit (null: it does). */
export function fitProblem(d: Shaped, sizes: readonly number[]): string | null {
  if (fitsWidths(d, sizes)) return null;
  return `the base maps ${sizes[0]} inputs to ${sizes[sizes.length - 1]} classes; ${d.name} has ${inputSize(d.shape)} values per sample (${describeShape(d.kind, d.shape)}) and ${d.classes.length} classes`;
}

export const DEFAULT_HIDDEN: readonly number[] = [1000, 2000];

/** The widths of a run on `d`: its input and class count around the hidden widths kept from `sizes`. */
export function widthsFor(d: Pick<DatasetRef, 'shape' | 'classes'>, sizes: readonly number[] | null): number[] {
  const hidden = sizes && sizes.length >= 2 ? sizes.slice(1, -1) : [...DEFAULT_HIDDEN];
  return [inputSize(d.shape), ...hidden, d.classes.length];
}

/** "28×28 grey · 10 classes" */
export function shapeLine(d: Shaped): string {
  return `${describeShape(d.kind, d.shape)} · ${d.classes.length} class${d.classes.length === 1 ? '' : 'es'}`;
}

/** The first `per` sample indices of each class, in split order (labels: one byte per sample). */
export function pickPerClass(labels: Uint8Array, classes: number, per: number): number[][] {
  const out: number[][] = Array.from({ length: classes }, () => []);
  let full = 0;
  for (let i = 0; i < labels.length && full < classes; i++) {
    const list = out[labels[i] as number];
    if (!list || list.length >= per) continue;
    list.push(i);
    if (list.length === per) full++;
  }
  return out;
}

/** Indices in calls of at most `max` (datasetSamples takes 500 at a time). */
export function chunk<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += max) out.push(items.slice(i, i + max));
  return out;
}

export { defaultDatasetName } from '../../src-main/contract/dataset.ts';

const ORIGIN_LABELS: Record<string, string> = {
  files: 'Files',
  folders: 'Folders',
  package: 'Package',
  layout: 'Layout',
  labelColumn: 'Label column',
  classesFrom: 'Class names from',
  split: 'Train/test split',
  testFraction: 'Test fraction',
  seed: 'Split seed',
  skipped: 'Skipped files',
  skippedExamples: 'Skipped, e.g.',
  note: 'Note',
  entries: 'Entries',
  dropped: 'Dropped',
  images: 'Images',
};

/** "trainPerClass" → "Train per class" (keys this page does not know yet). */
const words = (key: string) => {
  const w = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return w.charAt(0).toUpperCase() + w.slice(1);
};

function originValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return v.toLocaleString('en-US');
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ');
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k} ${originValue(x)}`)
      .join(', ');
  }
  return String(v);
}

/** Where a data set came from, as label/value lines (known keys first, in a fixed order, then the rest). */
export function originLines(origin: Record<string, unknown> | null): { key: string; label: string; value: string }[] {
  if (!origin) return [];
  const order = Object.keys(ORIGIN_LABELS);
  const keys = Object.keys(origin).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  return keys.map((key) => {
    let value = originValue(origin[key]);
    if (key === 'split' && origin[key] === 'derived') value = 'derived on import (the source had none)';
    if (key === 'split' && origin[key] === 'given') value = 'given by the source';
    if (key === 'folders' && origin[key] === '.') value = 'one folder per class';
    return { key, label: ORIGIN_LABELS[key] ?? words(key), value };
  });
}
