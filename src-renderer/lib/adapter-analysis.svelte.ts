/**
 * The update page's state: what is analysed (an adapter's ΔW, or a model's W − W0
 * against its parent: a full fine-tune's or a merge's), the adapters it can be compared
 * with (on the same base), the intruder settings, and the analysis
 * (LabApi.analyzeAdapter) with whether it is being computed and what went wrong.
 * Settings are a form: analyse() applies them.
 */
import type { AdapterAnalysis } from '../../src-main/contract/analysis.ts';
import { INTRUDER_LIMITS } from '../../src-main/contract/analysis.ts';
import type { AdapterView, ModelView } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';
import type { UpdateTarget } from './router.svelte.ts';

export class AdapterAnalysisState {
  readonly target: UpdateTarget;
  #vs = $state<number | null>(null);
  #adapters = $state.raw<AdapterView[]>([]);
  #models = $state.raw<ModelView[]>([]);
  #analysis = $state.raw<AdapterAnalysis | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #started = $state<number | null>(null);
  /** The form's values (strings as typed; checked by `settingsProblem`). */
  k = $state(String(INTRUDER_LIMITS.defaultK));
  epsilon = $state(String(INTRUDER_LIMITS.defaultEpsilon));
  intruders = $state(true);

  /** `vs`: an adapter on the same base, whatever the target (the address keeps it simple). */
  constructor(target: UpdateTarget, vs: number | null) {
    this.target = { ...target };
    this.#vs = vs;
  }

  get vs(): number | null { return this.#vs; }
  get analysis(): AdapterAnalysis | null { return this.#analysis; }
  get busy(): boolean { return this.#busy; }
  get error(): string | null { return this.#error; }
  /** When the running analysis started (ms), for an elapsed-time line. */
  get started(): number | null { return this.#started; }
  /** The adapter analysed (null for a model target, or before loading). */
  get adapter(): AdapterView | null { return this.target.kind === 'adapter' ? (this.#adapters.find((a) => a.id === this.target.id) ?? null) : null; }
  /** The model analysed (null for an adapter target, or before loading). */
  get model(): ModelView | null { return this.target.kind === 'model' ? (this.#models.find((m) => m.id === this.target.id) ?? null) : null; }
  /** The model the update is taken against: the adapter's base, or the model's parent. */
  get baseModelId(): number | null { return this.adapter?.baseModelId ?? this.model?.parentModelId ?? null; }
  /** The run that made it (an adapter's LoRA run, a full fine-tune's run), when known. */
  get runId(): number | null {
    if (this.adapter) return this.adapter.runId;
    // A merged model's source run is the LoRA run whose adapter went in: not "its run".
    return this.model?.kind === 'finetuned' ? this.model.sourceRunId : null;
  }
  /** Other adapters on the same base: what φ can compare against. */
  get comparable(): AdapterView[] {
    const base = this.baseModelId;
    if (base === null) return [];
    return this.#adapters.filter((a) => a.baseModelId === base && !(this.target.kind === 'adapter' && a.id === this.target.id));
  }

  /** What is wrong with the intruder settings as typed, or null. */
  get settingsProblem(): string | null {
    if (!this.intruders) return null;
    const k = Number(this.k);
    const eps = Number(this.epsilon);
    if (!Number.isInteger(k) || k < 1 || k > INTRUDER_LIMITS.maxK) return `k is a whole number from 1 to ${INTRUDER_LIMITS.maxK}`;
    if (!(eps > 0 && eps <= 1)) return 'ε is a cosine above 0 and at most 1';
    return null;
  }

  async start(): Promise<void> {
    try {
      // The models only for a model target: the adapters are needed either way (φ).
      const [adapters, models] = await Promise.all([lab.listAdapters(), this.target.kind === 'model' ? lab.listModels() : Promise.resolve<ModelView[]>([])]);
      this.#adapters = adapters;
      this.#models = models;
    } catch (err) {
      this.#error = errorText(err);
      return;
    }
    if (this.target.kind === 'adapter' && !this.adapter) {
      this.#error = `adapter ${this.target.id} does not exist (it may have been deleted)`;
      return;
    }
    if (this.target.kind === 'model') {
      const m = this.model;
      if (!m) {
        this.#error = `model ${this.target.id} does not exist (it may have been deleted)`;
        return;
      }
      // Said here rather than as the Lab's refusal: a model trained from scratch has no W0.
      if (m.parentModelId === null) {
        this.#error = `“${m.name}” is a ${m.kind} model without a parent model: there is no W0 to take its update against`;
        return;
      }
    }
    if (this.#vs !== null && !this.comparable.some((a) => a.id === this.#vs)) this.#vs = null;
    await this.analyse();
  }

  setVs(vs: number | null): void {
    this.#vs = vs;
  }

  async analyse(): Promise<void> {
    if (this.#busy || this.settingsProblem) return;
    this.#busy = true;
    this.#started = Date.now();
    this.#error = null;
    try {
      this.#analysis = await lab.analyzeAdapter({
        target: { kind: this.target.kind, id: this.target.id },
        ...(this.#vs !== null ? { vs: { kind: 'adapter', id: this.#vs } } : {}),
        intruders: this.intruders ? { k: Number(this.k), epsilon: Number(this.epsilon) } : false,
      });
    } catch (err) {
      this.#error = errorText(err);
    } finally {
      this.#busy = false;
      this.#started = null;
    }
  }
}
