/**
 * Class names as every per-class figure shows them. A data set names its classes
 * (index = label); MNIST's are "0".."9", and for MNIST alone the views keep saying
 * "digit". Where a figure only has its evaluation (no data set), the classes are their
 * indices. Pure functions.
 */
import type { DatasetRef } from '../../src-main/contract/api.ts';
import { MNIST_DATASET_ID, describeShape } from '../../src-main/contract/dataset.ts';

/** What a view knows of a run's or model's data set (RunView.dataset, ModelView.dataset). */
export type ClassSource = Pick<DatasetRef, 'id' | 'classes'> | null | undefined;

/** Whether the classes are MNIST's digits (the only data set whose classes are called digits). */
export function isDigits(ds: ClassSource): boolean {
  return ds?.id === MNIST_DATASET_ID;
}

/** "digit" / "class", or the plural. */
export function classNoun(ds: ClassSource, plural = false): string {
  if (isDigits(ds)) return plural ? 'digits' : 'digit';
  return plural ? 'classes' : 'class';
}

/** The noun for several sources at once: "digit" only when every one is MNIST. */
export function commonNoun(sources: readonly ClassSource[], plural = false): string {
  const digits = sources.length > 0 && sources.every(isDigits);
  return digits ? (plural ? 'digits' : 'digit') : plural ? 'classes' : 'class';
}

/** The class names of a data set, or "0".."n-1" when it is not known. */
export function classNames(ds: ClassSource, n?: number): string[] {
  const names = ds?.classes ?? [];
  const count = n ?? names.length;
  return Array.from({ length: count }, (_, i) => names[i] ?? String(i));
}

/** One class by name ("Trouser", "7"); its index when the data set does not name it. */
export function className(ds: ClassSource, i: number): string {
  return ds?.classes[i] ?? String(i);
}

/** "Trouser, Bag"; past `max` names "Trouser, Bag, Coat +4 more". */
export function listNames(names: readonly string[], max = 4): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} +${names.length - max} more`;
}

/** "digit 7", "digits 3, 8" for MNIST; "Trouser", "Trouser, Bag" for a data set with named classes. */
export function describeClasses(ds: ClassSource, names: readonly string[], max = 4): string {
  if (isDigits(ds)) return `digit${names.length === 1 ? '' : 's'} ${listNames(names, max)}`;
  return listNames(names, max);
}

/** A long name cut to `max` characters with an ellipsis (the full name goes in a title). */
export function shortName(name: string, max = 12): string {
  return name.length <= max ? name : `${name.slice(0, Math.max(1, max - 1))}…`;
}

/** Whether two class lists are the same, in the same order (per-class figures then line up). */
export function sameClasses(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/** "1 class", "10 classes". */
export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** "Fashion-MNIST · 28×28 grey · 10 classes". */
export function describeDataset(ds: Pick<DatasetRef, 'name' | 'kind' | 'shape' | 'classes'>): string {
  return `${ds.name} · ${describeShape(ds.kind, ds.shape)} · ${plural(ds.classes.length, 'class', 'classes')}`;
}

/** What one test sample is called: "images" for image data sets, "rows" for tables. */
export function sampleNoun(ds: Pick<DatasetRef, 'kind'> | null | undefined, plural = true): string {
  if (ds?.kind === 'table') return plural ? 'rows' : 'row';
  return plural ? 'images' : 'image';
}

/**
 * Runs grouped by the class list they are evaluated on, in first-seen order: per-class
 * figures of one group line up; those of different groups do not.
 */
export function groupByClasses<T>(items: readonly T[], classesOf: (item: T) => readonly string[] | null): { classes: readonly string[] | null; items: T[]; indices: number[] }[] {
  const groups: { classes: readonly string[] | null; items: T[]; indices: number[] }[] = [];
  items.forEach((item, i) => {
    const c = classesOf(item);
    const g = groups.find((x) => (x.classes === null && c === null) || sameClasses(x.classes, c));
    if (g) {
      g.items.push(item);
      g.indices.push(i);
    } else groups.push({ classes: c, items: [item], indices: [i] });
  });
  return groups;
}
