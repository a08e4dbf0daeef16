/**
 * The Adapter page's state: the adapter, the adapters it can be compared with (same
 * base), the intruder settings, and the analysis (LabApi.analyzeAdapter) with whether
 * it is being computed and what went wrong. Settings are a form: analyse() applies them.
 */
import type { AdapterAnalysis } from '../../src-main/contract/analysis.ts';
import { INTRUDER_LIMITS } from '../../src-main/contract/analysis.ts';
import type { AdapterView } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';

export class AdapterAnalysisState {
  readonly id: number;
  #vs = $state<number | null>(null);
  #adapters = $state.raw<AdapterView[]>([]);
  #analysis = $state.raw<AdapterAnalysis | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #started = $state<number | null>(null);
  /** The form's values (strings as typed; checked by `settingsProblem`). */
  k = $state(String(INTRUDER_LIMITS.defaultK));
  epsilon = $state(String(INTRUDER_LIMITS.defaultEpsilon));
  intruders = $state(true);

  constructor(id: number, vs: number | null) {
    this.id = id;
    this.#vs = vs;
  }

  get vs(): number | null { return this.#vs; }
  get analysis(): AdapterAnalysis | null { return this.#analysis; }
  get busy(): boolean { return this.#busy; }
  get error(): string | null { return this.#error; }
  /** When the running analysis started (ms), for an elapsed-time line. */
  get started(): number | null { return this.#started; }
  get adapter(): AdapterView | null { return this.#adapters.find((a) => a.id === this.id) ?? null; }
  /** Other adapters on the same base: what φ can compare against. */
  get comparable(): AdapterView[] {
    const me = this.adapter;
    return me ? this.#adapters.filter((a) => a.id !== me.id && a.baseModelId === me.baseModelId) : [];
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
      this.#adapters = await lab.listAdapters();
    } catch (err) {
      this.#error = errorText(err);
      return;
    }
    if (!this.adapter) {
      this.#error = `adapter ${this.id} does not exist (it may have been deleted)`;
      return;
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
        target: { kind: 'adapter', id: this.id },
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
