/**
 * The layout of an image folder (torchvision's ImageFolder): ROOT/<class>/… or
 * ROOT/train/<class>/… with ROOT/test/<class>/…; class names from the folders (sorted
 * naturally) or a classes.txt in ROOT. Files that are not PNG or JPEG are skipped and
 * counted; a class folder with no image is an error naming it.
 */
import { type Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CLASSES_FILE, naturalSort, readClassesFile } from './classes.ts';
import { DataImportError, checkAborted } from './errors.ts';
import { checkClassCount } from './limits.ts';

export const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;
const TEST_DIRS = ['test', 'val', 'valid', 'validation'];

export interface ImageFile {
  /** Relative to ROOT, with '/' separators. */
  rel: string;
  label: number;
}

export interface ImageFolderLayout {
  classes: string[];
  classesFrom: string;
  train: ImageFile[];
  /** null when the folder has no train/test split. */
  test: ImageFile[] | null;
  /** The names of the split folders, e.g. ['train', 'test']. */
  splitDirs: [string, string] | null;
  skipped: number;
  /** Up to 5 skipped files, for the origin. */
  skippedExamples: string[];
}

async function list(dir: string, rel: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new DataImportError(`${rel || dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

const dirs = (entries: Dirent[]) => entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);

/** Whether a folder listing looks like an image folder (it has subfolders). */
export function looksLikeImageFolder(entries: Dirent[]): boolean {
  return dirs(entries).length > 0;
}

export async function scanImageFolder(root: string, signal?: AbortSignal): Promise<ImageFolderLayout> {
  const top = await list(root, '');
  const topDirs = dirs(top);
  const testDir = TEST_DIRS.find((d) => topDirs.includes(d));
  const split = topDirs.includes('train') && testDir !== undefined;
  const skipped = { count: 0, examples: [] as string[] };
  const skip = (rel: string) => {
    skipped.count++;
    if (skipped.examples.length < 5) skipped.examples.push(rel);
  };

  // Class folders of one split root ('' or 'train' or 'test').
  const classDirs = async (sub: string): Promise<string[]> => {
    const entries = sub ? await list(join(root, sub), sub) : top;
    for (const e of entries) {
      if (!e.isDirectory() && e.name !== CLASSES_FILE) skip(sub ? `${sub}/${e.name}` : e.name);
    }
    return dirs(entries);
  };
  const trainRoot = split ? 'train' : '';
  const trainDirs = await classDirs(trainRoot);
  if (split) {
    for (const e of top) {
      if (e.isDirectory() ? e.name !== 'train' && e.name !== testDir : e.name !== CLASSES_FILE) skip(e.isDirectory() ? `${e.name}/` : e.name);
    }
  }
  const where = trainRoot || '.';
  if (trainDirs.length === 0) {
    throw new DataImportError(`${where}: no class folders (expected ${trainRoot ? `${trainRoot}/` : ''}<class>/*.png or *.jpg)`);
  }

  const fromFile = await readClassesFile(root);
  let classes: string[];
  if (fromFile) {
    const known = new Set(fromFile);
    const stray = trainDirs.find((d) => !known.has(d));
    if (stray) throw new DataImportError(`${trainRoot ? `${trainRoot}/` : ''}${stray}: a class folder not in ${CLASSES_FILE}`);
    const missing = fromFile.find((c) => !trainDirs.includes(c));
    if (missing) throw new DataImportError(`${trainRoot ? `${trainRoot}/` : ''}${missing}: class "${missing}" of ${CLASSES_FILE} has no folder, so no training examples`);
    classes = fromFile;
  } else {
    classes = naturalSort(trainDirs);
    checkClassCount(classes.length, `${where} (class folders)`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));

  const collect = async (sub: string, names: string[]): Promise<ImageFile[]> => {
    const out: ImageFile[] = [];
    for (const name of naturalSort(names)) {
      checkAborted(signal);
      const label = index.get(name);
      const relDir = sub ? `${sub}/${name}` : name;
      if (label === undefined) throw new DataImportError(`${relDir}: a class folder that the train classes do not have (${classes.slice(0, 5).join(', ')}${classes.length > 5 ? ', …' : ''})`);
      const before = out.length;
      await walk(join(root, relDir), relDir, (rel) => out.push({ rel, label }), skip);
      if (out.length === before) throw new DataImportError(`${relDir}: empty class folder (no PNG or JPEG images)`);
    }
    return out;
  };
  const train = await collect(trainRoot, trainDirs);
  const test = split ? await collect(testDir as string, await classDirs(testDir as string)) : null;
  if (test && test.length === 0) throw new DataImportError(`${testDir}: no class folders with images`);
  return {
    classes,
    classesFrom: fromFile ? CLASSES_FILE : 'folder names',
    train,
    test,
    splitDirs: split ? ['train', testDir as string] : null,
    skipped: skipped.count,
    skippedExamples: skipped.examples,
  };
}

/** Image files under a class folder, subfolders included, in natural order. */
async function walk(dir: string, rel: string, add: (rel: string) => void, skip: (rel: string) => void): Promise<void> {
  const entries = await list(dir, rel);
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const name of naturalSort(entries.map((e) => e.name))) {
    const e = byName.get(name) as Dirent;
    const r = `${rel}/${name}`;
    if (name.startsWith('.')) skip(r);
    else if (e.isDirectory()) await walk(join(dir, name), r, add, skip);
    else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.test(name)) add(r);
    else skip(r);
  }
}
