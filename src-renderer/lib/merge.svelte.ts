/**
 * The Merge page: a base model, adapters trained on it with a weight each, a method and
 * its parameters; previews (base, each adapter alone, the combination) kept in the
 * database (they survive a reload and a restart) so methods can be compared; saving one
 * as a model or an adapter, which the preview then records; deleting one with undo.
 */
import { SvelteSet } from 'svelte/reactivity';
import type { AdapterView, MajoritySignMethod, MergeMethod, MergePreviewView, MergeRequest, ModelView, RunView } from '../../src-main/contract/api.ts';
import type { DatasetView } from '../../src-main/contract/dataset.ts';
import { errorText, lab, onConnection } from './api.ts';
import { classNoun, describeClasses } from './classes.ts';
import { changesWeights } from './events.ts';
import { toasts } from './toasts.svelte.ts';

/** How long a deleted preview can be brought back. */
export const UNDO_MS = 8000;

/** Deletes waiting for their undo window, of every MergeState: closing the page sends them (they were asked for). */
const waiting = new Set<() => void>();
if (typeof window !== 'undefined') window.addEventListener('pagehide', () => [...waiting].forEach((f) => f()));

type Param = 'rank' | 'density' | 'majoritySign' | 'seed';

/**
 * Every method PEFT's add_weighted_adapter accepts, with a one-line hint and the
 * parameters it reads (src-main/weights/merge.ts has the details). `oneRank` marks the
 * factor-wise methods, which need adapters of one rank.
 */
export const METHODS: { method: MergeMethod; hint: string; params: Param[]; oneRank?: true }[] = [
  { method: 'linear', hint: 'weighted sum of the ΔW = scaling·B·A (exact)', params: [] },
  { method: 'cat', hint: 'the same sum, kept as factors: rank Σ r (exact)', params: [] },
  { method: 'svd', hint: 'the weighted sum truncated back to rank k by SVD', params: ['rank'] },
  { method: 'ties', hint: "TIES on the A's and B's: keep the largest, elect signs, average what agrees", params: ['density', 'majoritySign'], oneRank: true },
  { method: 'ties_svd', hint: "TIES on the full ΔW's, then rank k by SVD", params: ['rank', 'density', 'majoritySign'] },
  { method: 'dare_linear', hint: "DARE on the A's and B's: drop at random, rescale the rest, sum (seeded)", params: ['density', 'seed'], oneRank: true },
  { method: 'dare_ties', hint: "DARE on the A's and B's, then TIES' sign election (seeded)", params: ['density', 'majoritySign', 'seed'], oneRank: true },
  { method: 'dare_linear_svd', hint: "DARE on the full ΔW's and sum, then rank k by SVD (seeded)", params: ['rank', 'density', 'seed'] },
  { method: 'dare_ties_svd', hint: "DARE and TIES on the full ΔW's, then rank k by SVD (seeded)", params: ['rank', 'density', 'majoritySign', 'seed'] },
  { method: 'magnitude_prune', hint: "keep the largest values of each A and B, sum", params: ['density'], oneRank: true },
  { method: 'magnitude_prune_svd', hint: "keep the largest values of each ΔW, sum, then rank k by SVD", params: ['rank', 'density'] },
];

/** A kept preview: names at the time of the preview, what was deleted since, what it was saved as. */
export type PreviewEntry = MergePreviewView;

/** "svd, rank 1" — the method with the parameters that matter to it. */
export function describeMethod(r: MergeRequest): string {
  const params = METHODS.find((m) => m.method === r.method)?.params ?? [];
  const p: string[] = [];
  // The *_svd previews are full ΔW; their rank only shapes a saved adapter.
  if (r.method === 'svd') p.push(r.rank === undefined ? 'rank = largest r' : `rank ${r.rank}`);
  else if (params.includes('rank') && r.rank !== undefined) p.push(`rank ${r.rank}`);
  if (params.includes('density')) p.push(`density ${r.density}`);
  if (params.includes('majoritySign')) p.push(`sign ${r.majoritySign ?? 'total'}`);
  if (params.includes('seed')) p.push(`seed ${r.seed ?? 0}`);
  return [r.method, ...p].join(', ');
}

type Field = 'rank' | 'density' | 'seed' | 'testLimit' | `weight-${number}`;

