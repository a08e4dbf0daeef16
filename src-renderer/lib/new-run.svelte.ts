/**
 * The New run form: raw field text in, a RunConfig out, validated live with the
 * engine's own `configIssues` against the chosen data set (so the form and the trainer
 * agree on every rule), the trainable-parameter count from `paramCounts`, presets from
 * the Lab. The data set decides the input and output widths and the classes to pick
 * from; a fine-tune's defaults to its base model's and may be another of the same shape.
 */
import type { DatasetRef, ModelView, Presets, RunDetail } from '../../src-main/contract/api.ts';
import { type NamedData, cloneName, defaultName } from '../../src-main/lab/run-name.ts';
import {
  type FieldIssue, type LoraInit, type LoraScaling, type LoraVariant, type OptimizerName, type RunConfig, type RunKind,
  configIssues, isFineTune, layerNames,
} from '../../src-main/contract/config.ts';
import { type DatasetView, MNIST_DATASET_ID } from '../../src-main/contract/dataset.ts';
import { errorText, lab } from './api.ts';
import { dataCountsOf, dataShapeOf, fitProblem, fitsWidths, widthsFor } from './datasets.ts';
import { FIELD_LABELS, type FieldId, NUMBERS, QUICK_LIMITS, type TextField, parseNumber, parseSizes } from './run-fields.ts';
import { type RunFigures, fieldProblems, runFigures } from './run-figures.ts';

export { FIELD_LABELS, type FieldId, QUICK_LIMITS, type TextField, parseSizes } from './run-fields.ts';

/** The name the Lab gives a run left unnamed (the Lab's own function). */
export const defaultRunName: (cfg: RunConfig, data?: NamedData | null) => string = defaultName;

export class NewRunState {
  /** Raw text of every typed field, bound to the inputs. */
  readonly fields: Record<TextField, string> = $state({
    sizes: '', seed: '', batchSize: '', epochs: '', maxSteps: '', lr: '', trainLimit: '', testLimit: '', evalEvery: '', evalSubset: '',
    'lora.r': '', 'lora.alpha': '', 'lora.loraPlusRatio': '',
  });
  /** What the user typed as the name; null until they type (the default name shows, and follows the config). */
  #typedName = $state<string | null>(null);
  notes = $state('');
  tags = $state<string[]>([]);
  optimizer = $state<OptimizerName>('adam');
  loraInit = $state<LoraInit>('kaiming');
  scaling = $state<LoraScaling>('standard');
  /** LoRA or DoRA (a trained magnitude per output row). */
  variant = $state<LoraVariant>('lora');
  /** LoRA-FA: A stays as initialised, only B (and DoRA's magnitude) trains. */
  freezeA = $state(false);
  /** classes[c]: train on class c of the data set; none ticked means all of them. */
  classes = $state<boolean[]>(new Array(10).fill(false));
  targets = $state<string[]>([]);

  #kind = $state<RunKind>('base');
  #baseModelId = $state<number | null>(null);
  #presets = $state.raw<Presets | null>(null);
  #models = $state.raw<ModelView[]>([]);
  #datasets = $state.raw<DatasetView[]>([]);
  #dataId = $state<number>(MNIST_DATASET_ID);
  #cloneOf = $state.raw<{ id: number; name: string; config: RunConfig; dataset: DatasetRef | null } | null>(null);
  #loadError = $state<string | null>(null);
  #submitError = $state<string | null>(null);
  #busy = $state(false);
  #ready = $state(false);

