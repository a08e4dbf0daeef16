/**
 * Merging, exporting and importing weights for the Lab service. The math and the file
 * formats live in src-main/weights/; this file fetches from the store, checks that
 * adapters fit their base, runs evaluations in a trainer process (the main process
 * never does tensor work) and writes files atomically.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/store.ts';
import { TrainerHost, type HostOptions } from '../trainer/host.ts';
import type { AdapterInfo, EvalJob, Evaluation } from '../trainer/protocol.ts';
import { mlpSizes } from '../weights/architecture.ts';
import { comparisonCsv, metricsCsv, paramsCsv } from '../weights/csv.ts';
import { MergeError, checkAdapterFits, combineDeltas, combineToAdapter, deltaFromAdapter, mergeIntoBase } from '../weights/merge.ts';
import type { NamedTensors } from '../weights/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, parsePeft, peftFiles } from '../weights/peft.ts';
import { readSafetensorsFile, writeSafetensors } from '../weights/safetensors.ts';
import { TFJS_MODEL_FILE, TFJS_WEIGHTS_FILE, tfjsModelFiles } from '../weights/tfjs-format.ts';
import { type EvalSummary, type ExportFormat, type ExportTarget, LabError, type MergePreview, type MergeRequest } from './api.ts';
import { compareData, flattenConfig } from './compare.ts';
import { type Progress, type WrittenFile, writeFileAtomic, writeFolderAtomic } from './files.ts';

const summary = (e: Evaluation): EvalSummary => ({ accuracy: e.accuracy, loss: e.loss, total: e.total, wrongPerClass: e.wrongPerClass, countPerClass: e.countPerClass });

export class WeightsService {
  constructor(
    private readonly store: Store,
    private readonly host: HostOptions,
  ) {}

  // ── merging ──────────────────────────────────────────────────────────────────

  /** The adapters of a request, checked to fit the base model. */
  #inputs(req: MergeRequest) {
    const base = this.store.models.find(req.baseModelId);
    if (!base) throw new LabError(`model ${req.baseModelId} does not exist`, 404);
    if (req.adapters.length === 0) throw new LabError('choose at least one adapter');
    if (new Set(req.adapters.map((a) => a.adapterId)).size !== req.adapters.length) throw new LabError('an adapter is listed twice');
    const adapters = req.adapters.map(({ adapterId, weight }) => {
      const a = this.store.adapters.find(adapterId);
      if (!a) throw new LabError(`adapter ${adapterId} does not exist`, 404);
      if (a.baseModelId !== base.id) throw new LabError(`adapter ${a.id} "${a.name}" was trained on model ${a.baseModelId}, not on model ${base.id}`);
      const tensors = this.store.tensors.get({ adapterId });
      try {
        checkAdapterFits(base.sizes, a.info, tensors, `adapter ${a.id}`);
      } catch (err) {
        throw new LabError((err as Error).message);
      }
      return { id: a.id, name: a.name, info: a.info, tensors, weight };
    });
    return { base, baseTensors: this.store.tensors.get({ modelId: base.id }), adapters };
  }

  #options(req: MergeRequest) {
    return {
      method: req.method,
      ...(req.rank !== undefined ? { rank: req.rank } : {}),
      ...(req.density !== undefined ? { density: req.density } : {}),
      ...(req.dropRate !== undefined ? { dropRate: req.dropRate } : {}),
      ...(req.seed !== undefined ? { seed: req.seed } : {}),
    };
  }

  /** Evaluate the base, each adapter alone and the combination; nothing is written. */
  async previewMerge(req: MergeRequest): Promise<MergePreview> {
    const { base, baseTensors, adapters } = this.#inputs(req);
    const merged = mergeOrExplain(() => mergeIntoBase(baseTensors, combineDeltas(base.sizes, adapters, this.#options(req))));
    const results = await this.evaluate({
      runId: `preview-${base.id}`,
      sizes: base.sizes,
      testLimit: req.testLimit ?? null,
      models: [
        { name: 'base', tensors: baseTensors },
        ...adapters.map((a) => ({ name: a.name, tensors: baseTensors, adapter: { scaling: a.info.scaling, targets: a.info.targets, tensors: a.tensors } })),
        { name: 'combined', tensors: merged },
      ],
    });
    return { request: req, base: summary(results[0] as Evaluation), adapters: results.slice(1, -1).map(summary), combined: summary(results.at(-1) as Evaluation) };
  }

  /** Store the combination as a merged model or as a new adapter on the same base. */
  saveMerge(req: MergeRequest, name: string, output: 'model' | 'adapter'): { kind: 'model' | 'adapter'; id: number } {
    const { base, baseTensors, adapters } = this.#inputs(req);
    const origin = { merge: { method: req.method, base: base.id, adapters: req.adapters, rank: req.rank, density: req.density, dropRate: req.dropRate, seed: req.seed } };
    if (output === 'model') {
      const tensors = mergeOrExplain(() => mergeIntoBase(baseTensors, combineDeltas(base.sizes, adapters, this.#options(req))));
      return this.store.transaction(() => {
        const m = this.store.models.create({ name, kind: 'merged', sizes: base.sizes, parentModelId: base.id, origin });
        this.store.tensors.put({ modelId: m.id }, tensors);
        return { kind: 'model' as const, id: m.id };
      });
    }
    const combined = mergeOrExplain(() => combineToAdapter(base.sizes, adapters, this.#options(req)));
    return this.store.transaction(() => {
      const a = this.store.adapters.create({ name, baseModelId: base.id, info: combined.info, origin });
      this.store.tensors.put({ adapterId: a.id }, combined.tensors);
      return { kind: 'adapter' as const, id: a.id };
    });
  }

  async evaluate(job: EvalJob): Promise<Evaluation[]> {
    const host = new TrainerHost(this.host);
    try {
      const r = await host.evaluate(job);
      if (r.status !== 'completed') throw new LabError(`the evaluation failed: ${r.error}`, 400);
      return r.results;
    } finally {
      host.kill();
      await host.waitForExit(5000);
    }
  }

  /** A stored model's weights, or a base with an adapter merged in. */
  modelWeights(modelId: number): { sizes: number[]; tensors: NamedTensors } {
    const m = this.store.models.find(modelId);
    if (!m) throw new LabError(`model ${modelId} does not exist`, 404);
    return { sizes: m.sizes, tensors: this.store.tensors.get({ modelId }) };
  }

  mergedAdapterWeights(adapterId: number): { sizes: number[]; tensors: NamedTensors; lineage: object } {
    const a = this.store.adapters.find(adapterId);
    if (!a) throw new LabError(`adapter ${adapterId} does not exist`, 404);
    const { sizes, tensors } = this.modelWeights(a.baseModelId);
    return { sizes, tensors: mergeIntoBase(tensors, deltaFromAdapter(a.info, this.store.tensors.get({ adapterId }))), lineage: { base: a.baseModelId, adapter: a.id, weight: 1, method: 'merge' } };
  }

  // ── export ───────────────────────────────────────────────────────────────────

  /** Write `target` in `format` to `path` (a file, or a folder for peft/tfjs). */
  exportTo(target: ExportTarget, format: ExportFormat, path: string, opts: { merged?: boolean; overwrite?: boolean; progress?: Progress } = {}): WrittenFile[] {
    const write = { overwrite: opts.overwrite ?? false, ...(opts.progress ? { progress: opts.progress } : {}) };
    if (format === 'csv' || format === 'json') return [writeFileAtomic(path, utf8(this.#table(target, format)), write)];
    const resolved = this.#resolve(target, opts.merged ?? false);
    switch (format) {
      case 'safetensors': {
        if (resolved.kind === 'adapter') {
          const files = peftFiles(resolved.tensors, resolved.info, resolved.baseName);
          return [writeFileAtomic(path, files.safetensors, write)];
        }
        const metadata = { format: 'pt', lineage: JSON.stringify(resolved.lineage), sizes: resolved.sizes.join(',') };
        return [writeFileAtomic(path, writeSafetensors(resolved.tensors, metadata), write)];
      }
      case 'peft': {
        if (resolved.kind !== 'adapter') throw new LabError('the PEFT format holds an adapter: export a LoRA run or an adapter (without --merged)');
        const files = peftFiles(resolved.tensors, resolved.info, resolved.baseName);
        return writeFolderAtomic(path, { [PEFT_CONFIG_FILE]: utf8(JSON.stringify(files.config, null, 2)), [PEFT_WEIGHTS_FILE]: files.safetensors }, write);
      }
      case 'tfjs': {
        if (resolved.kind !== 'model') throw new LabError('a TF.js model needs full weights: export a model, a base run, or an adapter with --merged');
        const { modelJson, weightsBin } = tfjsModelFiles(resolved.tensors, resolved.sizes);
        return writeFolderAtomic(path, { [TFJS_MODEL_FILE]: utf8(JSON.stringify(modelJson)), [TFJS_WEIGHTS_FILE]: weightsBin }, write);
      }
    }
  }

  #resolve(target: ExportTarget, merged: boolean):
    | { kind: 'model'; sizes: number[]; tensors: NamedTensors; lineage: object }
    | { kind: 'adapter'; tensors: NamedTensors; info: AdapterInfo; baseName: string } {
    let t = target;
    if (t.kind === 'run') {
      const run = this.store.runs.find(t.id);
      if (!run) throw new LabError(`run ${t.id} does not exist`, 404);
      if (run.status !== 'completed') throw new LabError(`run ${run.id} is ${run.status}: only completed runs have weights`);
      t = run.kind === 'base' ? { kind: 'model', id: run.modelId as number } : { kind: 'adapter', id: run.adapterId as number };
      if (t.id === null) throw new LabError(`run ${run.id} has no stored weights`);
    }
    if (t.kind === 'model') {
      const { sizes, tensors } = this.modelWeights(t.id);
      const m = this.store.models.get(t.id);
      return { kind: 'model', sizes, tensors, lineage: { model: m.id, name: m.name, kind: m.kind, parent: m.parentModelId, sourceRun: m.sourceRunId, origin: m.origin } };
    }
    if (t.kind === 'adapter') {
      if (merged) return { kind: 'model', ...this.mergedAdapterWeights(t.id) };
      const a = this.store.adapters.find(t.id);
      if (!a) throw new LabError(`adapter ${t.id} does not exist`, 404);
      return { kind: 'adapter', tensors: this.store.tensors.get({ adapterId: a.id }), info: a.info, baseName: `lora-lab/model-${a.baseModelId}` };
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
    if (format === 'json') {
      return JSON.stringify({ runs: runs.map((r) => ({ id: r.id, name: r.name, kind: r.kind, status: r.status, config: r.config, summary: r.summary, evaluations: stripPredictions(this.store.evaluations.get(r.id)) })), metrics }, null, 1);
    }
    if (target.kind === 'comparison') return comparisonCsv(compareData(this.store, ids));
    return paramsCsv(runs.map((r) => ({ runId: r.id, params: flattenConfig(r.config) }))) + metricsCsv(metrics).split('\r\n').slice(1).join('\r\n');
  }

  // ── import ───────────────────────────────────────────────────────────────────

  /** Base weights from a PyTorch-layout safetensors file; the architecture is read from the tensors. */
  importModel(path: string, name: string): number {
    const { tensors, metadata } = readOrExplain(() => readSafetensorsFile(path));
    let sizes: number[];
    try {
      sizes = mlpSizes(tensors);
    } catch (err) {
      throw new LabError(`${path}: ${(err as Error).message}`);
    }
    if (sizes[0] !== 784 || sizes.at(-1) !== 10) throw new LabError(`${path}: the model maps ${sizes[0]} inputs to ${sizes.at(-1)} outputs; LoRA Lab's MNIST models map 784 to 10`);
    return this.store.transaction(() => {
      const m = this.store.models.create({ name, kind: 'imported', sizes, origin: { file: path, bytes: statSync(path).size, metadata } });
      this.store.tensors.put({ modelId: m.id }, tensors);
      return m.id;
    });
  }

  /** A PEFT adapter folder (or its adapter_config.json's folder) for a stored base model. */
  importAdapter(folder: string, baseModelId: number, name: string): number {
    const base = this.store.models.find(baseModelId);
    if (!base) throw new LabError(`model ${baseModelId} does not exist`, 404);
    const dir = statSync(folder).isDirectory() ? folder : join(folder, '..');
    const parsed = readOrExplain(() => {
      const cfgText = readFileSync(join(dir, PEFT_CONFIG_FILE), 'utf8');
      if (cfgText.length > 1_000_000) throw new LabError(`${join(dir, PEFT_CONFIG_FILE)} is too large to be an adapter config`);
      const weights = join(dir, PEFT_WEIGHTS_FILE);
      if (statSync(weights).size > 2 * 1024 ** 3) throw new LabError(`${weights} is larger than 2 GB`);
      return parsePeft(JSON.parse(cfgText) as unknown, readFileSync(weights));
    });
    try {
      checkAdapterFits(base.sizes, parsed.info, parsed.tensors, `the adapter in ${dir}`);
    } catch (err) {
      throw new LabError((err as Error).message);
    }
    return this.store.transaction(() => {
      const a = this.store.adapters.create({ name, baseModelId, info: parsed.info, origin: { folder: dir, baseModel: parsed.baseModel } });
      this.store.tensors.put({ adapterId: a.id }, parsed.tensors);
      return a.id;
    });
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function stripPredictions(e: object): object {
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ? { ...(v as object), predictions: undefined } : v]));
}

function mergeOrExplain<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MergeError) throw new LabError(err.message);
    throw err;
  }
}

/** File-format errors (hostile or broken files) become clear 400s; nothing is stored. */
function readOrExplain<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LabError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new LabError(`file not found: ${e.path ?? ''}`, 404);
    if (e instanceof SyntaxError) throw new LabError(`the adapter config is not valid JSON: ${e.message}`);
    if (/Error$/.test(e.name ?? '') && e.name !== 'Error' && e.name !== 'TypeError' && e.name !== 'RangeError') throw new LabError(e.message);
    throw err;
  }
}
