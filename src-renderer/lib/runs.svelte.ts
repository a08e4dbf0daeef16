/**
 * The Runs page's state: the filtered list (filters run on the Lab, sorting here), the
 * selection for Compare, and live updates from run and progress events.
 */
import { SvelteSet } from 'svelte/reactivity';
import type { LabEvent, ModelView, RunFilter, RunStatus, RunView } from '../../src-main/contract/api.ts';
import type { RunKind } from '../../src-main/contract/config.ts';
import { errorText, lab, onConnection } from './api.ts';
import { Coalesced } from './coalesce.ts';
import { pendingDeletes } from './deletes.svelte.ts';

export type SortKey =
  | 'name' | 'kind' | 'dataset' | 'status' | 'base' | 'rank' | 'alpha' | 'lr' | 'batch' | 'steps' | 'accuracy' | 'focus' | 'duration' | 'tags' | 'created';

/** What a row's menu can ask for. */
export type RowAction = 'open' | 'rename' | 'tags' | 'notes' | 'clone' | 'cancel' | 'delete';

export interface ParamFilter {
  path: string;
  value: string | number | boolean;
}

/** Config paths offered by the hyperparameter filter (scalars only). */
export const FILTER_PATHS = [
  'lr', 'batchSize', 'epochs', 'maxSteps', 'seed', 'optimizer', 'trainLimit', 'testLimit', 'evalEvery',
  'lora.r', 'lora.alpha', 'lora.variant', 'lora.init', 'lora.freezeA', 'lora.scaling', 'lora.loraPlusRatio',
] as const;

export const STATUSES: RunStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'];

/** "0.001" → 0.001, "true" → true, anything else stays text. */
export function parseParamValue(s: string): string | number | boolean {
  const t = s.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return t;
}

const STATUS_ORDER: Record<RunStatus, number> = { running: 0, queued: 1, failed: 2, interrupted: 3, cancelled: 4, completed: 5 };

function sortValue(r: RunView, key: SortKey, baseName: (id: number | null) => string, now: number): string | number | null {
  switch (key) {
    case 'name': return r.name.toLowerCase();
    case 'kind': return r.kind;
    case 'dataset': return r.dataset?.name.toLowerCase() ?? null;
    case 'status': return STATUS_ORDER[r.status];
    case 'base': return r.baseModelId === null ? null : baseName(r.baseModelId).toLowerCase();
    case 'rank': return r.config.lora?.r ?? null;
    case 'alpha': return r.config.lora?.alpha ?? null;
    case 'lr': return r.config.lr;
    case 'batch': return r.config.batchSize;
    case 'steps': return r.summary?.steps ?? r.progress?.step ?? null;
    case 'accuracy': return r.accuracy;
    case 'focus': return r.focusWrong;
    case 'duration': return r.startedAt === null ? null : (r.finishedAt ?? now) - r.startedAt;
    case 'tags': return r.tags.join(',').toLowerCase() || null;
    case 'created': return r.createdAt;
  }
}

export class RunsState {
  #runs = $state.raw<RunView[]>([]);
  #models = $state.raw<ModelView[]>([]);
  #loading = $state(true);
  #error = $state<string | null>(null);
  #knownTags = new SvelteSet<string>();
  #text = $state('');
  #status = $state<RunStatus | ''>('');
  #kind = $state<RunKind | ''>('');
  #tag = $state('');
  #params = $state<ParamFilter[]>([]);
  #sortKey = $state<SortKey>('created');
  #sortDir = $state<1 | -1>(-1);
  #now = $state(Date.now());
  readonly selected = new SvelteSet<number>();
  #textTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #reloadSoon = new Coalesced(() => void this.reload(), 150);
  #seq = 0;

  readonly #modelNames = $derived(new Map(this.#models.map((m) => [m.id, m.name])));

