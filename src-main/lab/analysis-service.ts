/**
 * analyzeAdapter for the Lab service: resolves what to analyse (an adapter, or the run
 * that stored it), fetches the base and the adapter, runs the analysis on the weights
 * worker (weights/analyze-job.ts) and names what it found (the data set's classes on
 * the output units). W0's spectra, the slow part of intruder dimensions (seconds for
 * the classic MLP), are cached per base model for the life of the process.
 */
import type { AdapterAnalysis, AnalysisTarget, AnalyzeRequest, AnalyzedUpdate, Direction } from '../contract/analysis.ts';
import { INTRUDER_LIMITS } from '../contract/analysis.ts';
import { type DatasetRef, LabError } from '../contract/api.ts';
import type { AdapterRecord } from '../contract/records.ts';
import type { BaseSpectrum } from '../adapters/intruders.ts';
import type { AnalyzeResult, UpdateSource } from '../weights/analyze-job.ts';
import type { Store } from '../store/store.ts';
import { inWorker } from './weights-service.ts';

/** Bases whose spectra stay in memory (the classic MLP's take ~24 MB). */
const CACHED_BASES = 4;

export class AnalysisService {
  /** "id@createdAt" of a base → W0's spectra by layer, oldest first; taken out while a job holds them (its buffers are transferred). */
  readonly #spectra = new Map<string, Record<string, BaseSpectrum>>();

  constructor(
    private readonly store: Store,
    private readonly datasetRef: (id: number) => DatasetRef | null,
  ) {}

  async analyze(req: AnalyzeRequest): Promise<AdapterAnalysis> {
    const adapter = this.#adapterOf(req.target);
    const other = req.vs ? this.#adapterOf(req.vs) : null;
    if (other && other.id === adapter.id) throw new LabError('--vs names the same adapter: compare two different ones');
    if (other && other.baseModelId !== adapter.baseModelId) {
      throw new LabError(`adapter ${other.id} "${other.name}" was trained on model ${other.baseModelId}, adapter ${adapter.id} on model ${adapter.baseModelId}: their directions live in different bases`);
    }
    const base = this.store.models.find(adapter.baseModelId);
    if (!base) throw new LabError(`model ${adapter.baseModelId}, the base of adapter ${adapter.id}, does not exist`, 404);
    const dataset = base.datasetId === null ? null : this.datasetRef(base.datasetId);
    const pictureSize = dataset && dataset.shape.length >= 2 ? dataset.shape.reduce((a, b) => a * b, 1) : null;
    const intruders = req.intruders === false ? null : (req.intruders ?? { k: INTRUDER_LIMITS.defaultK, epsilon: INTRUDER_LIMITS.defaultEpsilon });
    const key = `${base.id}@${base.createdAt}`; // ids of deleted models may come back
    const cached = this.#spectra.get(key) ?? {};
    this.#spectra.delete(key);
    const result = (await inWorker({
      kind: 'analyze',
      sizes: base.sizes,
      base: this.store.tensors.get({ modelId: base.id }),
      baseLabel: `model ${base.id}`,
      spectra: cached,
      update: this.#source(adapter),
      vs: other ? this.#source(other) : null,
      intruders,
      pictureSize,
    })) as AnalyzeResult;
    this.#remember(key, result.spectra);
    const classes = dataset?.classes ?? null;
    const last = `linear${base.sizes.length - 1}`;
    const name = (d: Direction, layer: string): Direction => (d.unit !== null && layer === last && classes?.[d.unit] ? { ...d, label: `class ${classes[d.unit]}` } : d);
    return {
      update: this.#described(req.target, adapter),
      base: { id: base.id, name: base.name },
      dataset,
      layers: result.layers,
      pictures: result.pictures && dataset ? { ...result.pictures, shape: dataset.shape, rows: result.pictures.rows.map((d) => name(d, result.pictures!.layer)) } : null,
      similarity: other && result.similarity ? { other: this.#described(req.vs as AnalysisTarget, other), layers: result.similarity } : null,
      seconds: result.seconds,
      baseSpectrumCached: result.spectraCached,
    };
  }

  #remember(key: string, spectra: Record<string, BaseSpectrum>): void {
    if (Object.keys(spectra).length === 0) return;
    this.#spectra.set(key, spectra);
    while (this.#spectra.size > CACHED_BASES) this.#spectra.delete(this.#spectra.keys().next().value as string);
  }

  #adapterOf(t: AnalysisTarget): AdapterRecord {
    let id = t.id;
    if (t.kind === 'run') {
      const run = this.store.runs.find(t.id);
      if (!run) throw new LabError(`run ${t.id} does not exist`, 404);
      if (run.kind !== 'lora') throw new LabError(`run ${run.id} is a ${run.kind} run: it trained a model, not an update of one; analyse a LoRA run or an adapter`);
      if (run.status !== 'completed' || run.adapterId === null) throw new LabError(`run ${run.id} is ${run.status}: only a completed LoRA run has an adapter to analyse`);
      id = run.adapterId;
    }
    const a = this.store.adapters.find(id);
    if (!a) throw new LabError(`adapter ${id} does not exist`, 404);
    return a;
  }

  #source(a: AdapterRecord): UpdateSource {
    return { label: `adapter ${a.id} "${a.name}"`, info: a.info, tensors: this.store.tensors.get({ adapterId: a.id }) };
  }

  #described(target: AnalysisTarget, a: AdapterRecord): AnalyzedUpdate {
    return { target, adapterId: a.id, name: a.name, runId: a.runId, variant: a.info.variant, r: a.info.r, scaling: a.info.scaling };
  }
}
