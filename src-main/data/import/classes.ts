/**
 * Class names: from a `classes.txt` (one name per line, line i names label i) or from
 * the labels themselves, sorted naturally. And the checks every format shares: at most
 * MAX_CLASSES, every class present in train.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataImportError } from './errors.ts';
import { MAX_CLASSES, checkClassCount } from './limits.ts';

export const CLASSES_FILE = 'classes.txt';

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Numbers numerically when every name is one, else alphabetically with digit runs as numbers. */
export function naturalSort(names: Iterable<string>): string[] {
  const list = [...names];
  const numeric = list.every((n) => n.trim() !== '' && Number.isFinite(Number(n)));
  if (numeric) return list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
  return list.sort((a, b) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The names in `dir/classes.txt`, or null when there is none. */
export async function readClassesFile(dir: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(join(dir, CLASSES_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataImportError(`${CLASSES_FILE}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]?.trim() === '') lines.pop();
  if (lines.length > MAX_CLASSES) throw new DataImportError(`${CLASSES_FILE}: ${lines.length} classes, at most ${MAX_CLASSES} are supported`);
  const seen = new Map<string, number>();
  const names = lines.map((raw, i) => {
    const name = raw.trim();
    if (name === '') throw new DataImportError(`${CLASSES_FILE} line ${i + 1}: empty class name`);
    const before = seen.get(name);
    if (before !== undefined) throw new DataImportError(`${CLASSES_FILE} line ${i + 1}: "${name}" is also on line ${before + 1}`);
    seen.set(name, i);
    return name;
  });
  checkClassCount(names.length, CLASSES_FILE);
  return names;
}

/** Refuse a class with no training example, naming it and where the classes came from. */
export function checkTrainCounts(classes: readonly string[], labels: Uint8Array, count: number, what: string): number[] {
  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < count; i++) counts[labels[i] as number]! += 1;
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) throw new DataImportError(`${what}: class "${classes[empty]}" has no training examples`);
  return counts;
}