function parseNumber(text: string): number | null {
  const t = text.trim();
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

export class MergeState {
  #models = $state.raw<ModelView[]>([]);
  #adapters = $state.raw<AdapterView[]>([]);
  #runs = $state.raw<RunView[]>([]);
  #datasets = $state.raw<DatasetView[]>([]);
  #loaded = $state(false);
  #loadError = $state<string | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #previews = $state.raw<PreviewEntry[]>([]);
  /** Previews whose delete waits for its undo window to close. */
  readonly #hidden = new SvelteSet<number>();
  readonly #pending = new Map<number, number>();
  #notes = $state.raw<string[]>([]);

  baseModelId = $state<number | null>(null);
  /** Chosen adapters in the order picked, with the weight as typed. */
  picked = $state<{ id: number; weight: string }[]>([]);
  method = $state<MergeMethod>('linear');
  rank = $state('');
  density = $state('0.5');
  majoritySign = $state<MajoritySignMethod>('total');
  seed = $state('0');
  testLimit = $state('');

  /** The base and adapters the address named (#/merge?base=…&adapters=…). */
  readonly initial: { base: number | null; adapters: number[] };

  constructor(initial: { base: number | null; adapters: number[] }) {
    this.initial = initial;
  }

  get models(): ModelView[] { return this.#models; }
  get loaded(): boolean { return this.#loaded; }
  get loadError(): string | null { return this.#loadError; }
  get busy(): boolean { return this.#busy; }
  get error(): string | null { return this.#error; }
  /** Kept previews, newest first (those being deleted left out). */
  get history(): PreviewEntry[] { return this.#previews.filter((p) => !this.#hidden.has(p.id)); }
  /** Why adapters named in the address were left out. */
  get notes(): string[] { return this.#notes; }

  readonly baseModel: ModelView | null = $derived(this.#models.find((m) => m.id === this.baseModelId) ?? null);
  /** Test samples of the base model's data set: what a preview evaluates on unless limited (null while unknown). */
  readonly testCount: number | null = $derived.by(() => {
    const id = this.baseModel?.datasetId;
    return id === null || id === undefined ? null : (this.#datasets.find((d) => d.id === id)?.test.count ?? null);
  });
  /** "digit" for an MNIST base, else "class". */
  readonly noun: string = $derived(classNoun(this.baseModel?.dataset ?? null));
  /** Adapters trained on the chosen base: the only ones that can combine on it. */
  readonly candidates: AdapterView[] = $derived(this.#adapters.filter((a) => a.baseModelId === this.baseModelId));
  readonly params: Param[] = $derived(METHODS.find((m) => m.method === this.method)?.params ?? []);

  adapterName(id: number): string {
    return this.#adapters.find((a) => a.id === id)?.name ?? `adapter #${id}`;
  }

  /** What the adapter was fine-tuned on, from its run: "digit 7", "digits 3, 8", "Trouser, Bag", "all classes". */
  trainedOn(a: AdapterView): string | null {
    const run = a.runId === null ? null : this.#runs.find((r) => r.id === a.runId);
    if (!run) return null;
    const on = run.focusClasses ? describeClasses(run.dataset, run.focusClasses) : `all ${classNoun(run.dataset, true)}`;
    return run.baseDataset && run.dataset ? `${on} of ${run.dataset.name}` : on;
  }

  readonly issues: Partial<Record<Field, string>> = $derived.by(() => {
    const out: Partial<Record<Field, string>> = {};
    for (const p of this.picked) {
      const w = parseNumber(p.weight);
      if (w === null) out[`weight-${p.id}`] = 'a number, e.g. 1 or 0.5';
      else if (w < -100 || w > 100) out[`weight-${p.id}`] = 'between -100 and 100';
    }
    const params = this.params;
    if (params.includes('rank') && this.rank.trim() !== '') {
      const r = parseNumber(this.rank);
      if (r === null || !Number.isInteger(r) || r < 1 || r > 4096) out.rank = 'a whole number from 1 to 4096, or empty';
    }
    if (params.includes('density')) {
      const d = parseNumber(this.density);
      if (d === null || d < 0 || d > 1) out.density = 'a fraction from 0 to 1';
    }
    if (params.includes('seed')) {
      const s = parseNumber(this.seed);
      if (s === null || !Number.isInteger(s) || s < 0 || s > 0xffffffff) out.seed = 'a whole number ≥ 0';
    }
    if (this.testLimit.trim() !== '') {
      const t = parseNumber(this.testLimit);
      const max = this.testCount;
      if (t === null || !Number.isInteger(t) || t < 1 || (max !== null && t > max)) {
        out.testLimit = max === null ? 'a whole number from 1, or empty' : `a whole number from 1 to ${max.toLocaleString('en-US')}, or empty`;
      }
    }
    return out;
  });

  /** The request the form describes, or null while something is missing or wrong. */
  readonly request: MergeRequest | null = $derived.by(() => {
    if (this.baseModelId === null || this.picked.length === 0 || Object.keys(this.issues).length || this.methodIssue) return null;
    const params = this.params;
    const num = (s: string) => parseNumber(s) as number;
    return {
      baseModelId: this.baseModelId,
      adapters: this.picked.map((p) => ({ adapterId: p.id, weight: num(p.weight) })),
      method: this.method,
      ...(params.includes('rank') && this.rank.trim() !== '' ? { rank: num(this.rank) } : {}),
      ...(params.includes('density') ? { density: num(this.density) } : {}),
      ...(params.includes('majoritySign') ? { majoritySign: this.majoritySign } : {}),
      ...(params.includes('seed') ? { seed: num(this.seed) } : {}),
      testLimit: this.testLimit.trim() === '' ? null : num(this.testLimit),
    };
  });

  /**
   * Why the chosen method cannot combine the ticked adapters (the Lab refuses the same,
   * with the same reasons): mixed ranks for a factor-wise method, a DoRA adapter in a
   * combination, at a weight other than 1 or with a method that changes its ΔW.
   */
  readonly methodIssue: string | null = $derived.by(() => {
    const picked = this.picked.map((p) => ({ p, a: this.#adapters.find((a) => a.id === p.id) })).filter((x) => x.a !== undefined) as { p: { id: number; weight: string }; a: AdapterView }[];
    const dora = picked.find((x) => x.a.info.variant === 'dora');
    if (dora) {
      const name = `“${dora.a.name}” is a DoRA adapter`;
      const why = 'its magnitude rescales whole rows, so DoRA results do not add or scale like ΔW’s';
      if (picked.length > 1) return `${name}: it merges into its base only alone (${why}).`;
      if (parseNumber(dora.p.weight) !== 1) return `${name}: it merges only with weight 1 (${why}).`;
      if (this.method !== 'linear' && this.method !== 'cat') return `${name}: it merges as itself, with linear or cat.`;
      return null;
    }
    if (METHODS.find((m) => m.method === this.method)?.oneRank) {
      const ranks = [...new Set(picked.map((x) => x.a.info.r))];
      if (ranks.length > 1) return `${this.method} combines the A’s and B’s separately, which needs one rank (these have r ${ranks.join(', ')}): use ${this.method}_svd.`;
    }
    return null;
  });

  /** Why Preview is not possible yet, in words. */
  readonly blocker: string | null = $derived(
    this.baseModelId === null
      ? 'Choose a base model.'
      : this.picked.length === 0
        ? 'Tick at least one adapter.'
        : Object.keys(this.issues).length
          ? 'Fix the marked fields.'
          : this.methodIssue,
  );

  start(): () => void {
    const off = lab.subscribe((e) => {
      if (changesWeights(e)) {
        void this.load();
      }
    });
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.load();
    });
    void this.load().then(() => this.#applyInitial());
    return () => {
      off();
      offConn();
    };
  }

  async load(): Promise<void> {
    try {
      const [models, adapters, runs, previews, datasets] = await Promise.all([
        lab.listModels(),
        lab.listAdapters(),
        lab.listRuns(),
        lab.listMergePreviews(),
        lab.listDatasets(),
      ]);
      this.#models = models;
      this.#datasets = datasets.datasets;
      this.#adapters = adapters;
      this.#runs = runs;
      this.#previews = previews;
      this.#loadError = null;
      // A chosen adapter that was deleted meanwhile drops out of the form.
      this.picked = this.picked.filter((p) => adapters.some((a) => a.id === p.id));
    } catch (err) {
      this.#loadError = errorText(err);
    } finally {
      this.#loaded = true;
    }
  }

  /** The address may name a base and adapters; those trained on another model are explained, not used. */
  #applyInitial(): void {
    const { base, adapters } = this.initial;
    const last = this.history[0];
    if (base === null && adapters.length === 0 && last && this.#models.some((m) => m.id === last.request.baseModelId)) {
      this.#restore(last.request);
      return;
    }
    const notes: string[] = [];
    let baseId = base !== null && this.#models.some((m) => m.id === base) ? base : null;
    if (base !== null && baseId === null) notes.push(`model ${base} does not exist.`);
    const named = adapters.map((id) => this.#adapters.find((a) => a.id === id) ?? id);
    if (baseId === null) {
      const first = named.find((a) => typeof a !== 'number');
      baseId = typeof first === 'object' ? first.baseModelId : null;
    }
    if (baseId === null && this.#models.length > 0) {
      // The most recent model with adapters on it, else the most recent model.
      const withAdapters = [...this.#models].sort((a, b) => b.createdAt - a.createdAt).find((m) => this.#adapters.some((a) => a.baseModelId === m.id));
      baseId = withAdapters?.id ?? null;
    }
    this.baseModelId = baseId;
    for (const a of named) {
      if (typeof a === 'number') notes.push(`adapter ${a} does not exist.`);
      else if (a.baseModelId !== baseId) notes.push(`adapter ${a.id} “${a.name}” was trained on model ${a.baseModelId}, not on model ${baseId}: left out.`);
      else this.picked.push({ id: a.id, weight: '1' });
    }
    this.#notes = notes;
  }

  /** Back on the page: the form as it was for the newest preview. */
  #restore(r: MergeRequest): void {
    this.baseModelId = r.baseModelId;
    this.picked = r.adapters.filter((a) => this.#adapters.some((x) => x.id === a.adapterId)).map((a) => ({ id: a.adapterId, weight: String(a.weight) }));
    // Kept previews come in today's names (store/merge-previews.ts reads old ones so).
    this.method = r.method === 'dare' ? 'dare_linear_svd' : r.method;
    if (r.rank !== undefined) this.rank = String(r.rank);
    if (r.density !== undefined) this.density = String(r.density);
    if (r.majoritySign !== undefined) this.majoritySign = r.majoritySign;
    if (r.seed !== undefined) this.seed = String(r.seed);
    this.testLimit = r.testLimit === null || r.testLimit === undefined ? '' : String(r.testLimit);
  }

  setBase(id: number | null): void {
    if (id === this.baseModelId) return;
    this.baseModelId = id;
    this.picked = [];
    this.#error = null;
  }

  isPicked(id: number): boolean {
    return this.picked.some((p) => p.id === id);
  }

  toggle(id: number): void {
    if (this.isPicked(id)) this.picked = this.picked.filter((p) => p.id !== id);
    else this.picked.push({ id, weight: '1' });
  }

  setWeight(id: number, weight: string): void {
    const p = this.picked.find((x) => x.id === id);
    if (p) p.weight = weight;
  }

  async preview(): Promise<void> {
    const req = this.request;
    if (!req || this.#busy) return;
    this.#busy = true;
    this.#error = null;
    try {
      const entry = await lab.keepMergePreview(req);
      this.#previews = [entry, ...this.#previews.filter((p) => p.id !== entry.id)];
    } catch (err) {
      this.#error = errorText(err);
    } finally {
      this.#busy = false;
    }
  }

  /** Hide the preview now and delete it when the undo window closes (Undo brings it back). */
  forget(id: number, onundo?: () => void): void {
    if (this.#hidden.has(id)) return;
    this.#hidden.add(id);
    let toastId = 0;
    toastId = toasts.show(`Deleted preview #${id}.`, {
      timeoutMs: UNDO_MS,
      action: {
        label: 'Undo',
        run: () => {
          this.#pending.delete(toastId);
          if (this.#pending.size === 0) waiting.delete(this.#flushAll);
          toasts.dismiss(toastId);
          this.#hidden.delete(id);
          onundo?.();
        },
      },
      onExpire: () => void this.#commit(toastId),
    });
    this.#pending.set(toastId, id);
    waiting.add(this.#flushAll);
  }

  async #commit(toastId: number): Promise<void> {
    const id = this.#pending.get(toastId);
    this.#pending.delete(toastId);
    if (this.#pending.size === 0) waiting.delete(this.#flushAll);
    if (id === undefined) return;
    try {
      await lab.deleteMergePreview(id);
      this.#previews = this.#previews.filter((p) => p.id !== id);
    } catch (err) {
      toasts.error(`Could not delete preview #${id}: ${errorText(err)}`);
    } finally {
      this.#hidden.delete(id);
    }
  }

  readonly #flushAll = (): void => {
    for (const toastId of [...this.#pending.keys()]) {
      toasts.dismiss(toastId);
      void this.#commit(toastId);
    }
  };

  /** Store what a preview showed, as a merged model or as a new adapter on the same base; the preview records it. */
  async save(entry: PreviewEntry, name: string, output: 'model' | 'adapter'): Promise<ModelView | AdapterView> {
    const { preview, saved } = await lab.saveMergePreview(entry.id, name, output);
    this.#previews = this.#previews.map((p) => (p.id === preview.id ? preview : p));
    return saved;
  }
}