  get kind(): RunKind { return this.#kind; }
  get baseModelId(): number | null { return this.#baseModelId; }
  get models(): ModelView[] { return this.#models; }
  get baseModel(): ModelView | null { return this.#models.find((m) => m.id === this.#baseModelId) ?? null; }
  get datasets(): DatasetView[] { return this.#datasets; }
  get dataId(): number { return this.#dataId; }
  /** The chosen data set (null while the list is not loaded, or when it is gone). */
  get dataset(): DatasetView | null { return this.#datasets.find((d) => d.id === this.#dataId) ?? null; }
  /** MNIST's classes are its digits, and are called so. */
  get digits(): boolean { return this.#dataId === MNIST_DATASET_ID; }
  /** What the chosen data set's samples are called. */
  get samplesNoun(): 'images' | 'rows' { return this.dataset?.kind === 'table' ? 'rows' : 'images'; }

  /** A field's label, in the chosen data set's words ("Train on digits", "Training rows"). */
  fieldLabel(field: FieldId | 'lora'): string {
    const l = field === 'classes' && this.digits ? 'Train on digits' : FIELD_LABELS[field];
    return this.samplesNoun === 'rows' ? l.replace('images', 'rows') : l;
  }
  get cloneOf(): { id: number; name: string } | null { return this.#cloneOf; }
  /**
   * The name field: what the user typed, else (for a clone) its default name, which
   * follows the edited config ("… (copy)" only while rank, alpha, digits … are the source's).
   */
  get name(): string { return this.#typedName ?? (this.#cloneOf ? this.placeholderName : ''); }
  set name(v: string) { this.#typedName = v; }
  get loadError(): string | null { return this.#loadError; }
  get submitError(): string | null { return this.#submitError; }
  get busy(): boolean { return this.#busy; }
  get ready(): boolean { return this.#ready; }
  get presets(): Presets | null { return this.#presets; }

  /** A LoRA or full fine-tune: it starts from a stored base model (its widths, its data set). */
  get fineTune(): boolean { return isFineTune(this.#kind); }

  /** The sizes the run will have: the base model's for a fine-tune, the typed ones otherwise. */
  readonly #sizes: number[] | null = $derived(isFineTune(this.#kind) ? (this.baseModel?.sizes ?? null) : parseSizes(this.fields.sizes));

  readonly layers: string[] = $derived(this.#sizes ? layerNames(this.#sizes) : []);

  /**
   * Each data set with why it cannot be chosen (null: it can): for a fine-tune, one
   * whose samples or classes do not fit the base model's widths.
   */
  readonly dataChoices: { dataset: DatasetView; problem: string | null }[] = $derived.by(() => {
    const base = isFineTune(this.#kind) ? this.baseModel : null;
    return this.#datasets.map((d) => ({ dataset: d, problem: base ? fitProblem(d, base.sizes) : null }));
  });

  /** A fine-tune on another data set than its base was trained on: that one's name (domain shift). */
  readonly domainShift: string | null = $derived.by(() => {
    const base = isFineTune(this.#kind) ? this.baseModel : null;
    if (!base || base.datasetId === null || base.datasetId === this.#dataId) return null;
    return base.dataset?.name ?? this.#datasets.find((d) => d.id === base.datasetId)?.name ?? `data set ${base.datasetId}`;
  });

  /** The config as typed, and every problem with it. */
  readonly built: { config: RunConfig; issues: FieldIssue[] } = $derived.by(() => {
    const issues: FieldIssue[] = [];
    const fallback = this.#presets?.[this.#kind] ?? null;
    const num = (f: Exclude<TextField, 'sizes'>, dflt: number | null): number | null => {
      const r = parseNumber(this.fields[f], NUMBERS[f]);
      if (r.issue) issues.push({ field: f, message: r.issue });
      return r.issue ? dflt : r.value;
    };
    const data = this.dataset;
    const sizes = this.#sizes ?? (data ? widthsFor(data, fallback?.sizes ?? null) : (fallback?.sizes ?? [784, 10]));
    if (this.#kind === 'base' && !this.#sizes) issues.push({ field: 'sizes', message: `layer widths, e.g. ${(data ? widthsFor(data, null) : [784, 1000, 2000, 10]).join(', ')}` });
    if (!data) issues.push({ field: 'data', message: this.#datasets.length ? 'choose a data set' : 'the data sets could not be loaded' });
    const count = data?.classes.length ?? this.classes.length;
    const picked = this.classes.slice(0, count).flatMap((on, c) => (on ? [c] : []));
    const config: RunConfig = {
      kind: this.#kind,
      data: this.#dataId,
      sizes,
      seed: num('seed', 0) ?? 0,
      batchSize: num('batchSize', 10) ?? 10,
      epochs: num('epochs', 1) ?? 1,
      maxSteps: num('maxSteps', null),
      optimizer: this.optimizer,
      lr: num('lr', 1e-3) ?? 1e-3,
      classes: picked.length === 0 || picked.length === count ? null : picked,
      trainLimit: num('trainLimit', null),
      testLimit: num('testLimit', null),
      evalEvery: num('evalEvery', 0) ?? 0,
      evalSubset: num('evalSubset', 1000) ?? 1000,
      lora:
        this.#kind === 'lora'
          ? {
              r: num('lora.r', 1) ?? 1,
              alpha: num('lora.alpha', 1) ?? 1,
              targets: this.layers.filter((l) => this.targets.includes(l)),
              init: this.loraInit,
              scaling: this.scaling,
              loraPlusRatio: num('lora.loraPlusRatio', 1) ?? 1,
              variant: this.variant,
              freezeA: this.freezeA,
            }
          : null,
    };
    // A fine-tune's widths are its base's: a data set that does not fit is the data set's problem, not the widths'.
    const base = isFineTune(this.#kind) ? this.baseModel : null;
    const misfit = data && base ? fitProblem(data, base.sizes) : null;
    if (misfit) issues.push({ field: 'data', message: `does not fit the base model: ${misfit}` });
    const parsedBad = new Set(issues.map((i) => i.field));
    for (const i of configIssues(config, data && !misfit ? dataShapeOf(data) : null)) if (!parsedBad.has(i.field)) issues.push(i);
    if (isFineTune(this.#kind) && this.#baseModelId === null) issues.push({ field: 'baseModel', message: 'choose the base model to fine-tune' });
    // The typed name only: a default name is short enough by construction (and depends on this config).
    if ((this.#typedName ?? '').trim().length > 200) issues.push({ field: 'name', message: 'at most 200 characters' });
    return { config, issues };
  });

  readonly valid: boolean = $derived(this.built.issues.length === 0);

  /** Every field with a problem, once each: the panel's count and list, and the fields marked. */
  readonly problems: { field: string; message: string }[] = $derived(fieldProblems(this.built.issues));

  /**
   * The side panel's figures (trainable parameters, scaling, images, steps, trainer
   * memory: the Lab refuses runs beyond half the machine's memory), each null while a
   * field it is computed from has a problem.
   */
  readonly figures: RunFigures = $derived(runFigures(this.built.config, this.built.issues, this.dataset ? dataCountsOf(this.dataset) : null));

  /** The name a run left unnamed gets: the Lab's default, or for a clone the source's "(copy)" while the name-giving settings are unchanged. */
  readonly placeholderName: string = $derived(
    this.#cloneOf ? cloneName(this.#cloneOf, this.built.config, this.dataset, this.#cloneOf.dataset) : defaultRunName(this.built.config, this.dataset),
  );

  /**
   * The message beside a field. Shown as soon as there is one: every field starts valid
   * (presets, or the cloned run), so a problem is always one the user's last edit made,
   * possibly in another field (a rank too large for a newly chosen base model).
   */
  issue(field: FieldId): string | null {
    return this.problems.find((p) => p.field === field)?.message ?? null;
  }

  // ── loading ──────────────────────────────────────────────────────────────

  /** `data`: the data set to start on (the Data page's "Train on it"); a clone keeps its source's. */
  async load(opts: { from: number | null; kind: RunKind | null; base: number | null; data?: number | null }): Promise<void> {
    try {
      const [presets, models, list, source] = await Promise.all([
        lab.presets(),
        lab.listModels(),
        lab.listDatasets(),
        opts.from !== null ? lab.getRun(opts.from) : Promise.resolve<RunDetail | null>(null),
      ]);
      this.#presets = presets;
      this.#models = models;
      this.#datasets = list.datasets;
      if (source) {
        this.#kind = source.kind;
        this.#apply(source.config);
        this.#baseModelId = source.baseModelId;
        this.#typedName = null;
        this.tags = [...source.tags];
        this.#cloneOf = { id: source.id, name: source.name, config: source.config, dataset: source.dataset };
      } else {
        const asked = opts.data ?? null;
        const kind = opts.kind ?? (opts.base !== null || (asked === null && models.length > 0) ? 'lora' : 'base');
        this.#kind = kind;
        const start = asked !== null && this.#datasets.some((d) => d.id === asked) ? asked : MNIST_DATASET_ID;
        this.#apply(this.#onData(presets[kind], start));
        if (isFineTune(kind)) this.#pickBase(opts.base);
      }
      this.#ready = true;
    } catch (err) {
      this.#loadError = errorText(err);
    }
  }

  // ── actions ──────────────────────────────────────────────────────────────

  /** Another kind of run, on the same data set (a fine-tune's then follows the base it picks). */
  setKind(kind: RunKind): void {
    if (kind === this.#kind || !this.#presets) return;
    this.#kind = kind;
    this.#apply(this.#onData(this.#presets[kind], this.#dataId));
    if (isFineTune(kind)) this.#pickBase(this.#baseModelId);
  }

  /**
   * One of the Lab's presets: 'base' / 'lora' / 'full' are the engine defaults (kept on the chosen
   * data set), 'classic…' the DESIGN experiment (on MNIST, as it was run).
   */
  applyPreset(which: keyof Presets): void {
    const p = this.#presets?.[which];
    if (!p) return;
    this.#kind = p.kind;
    this.#apply(which === 'base' || which === 'lora' || which === 'full' ? this.#onData(p, this.#dataId) : p);
    if (isFineTune(p.kind)) this.#pickBase(this.#baseModelId);
  }

  /**
   * Train on data set `id`: a base run's input and output widths follow it (the hidden
   * ones are kept), and the classes ticked are cleared when the data set changes.
   */
  setDataset(id: number): void {
    const d = this.#datasets.find((x) => x.id === id);
    if (!d) return;
    if (id !== this.#dataId) this.classes = new Array<boolean>(d.classes.length).fill(false);
    this.#dataId = id;
    if (this.#kind === 'base') this.fields.sizes = widthsFor(d, parseSizes(this.fields.sizes)).join(', ');
  }

  applyQuickLimits(): void {
    Object.assign(this.fields, QUICK_LIMITS);
  }

  /** Fine-tune this model: on the data set it was trained on (it may then be changed to another of the same shape). */
  setBaseModel(id: number | null): void {
    this.#baseModelId = id;
    // Keep the chosen targets that exist in the new model; none left → all layers.
    const layers = this.layers;
    const kept = this.targets.filter((t) => layers.includes(t));
    this.targets = kept.length ? kept : [...layers];
    this.#dataForBase();
  }

  toggleTarget(layer: string): void {
    this.targets = this.targets.includes(layer) ? this.targets.filter((t) => t !== layer) : [...this.targets, layer];
  }

  toggleClass(c: number): void {
    this.classes[c] = !this.classes[c];
  }

  /** Validate, then create the run; resolves to its id, or null (the reason is in the form). */
  async submit(): Promise<number | null> {
    this.#submitError = null;
    if (!this.valid || this.#busy) return null;
    this.#busy = true;
    try {
      const { config } = this.built;
      // Left empty: the default shown (the Lab's own for a new run, the clone's name for a clone).
      const name = this.name.trim() || (this.#cloneOf ? this.placeholderName : '');
      const run = await lab.createRun({
        config,
        ...(name ? { name } : {}),
        ...(isFineTune(config.kind) ? { baseModelId: this.#baseModelId } : {}),
        ...(this.tags.length ? { tags: [...this.tags] } : {}),
        ...(this.notes.trim() ? { notes: this.notes } : {}),
      });
      return run.id;
    } catch (err) {
      this.#submitError = errorText(err);
      return null;
    } finally {
      this.#busy = false;
    }
  }

  #apply(cfg: RunConfig): void {
    const s = (v: number | null) => (v === null ? '' : String(v));
    Object.assign(this.fields, {
      sizes: cfg.sizes.join(', '),
      seed: s(cfg.seed),
      batchSize: s(cfg.batchSize),
      epochs: s(cfg.epochs),
      maxSteps: s(cfg.maxSteps),
      lr: s(cfg.lr),
      trainLimit: s(cfg.trainLimit),
      testLimit: s(cfg.testLimit),
      evalEvery: s(cfg.evalEvery),
      evalSubset: s(cfg.evalSubset),
      'lora.r': s(cfg.lora?.r ?? 1),
      'lora.alpha': s(cfg.lora?.alpha ?? 1),
      'lora.loraPlusRatio': s(cfg.lora?.loraPlusRatio ?? 1),
    });
    this.optimizer = cfg.optimizer;
    this.loraInit = cfg.lora?.init ?? 'kaiming';
    this.scaling = cfg.lora?.scaling ?? 'standard';
    this.variant = cfg.lora?.variant ?? 'lora';
    this.freezeA = cfg.lora?.freezeA ?? false;
    this.#dataId = cfg.data;
    const count = this.#datasets.find((d) => d.id === cfg.data)?.classes.length ?? Math.max(10, ...(cfg.classes ?? []).map((c) => c + 1));
    this.classes = Array.from({ length: count }, (_, c) => cfg.classes?.includes(c) ?? false);
    this.targets = cfg.lora ? [...cfg.lora.targets] : [];
  }

  /** A preset moved onto data set `id`: its widths and (no longer meaningful) classes follow the data set. */
  #onData(cfg: RunConfig, id: number): RunConfig {
    const d = this.#datasets.find((x) => x.id === id);
    if (!d || id === cfg.data) return cfg;
    return { ...cfg, data: id, sizes: widthsFor(d, cfg.sizes), classes: null };
  }

  /**
   * A fine-tune's base: the asked-for model, else the newest trained on the chosen data
   * set with the preset's hidden layers, else the newest on that data set, else the
   * newest with the preset's layers, else the newest. The data set then follows it.
   */
  #pickBase(asked: number | null): void {
    const want = this.#presets?.lora.sizes.join() ?? '';
    const newest = [...this.#models].sort((a, b) => b.createdAt - a.createdAt);
    const onData = newest.filter((m) => m.datasetId === this.#dataId);
    const d = this.dataset;
    const wantHere = d ? widthsFor(d, this.#presets?.lora.sizes ?? null).join() : want;
    const pick =
      this.#models.find((m) => m.id === asked) ??
      onData.find((m) => m.sizes.join() === wantHere) ??
      onData[0] ??
      newest.find((m) => m.sizes.join() === want) ??
      newest[0] ??
      null;
    this.#baseModelId = pick?.id ?? null;
    if (pick) {
      const layers = layerNames(pick.sizes);
      const kept = this.targets.filter((t) => layers.includes(t));
      this.targets = kept.length ? kept : layers;
    }
    this.#dataForBase();
  }

  /** The base model's data set, when it is known; else, if the chosen one does not fit the base, the first that does. */
  #dataForBase(): void {
    const base = this.baseModel;
    if (!base) return;
    const own = base.datasetId !== null ? this.#datasets.find((d) => d.id === base.datasetId) : undefined;
    const current = this.dataset;
    const target = own ?? (current && fitsWidths(current, base.sizes) ? current : this.#datasets.find((d) => fitsWidths(d, base.sizes)));
    if (target) this.setDataset(target.id);
  }
}