  /** Visible rows: filtered by the Lab, minus pending deletes, sorted here. */
  readonly rows: RunView[] = $derived.by(() => {
    const key = this.#sortKey;
    const dir = this.#sortDir;
    const now = this.#now;
    const name = (id: number | null) => (id === null ? '' : (this.#modelNames.get(id) ?? `#${id}`));
    return this.#runs
      .filter((r) => !pendingDeletes.isHidden(r.id))
      .map((r) => ({ r, v: sortValue(r, key, name, now) }))
      .sort((a, b) => {
        // Empty values sort last in either direction.
        if (a.v === null && b.v === null) return b.r.id - a.r.id;
        if (a.v === null) return 1;
        if (b.v === null) return -1;
        if (a.v < b.v) return -dir;
        if (a.v > b.v) return dir;
        return b.r.id - a.r.id;
      })
      .map((x) => x.r);
  });

  readonly filtering: boolean = $derived(this.#text !== '' || this.#status !== '' || this.#kind !== '' || this.#tag !== '' || this.#params.length > 0);
  readonly selectedIds: number[] = $derived(this.rows.filter((r) => this.selected.has(r.id)).map((r) => r.id));
  readonly anyActive: boolean = $derived(this.#runs.some((r) => r.status === 'running' || r.status === 'queued'));

  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }
  get total(): number { return this.#runs.length; }
  get tags(): string[] { return [...this.#knownTags].sort(); }
  get text(): string { return this.#text; }
  get status(): RunStatus | '' { return this.#status; }
  get kind(): RunKind | '' { return this.#kind; }
  get tag(): string { return this.#tag; }
  get params(): readonly ParamFilter[] { return this.#params; }
  get sortKey(): SortKey { return this.#sortKey; }
  get sortDir(): 1 | -1 { return this.#sortDir; }
  get now(): number { return this.#now; }

  baseName(id: number | null): string {
    return id === null ? '—' : (this.#modelNames.get(id) ?? `model #${id}`);
  }

  /** Load, then follow events. Returns the cleanup. */
  start(): () => void {
    const offEvents = lab.subscribe((e) => this.#onEvent(e));
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.reload();
    });
    // Durations of active runs tick every second; "3 min ago" every half minute.
    const tick = setInterval(() => {
      if (this.anyActive || Date.now() - this.#now > 30_000) this.#now = Date.now();
    }, 1000);
    void this.reload();
    return () => {
      offEvents();
      offConn();
      clearInterval(tick);
      if (this.#textTimer) clearTimeout(this.#textTimer);
      this.#reloadSoon.cancel();
    };
  }

  async reload(): Promise<void> {
    const seq = ++this.#seq;
    const filter: RunFilter = {};
    if (this.#text.trim()) filter.text = this.#text.trim();
    if (this.#status) filter.status = this.#status;
    if (this.#kind) filter.kind = this.#kind;
    if (this.#tag) filter.tag = this.#tag;
    if (this.#params.length) filter.params = Object.fromEntries(this.#params.map((p) => [p.path, p.value]));
    try {
      const [runs, models] = await Promise.all([lab.listRuns(filter), lab.listModels()]);
      if (seq !== this.#seq) return;
      this.#runs = runs;
      this.#models = models;
      for (const r of runs) for (const t of r.tags) this.#knownTags.add(t);
      for (const id of [...this.selected]) if (!runs.some((r) => r.id === id)) this.selected.delete(id);
      this.#error = null;
      this.#now = Date.now();
    } catch (err) {
      if (seq === this.#seq) this.#error = errorText(err);
    } finally {
      if (seq === this.#seq) this.#loading = false;
    }
  }

  // ── filters and sorting ──────────────────────────────────────────────────

  setText(text: string): void {
    this.#text = text;
    if (this.#textTimer) clearTimeout(this.#textTimer);
    this.#textTimer = setTimeout(() => void this.reload(), 200);
  }

  setStatus(s: RunStatus | ''): void {
    this.#status = s;
    void this.reload();
  }

  setKind(k: RunKind | ''): void {
    this.#kind = k;
    void this.reload();
  }

  setTag(t: string): void {
    this.#tag = t;
    void this.reload();
  }

  addParam(path: string, raw: string): void {
    if (!path || raw.trim() === '') return;
    this.#params = [...this.#params.filter((p) => p.path !== path), { path, value: parseParamValue(raw) }];
    void this.reload();
  }

  removeParam(path: string): void {
    this.#params = this.#params.filter((p) => p.path !== path);
    void this.reload();
  }

  clearFilters(): void {
    this.#text = '';
    this.#status = '';
    this.#kind = '';
    this.#tag = '';
    this.#params = [];
    void this.reload();
  }

  sortBy(key: SortKey): void {
    if (this.#sortKey === key) this.#sortDir = this.#sortDir === 1 ? -1 : 1;
    else {
      this.#sortKey = key;
      // Text reads best A→Z; numbers and dates best-first.
      this.#sortDir = key === 'name' || key === 'kind' || key === 'base' || key === 'tags' || key === 'status' ? 1 : -1;
    }
  }

  // ── selection ────────────────────────────────────────────────────────────

  toggle(id: number): void {
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
  }

  selectAll(on: boolean): void {
    this.selected.clear();
    if (on) for (const r of this.rows) this.selected.add(r.id);
  }

  // ── edits (the list follows through events) ────────────────────────────────

  async rename(id: number, name: string): Promise<void> {
    this.#replace(await lab.renameRun(id, name));
  }

  async setTags(id: number, tags: string[]): Promise<void> {
    this.#replace(await lab.setTags(id, tags));
  }

  async setNotes(id: number, notes: string): Promise<void> {
    this.#replace(await lab.setNotes(id, notes));
  }

  async cancel(id: number): Promise<void> {
    this.#replace(await lab.cancelRun(id));
  }

  /** Hide now, delete after the undo window (see deletes.svelte.ts). */
  remove(ids: number[]): void {
    const runs = this.#runs.filter((r) => ids.includes(r.id));
    for (const r of runs) this.selected.delete(r.id);
    pendingDeletes.schedule(runs);
  }

  // ── events ───────────────────────────────────────────────────────────────

  #replace(run: RunView): void {
    for (const t of run.tags) this.#knownTags.add(t);
    const i = this.#runs.findIndex((r) => r.id === run.id);
    if (i >= 0) this.#runs = this.#runs.with(i, run);
    else this.#reloadSoon.ask();
    // A filtered list may no longer (or newly) hold the run: ask the Lab.
    if (this.filtering) this.#reloadSoon.ask();
  }

  #onEvent(e: LabEvent): void {
    switch (e.type) {
      case 'run':
        this.#replace(e.run);
        break;
      case 'run-deleted':
        this.#runs = this.#runs.filter((r) => r.id !== e.id);
        this.selected.delete(e.id);
        break;
      case 'progress': {
        const i = this.#runs.findIndex((r) => r.id === e.runId);
        const r = this.#runs[i];
        if (r) this.#runs = this.#runs.with(i, { ...r, progress: e.progress });
        break;
      }
      case 'model':
      case 'model-deleted':
        void lab.listModels().then((m) => (this.#models = m), () => undefined);
        break;
      default:
        break;
    }
  }
}
