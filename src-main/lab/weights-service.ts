/**
 * Merging, exporting and importing weights for the Lab service. The math and the file
 * formats live in src-main/weights/; this file fetches from the store, hands imports
 * and merges to a worker thread (weights/worker-client.ts: reading, checking and
 * computing never block the event loop), runs evaluations in a trainer process, writes
 * the results to the store and files atomically.
 */
import type { Store } from '../store/store.ts';
import { TrainerHost, type HostOptions } from '../trainer/host.ts';
import type { AdapterInfo, EvalJob, Evaluation } from '../contract/protocol.ts';
import { comparisonCsv, metricsCsv, paramsCsv } from '../weights/csv.ts';
import { MAX_SCALING, describeNonFinite, nonFiniteTensors } from '../weights/finite.ts';
import type { ImportedAdapter, ImportedModel, MergeResult, WeightsJob } from '../weights/jobs.ts';
import type { MergeOptions } from '../weights/merge.ts';
import { PEFT_NAMES, normalizeMergeRequest } from '../weights/merge-request.ts';
import type { NamedTensors } from '../contract/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../weights/peft.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import { WeightsJobError, runWeightsJob } from '../weights/worker-client.ts';
import { TFJS_MODEL_FILE, TFJS_WEIGHTS_FILE, tfjsModelFiles } from '../weights/tfjs-format.ts';
import { type EvalSummary, type ExportFormat, type ExportTarget, LabError, type MergePreview, type MergeRequest } from '../contract/api.ts';
import { compareData, flattenConfig } from './compare.ts';
import { type Progress, type WrittenFile, writeFileAtomic, writeFolderAtomic } from './files.ts';
import { evaluationSlots } from './trainer-slots.ts';
import { dataSource } from './datasets-service.ts';
import { MNIST_DATASET_ID } from '../contract/dataset.ts';
import type { DataSource } from '../contract/protocol.ts';

export const evalSummary = (e: Evaluation, classes: string[]): EvalSummary => ({
  accuracy: e.accuracy,
  loss: e.loss,
  total: e.total,
  wrongPerClass: e.wrongPerClass,
  countPerClass: e.countPerClass,
  classes,
});

export class WeightsService {
  constructor(
    private readonly store: Store,
    private readonly host: HostOptions,
  ) {}

  // ── merging ──────────────────────────────────────────────────────────────────

