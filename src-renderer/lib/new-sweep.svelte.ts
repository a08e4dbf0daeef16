/**
 * The New sweep form: a starting point (fine-tunes of a stored model, base trainings,
 * or clones of a run), its starting config edited in a compact set of fields (checked
 * with the engine's configIssues on the data set's shape), axes over the config's
 * scalar paths, seeds, budget, concurrency, ASHA pruning and a name; the live count of
 * runs; the spec the Lab gets. What only the Lab can judge (each point's config, the
 * prune metric) comes back from createSweep as one message, shown in the form.
 */
import type { ModelView, Presets, RunDetail, RunView } from '../../src-main/contract/api.ts';
import { type FieldIssue, type RunConfig, type RunKind, configIssues, layerNames } from '../../src-main/contract/config.ts';
import type { DatasetView } from '../../src-main/contract/dataset.ts';
import type { SweepAxis, SweepSpec } from '../../src-main/contract/sweep.ts';
import { errorText, lab } from './api.ts';
import { dataShapeOf } from './datasets.ts';
import { NUMBERS, parseNumber, parseSizes } from './run-fields.ts';
import { type AxisDraft, type AxisMode, type ConfigPath, type RunCount, buildAxis, configPaths, countRuns } from './sweep-axes.ts';

export type StartKind = 'finetune' | 'base' | 'run';

/** The starting config's fields the form offers (the rest stay the preset's or the run's). */
export const CONFIG_FIELDS = ['lr', 'lora.r', 'lora.alpha', 'maxSteps', 'batchSize', 'evalEvery', 'trainLimit', 'testLimit'] as const;
export type ConfigField = (typeof CONFIG_FIELDS)[number] | 'sizes' | 'classes';

export const PRUNE_METRICS = ['val/accuracy', 'val/loss', 'train/loss'] as const;

/** The kinds of run a sweep varies: full fine-tunes are not swept by the Lab (yet). */
const sweepable = (kind: RunKind): boolean => kind === 'base' || kind === 'lora';

const text = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));

export class NewSweepState {
  start = $state<StartKind>('finetune');
  baseModelId = $state<number | null>(null);
  runId = $state<number | null>(null);
  /** Raw text of the compact config fields. */
  readonly fields: Record<ConfigField, string> = $state({ lr: '', 'lora.r': '', 'lora.alpha': '', maxSteps: '', batchSize: '', evalEvery: '', trainLimit: '', testLimit: '', sizes: '', classes: '' });
  axes = $state<AxisDraft[]>([]);
  trials = $state('');
  seeds = $state('3');
  budget = $state('');
  concurrency = $state('1');
  prune = $state(false);
  pruneMetric = $state<string>('val/accuracy');
  pruneEta = $state('3');
  name = $state('');

  #presets = $state.raw<Presets | null>(null);
  #models = $state.raw<ModelView[]>([]);
  #runs = $state.raw<RunView[]>([]);
  #datasets = $state.raw<DatasetView[]>([]);
  #source = $state.raw<RunDetail | null>(null);
  #loadError = $state<string | null>(null);
  #submitError = $state<string | null>(null);
  #refused = $state<string | null>(null);
  #busy = $state(false);
  #ready = $state(false);

