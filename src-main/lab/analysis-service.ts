/**
 * analyzeAdapter for the Lab service: resolves what to analyse (an adapter, a model with
 * a parent, or the run that stored either), fetches the base and the update, runs the analysis on the weights
 * worker (weights/analyze-job.ts) and names what it found (the data set's classes on
 * the output units). W0's spectra, the slow part of intruder dimensions (seconds for
 * the classic MLP), are cached per base model for the life of the process.
 */
import type { AdapterAnalysis, AnalysisTarget, AnalyzeRequest, AnalyzedUpdate, Direction } from '../contract/analysis.ts';
import { DENSE_AMPLIFICATION_RANK, INTRUDER_LIMITS } from '../contract/analysis.ts';
import { type DatasetRef, LabError } from '../contract/api.ts';
import type { BaseSpectrum } from '../adapters/intruders.ts';
import type { AnalyzeResult, UpdateSource } from '../weights/analyze-job.ts';
import type { Store } from '../store/store.ts';
import { inWorker } from './weights-service.ts';

/** Bases whose spectra stay in memory (the classic MLP's U0 and V0 take ~35 MB). */
const CACHED_BASES = 4;

export class AnalysisService {
  /** "id@createdAt" of a base → W0's spectra by layer, oldest first; taken out while a job holds them (its buffers are transferred). */
  readonly #spectra = new Map<string, Record<string, BaseSpectrum>>();

  constructor(
    private readonly store: Store,
    private readonly datasetRef: (id: number) => DatasetRef | null,
  ) {}

  async analyze(req: AnalyzeRequest): Promise<AdapterAnalysis> {
    const subject = this.#subjectOf(req.target);
    const other = req.vs ? this.#subjectOf(req.vs) : null;
    if (other && other.key === subject.key) throw new LabError('--vs names the same update: compare two different ones');
    if (other && other.baseModelId !== subject.baseModelId) {
      throw new LabError(`${other.label} is an update of model ${other.baseModelId}, ${subject.label} of model ${subject.baseModelId}: their directions live in different bases`);
    }
    const base = this.store.models.find(subject.baseModelId);
    if (!base) throw new LabError(`model ${subject.baseModelId}, the base of ${subject.label}, does not exist`, 404);
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
      update: subject.source(),
      vs: other ? other.source() : null,
      intruders,
      pictureSize,
    })) as AnalyzeResult;
    this.#remember(key, result.spectra);
    const classes = dataset?.classes ?? null;
    const last = `linear${base.sizes.length - 1}`;
    const name = (d: Direction, layer: string): Direction => (d.unit !== null && layer === last && classes?.[d.unit] ? { ...d, label: `class ${classes[d.unit]}` } : d);
    return {
      update: subject.described,
      base: { id: base.id, name: base.name },
      dataset,
      layers: result.layers,
      pictures: result.pictures && dataset ? { ...result.pictures, shape: dataset.shape, rows: result.pictures.rows.map((d) => name(d, result.pictures!.layer)) } : null,
      similarity: other && result.similarity ? { other: other.described, layers: result.similarity } : null,
      seconds: result.seconds,
      baseSpectrumCached: result.spectraCached,
    };
  }

  #remember(key: string, spectra: Record<string, BaseSpectrum>): void {
    if (Object.keys(spectra).length === 0) return;
    this.#spectra.set(key, spectra);
    while (this.#spectra.size > CACHED_BASES) this.#spectra.delete(this.#spectra.keys().next().value as string);
  }

  /** What a target names: an adapter, or a model with a parent (its update is W − W0). */
  #subjectOf(t: AnalysisTarget): Subject {
    if (t.kind === 'run') {
      const run = this.store.runs.find(t.id);
      if (!run) throw new LabError(`run ${t.id} does not exist`, 404);
      if (run.kind === 'base') throw new LabError(`run ${run.id} is a base run: it trained a model from scratch, not an update of one; analyse a LoRA run, a full fine-tune or an adapter`);
      const made = run.kind === 'lora' ? run.adapterId : run.modelId;
      if (run.status !== 'completed' || made === null) throw new LabError(`run ${run.id} is ${run.status}: only a completed fine-tune has an update to analyse`);
      return run.kind === 'lora' ? this.#subjectOf({ kind: 'adapter', id: made }) : this.#subjectOf({ kind: 'model', id: made });
    }
    if (t.kind === 'adapter') {
      const a = this.store.adapters.find(t.id);
      if (!a) throw new LabError(`adapter ${t.id} does not exist`, 404);
      const label = `adapter ${a.id} "${a.name}"`;
      return {
        key: `adapter ${a.id}`,
        label,
        baseModelId: a.baseModelId,
        source: () => ({ kind: 'adapter', label, info: a.info, tensors: this.store.tensors.get({ adapterId: a.id }) }),
        described: { target: t, source: 'adapter', adapterId: a.id, modelId: null, name: a.name, runId: a.runId, variant: a.info.variant, r: a.info.r, scaling: a.info.scaling },
      };
    }
    const m = this.store.models.find(t.id);
    if (!m) throw new LabError(`model ${t.id} does not exist`, 404);
    if (m.parentModelId === null) throw new LabError(`model ${m.id} "${m.name}" is a ${m.kind} model without a parent: there is no W0 to take its update against`);
    const parent = this.store.models.find(m.parentModelId);
    if (parent && parent.sizes.join() !== m.sizes.join()) throw new LabError(`model ${m.id} has layers ${m.sizes.join('→')}, its parent ${parent.id} ${parent.sizes.join('→')}`);
    const label = `model ${m.id} "${m.name}"`;
    return {
      key: `model ${m.id}`,
      label,
      baseModelId: m.parentModelId,
      source: () => ({ kind: 'model', label, tensors: this.store.tensors.get({ modelId: m.id }), rank: DENSE_AMPLIFICATION_RANK }),
      described: { target: t, source: m.kind === 'finetuned' ? 'full' : 'merged', adapterId: null, modelId: m.id, name: m.name, runId: m.sourceRunId, variant: null, r: null, scaling: null },
    };
  }

}

interface Subject {
  /** Identity, to refuse comparing an update with itself. */
  key: string;
  label: string;
  baseModelId: number;
  source: () => UpdateSource;
  described: AnalyzedUpdate;
}
