/**
 * The playground's state (issue 16): an adapter and its base fetched once
 * (LabApi.getWeights) and built into a plain-JS Net (forward.ts), the input — a drawing
 * at the data set's image size, or a test sample loaded into it — the adapter scale t,
 * and the three answers (base, adapter at t, merged) with the time their forwards took.
 *
 * Where it runs: in the page. Three forwards of the classic MLP take ~10 ms in plain JS,
 * well under the ~50 ms a stroke may take, with no round trip to the trainer and no
 * TF.js in the page. Changes are coalesced to one computation per animation frame, so a
 * fast stroke costs one set of forwards per frame drawn, not per pointer event.
 */
import type { InputMapping, WeightsView } from '../../src-main/contract/playground.ts';
import { errorText, lab } from './api.ts';
import { Net, type Probabilities, maxAbsDiff, toInput } from './forward.ts';

export const T_MIN = 0;
export const T_MAX = 2;
export const T_STEP = 0.05;

export interface PlaygroundResult extends Probabilities {
  /** The t the adapter panel was computed at. */
  t: number;
  /** max |merged − adapter at t = 1| on this input: what merging loses (float32 rounding). */
  mergeGap: number;
  /** Wall time of the three forwards (base, adapter at t, merged), in ms. */
  ms: number;
}

/** The test sample in the input, and whether it has been drawn over since. */
export interface LoadedSample {
  index: number;
  label: number;
  drawnOver: boolean;
}

export type Phase = 'loading' | 'preparing' | 'ready' | 'failed';

/** What the page shows of the two models (the tensors stay in the Net only). */
export interface Names {
  adapter: string;
  base: string;
  baseId: number;
  variant: 'lora' | 'dora';
  r: number;
  scaling: number;
  sizes: number[];
}

export class PlaygroundState {
  readonly adapterId: number;
  #phase = $state<Phase>('loading');
  #error = $state<string | null>(null);
  #names = $state.raw<Names | null>(null);
  #mapping = $state.raw<InputMapping | null>(null);
  #testCount = $state(0);
  #labels: Uint8Array = new Uint8Array(0);
  #sample = $state.raw<LoadedSample | null>(null);
  #sampleBusy = $state(false);
  #t = $state(1);
  #result = $state.raw<PlaygroundResult | null>(null);
  /** Bumped when the input is replaced (a sample loaded, cleared), so the canvas redraws. */
  #version = $state(0);
  #net: Net | null = null;
  /**
   * The input as stored bytes: an image's HWC values 0–255 (the canvas paints into it in
   * place), or a table row's values. Not reactive: it changes on every pointer move.
   */
  values: Uint8Array | Float64Array = new Uint8Array(0);
  #frame: number | null = null;
  #sampleToken = 0;
  #gone = false;

  constructor(adapterId: number) {
    this.adapterId = adapterId;
  }