  get models(): ModelView[] { return this.#models; }
  /** The runs a sweep can start from: base and LoRA runs (the Lab sweeps no full fine-tunes yet). */
  get runs(): RunView[] { return this.#runs.filter((r) => sweepable(r.kind)); }
  get loadError(): string | null { return this.#loadError; }
  /** The Lab's refusal, while the spec is the one it refused (an edit may have fixed it). */
  get submitError(): string | null { return this.#submitError !== null && this.#refused === JSON.stringify(this.spec) ? this.#submitError : null; }
  get busy(): boolean { return this.#busy; }
  get ready(): boolean { return this.#ready; }
  get source(): RunDetail | null { return this.#source; }
  get baseModel(): ModelView | null { return this.#models.find((m) => m.id === this.baseModelId) ?? null; }

  /** The starting config before the form's fields: the preset on the chosen model, the base preset, or the run's own. */
  readonly startConfig: RunConfig | null = $derived.by(() => {
    const p = this.#presets;
    if (!p) return null;
    if (this.start === 'run') return this.#source && sweepable(this.#source.kind) ? this.#source.config : null;
    if (this.start === 'base') return p.base;
    const m = this.baseModel;
    if (!m) return null;
    const sizes = [...m.sizes];
    return { ...p.lora, sizes, data: m.datasetId ?? p.lora.data, lora: { ...(p.lora.lora ?? { r: 1, alpha: 1, init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false, targets: [] }), targets: layerNames(sizes) } };
  });

  /** What the sweep's runs are: a start config is only ever a base or a LoRA one (see startConfig). */
  readonly kind: 'base' | 'lora' = $derived((this.startConfig?.kind ?? (this.start === 'base' ? 'base' : 'lora')) === 'base' ? 'base' : 'lora');

  /** The starting config with the fields applied, and every problem with it. */
  readonly built: { config: RunConfig | null; issues: FieldIssue[] } = $derived.by(() => {
    const issues: FieldIssue[] = [];
    const c = this.startConfig;
    if (!c) {
      const what = this.start === 'finetune' ? 'baseModel' : this.start === 'run' ? 'run' : 'start';
      const message =
        this.start === 'finetune'
          ? 'choose the model to fine-tune'
          : this.start === 'run'
            ? this.#source && !sweepable(this.#source.kind)
              ? `“${this.#source.name}” is a full fine-tune: sweeps start from base or LoRA runs only (for now)`
              : 'choose the run to start from'
            : 'loading…';
      return { config: null, issues: [{ field: what, message }] };
    }
    const num = (f: (typeof CONFIG_FIELDS)[number], dflt: number | null): number | null => {
      const r = parseNumber(this.fields[f], NUMBERS[f]);
      if (r.issue) issues.push({ field: f, message: r.issue });
      return r.issue ? dflt : r.value;
    };
    const cfg: RunConfig = structuredClone($state.snapshot(c) as RunConfig);
    cfg.lr = num('lr', c.lr) ?? c.lr;
    cfg.maxSteps = num('maxSteps', c.maxSteps);
    cfg.batchSize = num('batchSize', c.batchSize) ?? c.batchSize;
    cfg.evalEvery = num('evalEvery', c.evalEvery) ?? c.evalEvery;
    cfg.trainLimit = num('trainLimit', c.trainLimit);
    cfg.testLimit = num('testLimit', c.testLimit);
    if (cfg.lora) {
      cfg.lora.r = num('lora.r', cfg.lora.r) ?? cfg.lora.r;
      cfg.lora.alpha = num('lora.alpha', cfg.lora.alpha) ?? cfg.lora.alpha;
    }
    if (cfg.kind === 'base') {
      const sizes = parseSizes(this.fields.sizes);
      if (sizes) cfg.sizes = sizes;
      else issues.push({ field: 'sizes', message: 'layer widths, e.g. 784, 100, 10' });
    }
    const cls = this.fields.classes.trim();
    if (cls === '') cfg.classes = null;
    else {
      const nums = cls.split(',').map((s) => Number(s.trim()));
      if (nums.some((n) => !Number.isInteger(n))) issues.push({ field: 'classes', message: 'class indices like 7 or 3, 8 (empty: all)' });
      else cfg.classes = nums;
    }
    const data = this.#datasets.find((d) => d.id === cfg.data);
    const seen = new Set(issues.map((i) => i.field));
    for (const i of configIssues(cfg, data ? dataShapeOf(data) : null)) if (!seen.has(i.field)) issues.push(i);
    return { config: cfg, issues };
  });

  /** The paths an axis may sweep. */
  readonly paths: ConfigPath[] = $derived(this.built.config ? configPaths(this.built.config) : []);

  readonly builtAxes: { axis: SweepAxis | null; issue: string | null }[] = $derived(this.axes.map((d) => buildAxis(d, this.paths)));
  readonly hasRandom: boolean = $derived(this.axes.some((a) => a.mode !== 'grid'));

  /** Seeds, trials, budget, concurrency, eta parsed; a problem each. */
  readonly numbers = $derived.by(() => {
    const issues: FieldIssue[] = [];
    const int = (field: string, t: string, min: number, max: number, nullable: boolean): number | null => {
      const s = t.trim();
      if (s === '' && nullable) return null;
      const n = Number(s);
      if (s === '' || !Number.isInteger(n) || n < min || n > max) {
        issues.push({ field, message: `a whole number from ${min} to ${max}${nullable ? ' (empty: none)' : ''}` });
        return null;
      }
      return n;
    };
    const seeds = int('seeds', this.seeds, 1, 100, false) ?? 1;
    const trials = this.hasRandom ? int('trials', this.trials, 1, 10_000, true) : null;
    const budget = int('budget', this.budget, 1, 100_000, true);
    const concurrency = int('concurrency', this.concurrency, 1, 64, false) ?? 1;
    const eta = this.prune ? (int('pruneEta', this.pruneEta, 2, 16, false) ?? 3) : 3;
    return { seeds, trials, budget, concurrency, eta, issues };
  });

  readonly count: RunCount = $derived(
    countRuns({ axes: this.builtAxes.flatMap((b) => (b.axis ? [b.axis] : [])), trials: this.numbers.trials, seeds: this.numbers.seeds, budget: this.numbers.budget }),
  );

  /** Every problem the form can see, once per field (axes as `axis-N`). */
  readonly problems: FieldIssue[] = $derived([
    ...this.built.issues,
    ...this.builtAxes.flatMap((b, i) => (b.issue ? [{ field: `axis-${i}`, message: b.issue }] : [])),
    ...this.numbers.issues,
    ...(this.count.points === 0 && this.numbers.budget !== null ? [{ field: 'budget', message: `a budget below one point (${this.numbers.seeds} runs)` }] : []),
  ]);

  readonly valid: boolean = $derived(this.problems.length === 0);

  issue(field: string): string | null {
    return this.problems.find((p) => p.field === field)?.message ?? null;
  }

  readonly spec: SweepSpec | null = $derived.by(() => {
    const cfg = this.built.config;
    if (!cfg) return null;
    const n = this.numbers;
    const start: SweepSpec['start'] =
      this.start === 'finetune' ? { kind: 'finetune', baseModelId: this.baseModelId ?? 0 } : this.start === 'run' ? { kind: 'run', runId: this.runId ?? 0 } : { kind: 'base' };
    return {
      ...(this.name.trim() ? { name: this.name.trim() } : {}),
      start,
      config: cfg,
      axes: this.builtAxes.flatMap((b) => (b.axis ? [b.axis] : [])),
      ...(n.trials !== null ? { trials: n.trials } : {}),
      seeds: n.seeds,
      ...(n.budget !== null ? { budget: n.budget } : {}),
      concurrency: n.concurrency,
      ...(this.prune ? { prune: { kind: 'asha' as const, metric: this.pruneMetric, eta: n.eta } } : {}),
    };
  });

  // ── loading ──────────────────────────────────────────────────────────────

  async load(opts: { from: number | null; base: number | null }): Promise<void> {
    try {
      const [presets, models, runs, list, source] = await Promise.all([
        lab.presets(),
        lab.listModels(),
        lab.listRuns({}),
        lab.listDatasets(),
        opts.from !== null ? lab.getRun(opts.from) : Promise.resolve(null),
      ]);
      this.#presets = presets;
      this.#models = models;
      this.#runs = runs;
      this.#datasets = list.datasets;
      if (source) {
        this.#source = source;
        this.runId = source.id;
        this.start = 'run';
      } else {
        const newest = [...models].sort((a, b) => b.createdAt - a.createdAt)[0];
        this.baseModelId = models.find((m) => m.id === opts.base)?.id ?? newest?.id ?? null;
        this.start = this.baseModelId !== null ? 'finetune' : 'base';
      }
      this.#fill();
      this.#ready = true;
    } catch (err) {
      this.#loadError = errorText(err);
    }
  }

  // ── actions ──────────────────────────────────────────────────────────────

  setStart(kind: StartKind): void {
    this.start = kind;
    this.#fill();
  }

  setBaseModel(id: number | null): void {
    this.baseModelId = id;
    this.#fill();
  }

  async setRun(id: number | null): Promise<void> {
    this.runId = id;
    this.#source = null;
    if (id === null) return;
    try {
      this.#source = await lab.getRun(id);
      this.#fill();
    } catch (err) {
      this.#submitError = errorText(err);
      this.#refused = JSON.stringify(this.spec);
    }
  }

  addAxis(path?: string): void {
    const taken = new Set(this.axes.map((a) => a.path));
    const p = this.paths.find((x) => x.path === path) ?? this.paths.find((x) => !taken.has(x.path) && (x.path === 'lora.r' || x.path === 'lr')) ?? this.paths.find((x) => !taken.has(x.path));
    this.axes.push({ path: p?.path ?? '', mode: 'grid', values: '', min: '', max: '' });
  }

  removeAxis(i: number): void {
    this.axes.splice(i, 1);
  }

  setAxisMode(i: number, mode: AxisMode): void {
    const a = this.axes[i];
    if (a) a.mode = mode;
  }

  /** Validate, then create the sweep; its id, or null (the reason is in the form). */
  async submit(): Promise<number | null> {
    this.#submitError = null;
    const spec = this.spec;
    if (!this.valid || !spec || this.#busy) return null;
    this.#busy = true;
    try {
      return (await lab.createSweep(spec)).id;
    } catch (err) {
      this.#submitError = errorText(err);
      this.#refused = JSON.stringify(spec);
      return null;
    } finally {
      this.#busy = false;
    }
  }

  /** The fields from the starting config (a new starting point starts from its own values). */
  #fill(): void {
    const c = this.startConfig;
    if (!c) return;
    Object.assign(this.fields, {
      lr: text(c.lr),
      'lora.r': text(c.lora?.r),
      'lora.alpha': text(c.lora?.alpha),
      maxSteps: text(c.maxSteps),
      batchSize: text(c.batchSize),
      evalEvery: text(c.evalEvery),
      trainLimit: text(c.trainLimit),
      testLimit: text(c.testLimit),
      sizes: c.sizes.join(', '),
      classes: (c.classes ?? []).join(', '),
    });
  }
}