  /**
   * The stored inputs of a request. Whether each adapter fits the base, and holds only
   * finite values, is checked in the worker with the merge (a full scan of every tensor).
   */
  #inputs(req: MergeRequest) {
    const base = this.store.models.find(req.baseModelId);
    if (!base) throw new LabError(`model ${req.baseModelId} does not exist`, 404);
    if (req.adapters.length === 0) throw new LabError('choose at least one adapter');
    if (new Set(req.adapters.map((a) => a.adapterId)).size !== req.adapters.length) throw new LabError('an adapter is listed twice');
    const adapters = req.adapters.map(({ adapterId, weight }) => {
      const a = this.store.adapters.find(adapterId);
      if (!a) throw new LabError(`adapter ${adapterId} does not exist`, 404);
      if (a.baseModelId !== base.id) throw new LabError(`adapter ${a.id} "${a.name}" was trained on model ${a.baseModelId}, not on model ${base.id}`);
      return { id: a.id, name: a.name, info: a.info, tensors: this.store.tensors.get({ adapterId }), weight };
    });
    return { base, baseTensors: this.store.tensors.get({ modelId: base.id }), adapters };
  }

  /** The merge options of a request, in today's method names (`dare` + dropRate read as dare_linear_svd + density). */
  #options(req: MergeRequest): MergeOptions {
    const r = normalizeMergeRequest(req);
    return {
      method: r.method,
      ...(r.rank !== undefined ? { rank: r.rank } : {}),
      ...(r.density !== undefined ? { density: r.density } : {}),
      ...(r.majoritySign !== undefined ? { majoritySign: r.majoritySign } : {}),
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
    };
  }

  /** The merge computed on a worker thread; the inputs come back with the result (transferred, not copied). */
  async #merge(req: MergeRequest, output: 'model' | 'adapter', inputs = this.#inputs(req)): Promise<MergeResult> {
    const { base, baseTensors, adapters } = inputs;
    const job: WeightsJob = {
      kind: 'merge',
      output,
      sizes: base.sizes,
      base: baseTensors,
      baseLabel: `model ${base.id}`,
      adapters: adapters.map((a) => ({ name: `a${a.id} ${a.name}`, info: a.info, tensors: a.tensors, weight: a.weight })),
      options: this.#options(req),
    };
    return (await inWorker(job)) as MergeResult;
  }

  /** Evaluate the base, each adapter alone and the combination; nothing is written. */
  async previewMerge(req: MergeRequest): Promise<MergePreview> {
    const inputs = this.#inputs(req);
    const { base, adapters } = inputs;
    const merged = await this.#merge(req, 'model', inputs);
    const results = await this.evaluate({
      runId: `preview-${base.id}`,
      sizes: base.sizes,
      data: dataSource(this.store, this.mergeData(req)),
      testLimit: req.testLimit ?? null,
      models: [
        { name: 'base', tensors: merged.base },
        ...adapters.map((a, i) => ({ name: a.name, tensors: merged.base, adapter: { scaling: a.info.scaling, targets: a.info.targets, variant: a.info.variant, tensors: merged.adapters[i] as NamedTensors } })),
        { name: 'combined', tensors: merged.tensors },
      ],
    });
    const classes = this.store.datasets.find(this.mergeData(req))?.classes ?? [];
    const summary = (e: Evaluation) => evalSummary(e, classes);
    return { request: normalizeMergeRequest(req), base: summary(results[0] as Evaluation), adapters: results.slice(1, -1).map(summary), combined: summary(results.at(-1) as Evaluation) };
  }

  /** Store the combination as a merged model or as a new adapter on the same base. */
  async saveMerge(req: MergeRequest, name: string, output: 'model' | 'adapter'): Promise<{ kind: 'model' | 'adapter'; id: number }> {
    const merged = await this.#merge(req, output);
    // Looked up again after the await: the base may have been deleted meanwhile.
    const base = this.store.models.find(req.baseModelId);
    if (!base) throw new LabError(`model ${req.baseModelId} does not exist`, 404);
    const r = normalizeMergeRequest(req);
    // PEFT_NAMES: read as today's names (a record without it says ties/dare in the old sense).
    const origin = { merge: { method: r.method, base: base.id, adapters: r.adapters, rank: r.rank, density: r.density, majoritySign: r.majoritySign, seed: r.seed, [PEFT_NAMES]: true } };
    if (output === 'model') {
      return this.store.transaction(() => {
        const m = this.store.models.create({ name, kind: 'merged', sizes: base.sizes, parentModelId: base.id, datasetId: this.mergeData(req), origin });
        this.store.tensors.put({ modelId: m.id }, merged.tensors);
        return { kind: 'model' as const, id: m.id };
      });
    }
    const info = merged.info as AdapterInfo;
    return this.store.transaction(() => {
      const a = this.store.adapters.create({ name, baseModelId: base.id, info, origin });
      this.store.tensors.put({ adapterId: a.id }, merged.tensors);
      return { kind: 'adapter' as const, id: a.id };
    });
  }

  /**
   * The data set a merge is evaluated on and its result is for: the one every adapter was
   * fine-tuned on when they agree (a fine-tune may shift domain from its base's), else
   * the base model's.
   */
  mergeData(req: MergeRequest): number {
    const baseData = this.store.models.find(req.baseModelId)?.datasetId ?? MNIST_DATASET_ID;
    const trained = req.adapters.map((a) => {
      const runId = this.store.adapters.find(a.adapterId)?.runId;
      return runId == null ? null : (this.store.runs.find(runId)?.config.data ?? null);
    });
    const first = trained[0];
    return first != null && trained.every((d) => d === first) ? first : baseData;
  }

  /** Where a model's evaluation reads its test set: the model's data set (MNIST for one that has none). */
  dataOf(modelId: number): DataSource {
    return dataSource(this.store, this.store.models.find(modelId)?.datasetId ?? MNIST_DATASET_ID);
  }

  /** The class names of a model's data set. */
  classesOf(modelId: number): string[] {
    return this.store.datasets.find(this.store.models.find(modelId)?.datasetId ?? MNIST_DATASET_ID)?.classes ?? [];
  }

  /** In a trainer process of the shared pool: at most EVALUATION_SLOTS at once, the rest queue. */
  async evaluate(job: EvalJob): Promise<Evaluation[]> {
    return evaluationSlots.use(async () => {
      const host = new TrainerHost(this.host);
      try {
        const r = await host.evaluate(job);
        if (r.status !== 'completed') throw new LabError(`the evaluation failed: ${r.error}`, 400);
        return r.results;
      } finally {
        // The slot is free only once the process is gone.
        host.kill();
        await host.waitForExit(5000);
      }
    });
  }

  /**
   * A stored model's weights, refused when they hold NaN or infinite values (an older
   * LoRA Lab imported and merged such models): they would evaluate and export as noise.
   */
  modelWeights(modelId: number): { sizes: number[]; tensors: NamedTensors } {
    const m = this.store.models.find(modelId);
    if (!m) throw new LabError(`model ${modelId} does not exist`, 404);
    const tensors = this.store.tensors.get({ modelId });
    const bad = nonFiniteTensors(tensors);
    if (bad.length > 0) throw new LabError(`model ${modelId} is unusable: ${describeNonFinite(bad)}; delete it and import or merge it again`);
    return { sizes: m.sizes, tensors };
  }

  /**
   * A base with an adapter merged in (export --merged): the one-adapter linear merge,
   * computed on a worker thread and checked like any merge result.
   */
  async mergedAdapterWeights(adapterId: number): Promise<{ sizes: number[]; tensors: NamedTensors; lineage: object }> {
    const a = this.store.adapters.find(adapterId);
    if (!a) throw new LabError(`adapter ${adapterId} does not exist`, 404);
    const merged = await this.#merge({ baseModelId: a.baseModelId, adapters: [{ adapterId, weight: 1 }], method: 'linear' }, 'model');
    const { sizes } = this.store.models.get(a.baseModelId);
    return { sizes, tensors: merged.tensors, lineage: { base: a.baseModelId, adapter: a.id, weight: 1, method: 'merge' } };
  }

  /** A stored adapter's tensors, refused when they or its scaling could only produce NaN or infinities. */
  #adapterTensors(adapterId: number): NamedTensors {
    const a = this.store.adapters.get(adapterId);
    if (!(Math.abs(a.info.scaling) <= MAX_SCALING)) throw new LabError(`adapter ${adapterId} is unusable: its scaling ${a.info.scaling} is larger than ${MAX_SCALING}; delete it`);
    const tensors = this.store.tensors.get({ adapterId });
    const bad = nonFiniteTensors(tensors);
    if (bad.length > 0) throw new LabError(`adapter ${adapterId} is unusable: ${describeNonFinite(bad)}; delete it`);
    return tensors;
  }

  // ── export ───────────────────────────────────────────────────────────────────

  /** Write `target` in `format` to `path` (a file, or a folder for peft/tfjs). */
  async exportTo(target: ExportTarget, format: ExportFormat, path: string, opts: { merged?: boolean; overwrite?: boolean; progress?: Progress } = {}): Promise<WrittenFile[]> {
    const write = { overwrite: opts.overwrite ?? false, ...(opts.progress ? { progress: opts.progress } : {}) };
    if (format === 'csv' || format === 'json') return [writeFileAtomic(path, utf8(this.#table(target, format)), write)];
    const resolved = await this.#resolve(target, opts.merged ?? false);
    // What the outputs mean: the data set and its class names, index = output unit.
    const data = this.store.datasets.find(this.store.models.find(resolved.modelId)?.datasetId ?? MNIST_DATASET_ID);
    const meaning: Record<string, string> = data ? { 'lora_lab.data_set': data.name, 'lora_lab.classes': JSON.stringify(data.classes), 'lora_lab.input_shape': JSON.stringify(data.shape) } : {};
    switch (format) {
      case 'safetensors': {
        if (resolved.kind === 'adapter') {
          const files = peftFiles(resolved.tensors, resolved.info, resolved.baseName, meaning);
          return [writeFileAtomic(path, files.safetensors, write)];
        }
        const metadata = { ...meaning, format: 'pt', lineage: JSON.stringify(resolved.lineage), sizes: resolved.sizes.join(',') };
        return [writeFileAtomic(path, writeSafetensors(resolved.tensors, metadata), write)];
      }
      case 'peft': {
        if (resolved.kind !== 'adapter') throw new LabError('the PEFT format holds an adapter: export a LoRA run or an adapter (without --merged)');
        const files = peftFiles(resolved.tensors, resolved.info, resolved.baseName, meaning);
        return writeFolderAtomic(path, { [PEFT_CONFIG_FILE]: utf8(JSON.stringify(files.config, null, 2)), [PEFT_WEIGHTS_FILE]: files.safetensors }, write);
      }
      case 'tfjs': {
        if (resolved.kind !== 'model') throw new LabError('a TF.js model needs full weights: export a model, a base run, or an adapter with --merged');
        const { modelJson, weightsBin } = tfjsModelFiles(resolved.tensors, resolved.sizes);
        return writeFolderAtomic(path, { [TFJS_MODEL_FILE]: utf8(JSON.stringify(modelJson)), [TFJS_WEIGHTS_FILE]: weightsBin }, write);
      }
    }
  }

  async #resolve(target: ExportTarget, merged: boolean): Promise<
    | { kind: 'model'; sizes: number[]; tensors: NamedTensors; lineage: object; modelId: number }
    | { kind: 'adapter'; tensors: NamedTensors; info: AdapterInfo; baseName: string; modelId: number }
  > {
    let t = target;
    if (t.kind === 'run') {
      const run = this.store.runs.find(t.id);
      if (!run) throw new LabError(`run ${t.id} does not exist`, 404);
      if (run.status !== 'completed') throw new LabError(`run ${run.id} is ${run.status}: only completed runs have weights`);
      t = run.kind === 'lora' ? { kind: 'adapter', id: run.adapterId as number } : { kind: 'model', id: run.modelId as number };
      if (t.id === null) throw new LabError(`run ${run.id} has no stored weights`);
    }
    if (t.kind === 'model') {
      const { sizes, tensors } = this.modelWeights(t.id);
      const m = this.store.models.get(t.id);
      return { kind: 'model', sizes, tensors, modelId: m.id, lineage: { model: m.id, name: m.name, kind: m.kind, parent: m.parentModelId, sourceRun: m.sourceRunId, origin: m.origin } };
    }
    if (t.kind === 'adapter') {
      if (merged) return { kind: 'model', modelId: this.store.adapters.find(t.id)?.baseModelId ?? -1, ...(await this.mergedAdapterWeights(t.id)) };
      const a = this.store.adapters.find(t.id);
      if (!a) throw new LabError(`adapter ${t.id} does not exist`, 404);
      return { kind: 'adapter', tensors: this.#adapterTensors(a.id), info: a.info, baseName: `lora-lab/model-${a.baseModelId}`, modelId: a.baseModelId };
    }
    throw new LabError('weights are exported from a model, an adapter or a run');
  }

  #table(target: ExportTarget, format: 'csv' | 'json'): string {
    const ids = target.kind === 'comparison' ? target.ids : target.kind === 'run' ? [target.id] : null;
    if (!ids) throw new LabError('metrics and parameters are exported from a run or a comparison');
    const runs = ids.map((id) => {
      const r = this.store.runs.find(id);
      if (!r) throw new LabError(`run ${id} does not exist`, 404);
      return r;
    });
    const metrics = runs.flatMap((r) =>
      this.store.metrics.keys(r.id).flatMap((key) => {
        const s = this.store.metrics.series(r.id, key);
        return s.steps.map((step, i) => ({ runId: r.id, key, step, value: s.values[i] as number, time: s.times[i] as number }));
      }),
    );
    // Per-class figures are read by the data set's class names, so the data set travels with them.
    const data = runs.map((r) => this.store.datasets.find(r.config.data));
    if (format === 'json') {
      const dataset = (d: (typeof data)[number]) => d && { id: d.id, name: d.name, kind: d.kind, shape: d.shape, classes: d.classes, hash: d.hash };
      return JSON.stringify(
        {
          runs: runs.map((r, i) => ({ id: r.id, name: r.name, kind: r.kind, status: r.status, config: r.config, dataset: dataset(data[i]), summary: r.summary, evaluations: stripPredictions(this.store.evaluations.get(r.id)) })),
          metrics,
        },
        null,
        1,
      );
    }
    if (target.kind === 'comparison') {
      const names = data.map((d) => d?.classes.join('\u0000') ?? null);
      const shared = names.every((n) => n !== null && n === names[0]) ? (data[0]?.classes ?? null) : null;
      return comparisonCsv({ ...compareData(this.store, ids), datasets: data.map((d) => d?.name ?? null), classes: shared });
    }
    return paramsCsv(runs.map((r) => ({ runId: r.id, params: flattenConfig(r.config) }))) + metricsCsv(metrics).split('\r\n').slice(1).join('\r\n');
  }

  // ── import ───────────────────────────────────────────────────────────────────
  // Files are read, parsed and checked (sizes before reading, finite values, scales,
  // ranks) on a worker thread; only the store write happens here.

  /** Base weights from a PyTorch-layout safetensors file; the architecture is read from the tensors. */
  async importModel(path: string, name: string, opts: { noFollow?: boolean; dataset?: (sizes: number[]) => number } = {}): Promise<number> {
    const m = (await inWorker({ kind: 'import-model', path, noFollow: opts.noFollow ?? false })) as ImportedModel;
    const datasetId = opts.dataset ? opts.dataset(m.sizes) : MNIST_DATASET_ID;
    return this.store.transaction(() => {
      const created = this.store.models.create({ name, kind: 'imported', sizes: m.sizes, datasetId, origin: { file: path, bytes: m.bytes, metadata: m.metadata } });
      this.store.tensors.put({ modelId: created.id }, m.tensors);
      return created.id;
    });
  }

  /** A PEFT adapter folder (or its adapter_config.json's folder) for a stored base model. */
  async importAdapter(folder: string, baseModelId: number, name: string, opts: { noFollow?: boolean } = {}): Promise<number> {
    const sizes = () => {
      const base = this.store.models.find(baseModelId);
      if (!base) throw new LabError(`model ${baseModelId} does not exist`, 404);
      return base.sizes;
    };
    const parsed = (await inWorker({ kind: 'import-adapter', path: folder, baseSizes: sizes(), noFollow: opts.noFollow ?? false })) as ImportedAdapter;
    sizes(); // the base may have been deleted while the worker ran
    return this.store.transaction(() => {
      const a = this.store.adapters.create({ name, baseModelId, info: parsed.info, origin: { folder: parsed.folder, baseModel: parsed.baseModel } });
      this.store.tensors.put({ adapterId: a.id }, parsed.tensors);
      return a.id;
    });
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function stripPredictions(e: object): object {
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ? { ...(v as object), predictions: undefined } : v]));
}

/**
 * A weights job on a worker thread. Format, size, finiteness and merge errors become
 * clear 400s (404 for a missing file): nothing is stored. Their messages name files,
 * tensors and byte offsets, never a file's content.
 */
export async function inWorker(job: WeightsJob) {
  try {
    return await runWeightsJob(job);
  } catch (err) {
    if (err instanceof WeightsJobError && err.kind !== 'Error') throw new LabError(err.message, err.notFound ? 404 : 400);
    throw err;
  }
}