  get phase(): Phase { return this.#phase; }
  get error(): string | null { return this.#error; }
  get names(): Names | null { return this.#names; }
  get mapping(): InputMapping | null { return this.#mapping; }
  /** Whether the input is an image one can draw (else only test samples are offered). */
  get drawable(): boolean { return this.#mapping?.kind === 'image'; }
  get testCount(): number { return this.#testCount; }
  get sample(): LoadedSample | null { return this.#sample; }
  get sampleBusy(): boolean { return this.#sampleBusy; }
  get result(): PlaygroundResult | null { return this.#result; }
  get version(): number { return this.#version; }
  get classes(): string[] { return this.#mapping?.classes ?? []; }
  get t(): number { return this.#t; }
  set t(v: number) {
    const t = Math.min(T_MAX, Math.max(T_MIN, Number.isFinite(v) ? v : 1));
    if (t === this.#t) return;
    this.#t = t;
    this.changed();
  }

  async start(): Promise<void> {
    this.#phase = 'loading';
    this.#error = null;
    let adapter: WeightsView;
    let base: WeightsView;
    try {
      adapter = await lab.getWeights({ kind: 'adapter', id: this.adapterId });
      if (!adapter.adapter) throw new Error(`adapter ${this.adapterId} came without its settings`);
      base = await lab.getWeights({ kind: 'model', id: adapter.adapter.baseModelId });
    } catch (err) {
      return this.#fail(errorText(err));
    }
    if (this.#gone) return;
    const mapping = adapter.input ?? base.input;
    if (!mapping) return this.#fail(`the data set of “${base.name}” is not known, so its inputs cannot be fed as the trainer does`);
    const info = adapter.adapter.info;
    this.#names = { adapter: adapter.name, base: base.name, baseId: base.id, variant: info.variant, r: info.r, scaling: info.scaling, sizes: base.sizes };
    this.#mapping = mapping;
    // Building transposes every weight and forms W' (~0.2 s for the classic MLP): let
    // "preparing" paint first.
    this.#phase = 'preparing';
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      this.#net = Net.fromWeights(base, adapter);
      if (this.#net.inputSize !== mapping.shape.reduce((a, b) => a * b, 1)) throw new Error(`the model takes ${this.#net.inputSize} inputs, its data set has ${mapping.shape.join('×')}`);
      this.#labels = await lab.datasetLabels(mapping.datasetId, 'test');
    } catch (err) {
      return this.#fail(errorText(err));
    }
    if (this.#gone) return;
    this.#testCount = this.#labels.length;
    this.values = mapping.kind === 'image' ? new Uint8Array(this.#net.inputSize) : new Float64Array(this.#net.inputSize);
    this.#phase = 'ready';
    // A table row cannot be drawn: start from its first test sample.
    if (mapping.kind !== 'image' && this.#testCount > 0) await this.loadSample(0);
    else this.#compute();
  }

  /** The page went: no frame or answer may land after it. */
  stop(): void {
    this.#gone = true;
    if (this.#frame !== null && typeof cancelAnimationFrame !== 'undefined') cancelAnimationFrame(this.#frame);
    this.#frame = null;
    this.#net = null;
  }

  /** The test sample `index` (clamped to the split) into the input, replacing a drawing. */
  async loadSample(index: number): Promise<void> {
    const m = this.#mapping;
    if (!m || this.#testCount === 0 || !Number.isFinite(index)) return;
    const i = Math.min(this.#testCount - 1, Math.max(0, Math.round(index)));
    const token = ++this.#sampleToken;
    this.#sampleBusy = true;
    try {
      const [s] = await lab.datasetSamples(m.datasetId, 'test', [i]);
      // A later pick (or leaving the page) wins over this one.
      if (token !== this.#sampleToken || this.#gone) return;
      if (!s || s.values.length !== this.values.length) throw new Error(`test sample ${i} has ${s?.values.length ?? 0} values, the model takes ${this.values.length}`);
      this.values.set(s.values);
      this.#sample = { index: i, label: s.label, drawnOver: false };
      this.#error = null;
      this.#version++;
      this.#compute();
    } catch (err) {
      if (token === this.#sampleToken) this.#error = errorText(err);
    } finally {
      if (token === this.#sampleToken) this.#sampleBusy = false;
    }
  }

  /** A blank input (an image's background, 0). */
  clear(): void {
    this.values.fill(0);
    this.#sample = null;
    this.#version++;
    this.changed();
  }

  /** The canvas painted into `values`. */
  drew(): void {
    if (this.#sample && !this.#sample.drawnOver) this.#sample = { ...this.#sample, drawnOver: true };
    this.changed();
  }

  /** The input or t changed: compute once, at the next animation frame. */
  changed(): void {
    if (this.#phase !== 'ready' || this.#frame !== null) return;
    if (typeof requestAnimationFrame === 'undefined') return this.#compute();
    this.#frame = requestAnimationFrame(() => {
      this.#frame = null;
      this.#compute();
    });
  }

  #compute(): void {
    const net = this.#net;
    const m = this.#mapping;
    if (!net || !m || this.#gone) return;
    try {
      const input = toInput(this.values, m);
      const t = this.#t;
      const t0 = performance.now();
      const p = net.probabilities(input, t);
      const ms = performance.now() - t0;
      // The merge check is against the adapter as trained, whatever t shows (outside the timing: it is a check, not a panel).
      const at1 = t === 1 ? p.adapter : net.predict(input, { model: 'adapter', t: 1 });
      this.#result = { ...p, t, mergeGap: maxAbsDiff(p.merged, at1), ms };
    } catch (err) {
      this.#error = errorText(err);
    }
  }

  #fail(message: string): void {
    if (this.#gone) return;
    this.#error = message;
    this.#phase = 'failed';
  }
}
