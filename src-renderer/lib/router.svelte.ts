/**
 * Hash routing: #/runs, #/runs/ID, #/new (?from=ID clone-and-edit, ?kind=lora|full&base=ID, ?data=ID),
 * #/compare?ids=1,2,3 (or ?groups=1,2,3;4,5,6: groups of runs), #/forgetting?ids=1,2,3 (or
 * ?sweep=ID: learning against forgetting of fine-tunes of one slice), #/merge (?base=ID&adapters=1,2),
 * #/models, #/adapters/ID and #/models/ID/update (what an adapter, or a full fine-tune's or a
 * merge's W − W0, changed; ?vs=ID: φ against an adapter on the same base),
 * #/playground/ID (draw, and see an adapter's classes as they change),
 * #/data (#/data/ID: one data set selected), #/sweeps, #/sweeps/ID, #/sweeps/new
 * (?from=RUN: a sweep around a run's config; ?base=MODEL: fine-tunes of a model). Hash URLs work from
 * Electron's file:// and from the web-mode server alike.
 */
import { RUN_KINDS, type RunKind } from '../../src-main/contract/config.ts';

/** Whose update the analysis page shows: an adapter's ΔW, or a model's W − W0 against its parent. */
export type UpdateTarget = { kind: 'adapter' | 'model'; id: number };

export type Route =
  | { page: 'runs' }
  | { page: 'run'; id: number }
  | { page: 'new'; from: number | null; kind: RunKind | null; base: number | null; data: number | null }
  | { page: 'compare'; ids: number[]; groups: number[][] }
  | { page: 'forgetting'; ids: number[]; sweep: number | null }
  | { page: 'merge'; base: number | null; adapters: number[] }
  | { page: 'models' }
  | { page: 'update'; target: UpdateTarget; vs: number | null }
  | { page: 'playground'; id: number }
  | { page: 'data'; id: number | null }
  | { page: 'sweeps' }
  | { page: 'workers' }
  | { page: 'sweep'; id: number }
  | { page: 'new-sweep'; from: number | null; base: number | null }
  | { page: 'missing'; path: string };

const positiveInt = (s: string | null): number | null => {
  if (s === null || !/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n > 0 && Number.isSafeInteger(n) ? n : null;
};

const idList = (s: string | null): number[] => [
  ...new Set((s ?? '').split(',').map((x) => positiveInt(x.trim())).filter((n): n is number => n !== null)),
];

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/runs';
  const [path = '/', query = ''] = raw.split('?', 2);
  const q = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 0 || (parts[0] === 'runs' && parts.length === 1)) return { page: 'runs' };
  if (parts[0] === 'runs' && parts.length === 2) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'run', id };
  }
  if (parts[0] === 'new' && parts.length === 1) {
    const kind = RUN_KINDS.find((k) => k === q.get('kind')) ?? null;
    return { page: 'new', from: positiveInt(q.get('from')), kind, base: positiveInt(q.get('base')), data: positiveInt(q.get('data')) };
  }
  if (parts[0] === 'compare' && parts.length === 1) {
    const groups = (q.get('groups') ?? '').split(';').map((g) => idList(g)).filter((g) => g.length > 0);
    return { page: 'compare', ids: idList(q.get('ids')), groups };
  }
  if (parts[0] === 'forgetting' && parts.length === 1) return { page: 'forgetting', ids: idList(q.get('ids')), sweep: positiveInt(q.get('sweep')) };
  if (parts[0] === 'merge' && parts.length === 1) return { page: 'merge', base: positiveInt(q.get('base')), adapters: idList(q.get('adapters')) };
  if (parts[0] === 'models' && parts.length === 1) return { page: 'models' };
  if (parts[0] === 'models' && parts[2] === 'update' && parts.length === 3) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'update', target: { kind: 'model', id }, vs: positiveInt(q.get('vs')) };
  }
  if (parts[0] === 'adapters' && parts.length === 2) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'update', target: { kind: 'adapter', id }, vs: positiveInt(q.get('vs')) };
  }
  if (parts[0] === 'playground' && parts.length === 2) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'playground', id };
  }
  if (parts[0] === 'data' && parts.length === 1) return { page: 'data', id: null };
  if (parts[0] === 'data' && parts.length === 2) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'data', id };
  }
  if (parts[0] === 'workers' && parts.length === 1) return { page: 'workers' };
  if (parts[0] === 'sweeps' && parts.length === 1) return { page: 'sweeps' };
  if (parts[0] === 'sweeps' && parts[1] === 'new' && parts.length === 2) return { page: 'new-sweep', from: positiveInt(q.get('from')), base: positiveInt(q.get('base')) };
  if (parts[0] === 'sweeps' && parts.length === 2) {
    const id = positiveInt(parts[1] ?? null);
    if (id !== null) return { page: 'sweep', id };
  }
  return { page: 'missing', path };
}

export const href = {
  runs: () => '#/runs',
  run: (id: number) => `#/runs/${id}`,
  newRun: (opts: { from?: number; kind?: RunKind; base?: number; data?: number } = {}) => {
    const q = new URLSearchParams();
    if (opts.from !== undefined) q.set('from', String(opts.from));
    if (opts.kind !== undefined) q.set('kind', opts.kind);
    if (opts.base !== undefined) q.set('base', String(opts.base));
    if (opts.data !== undefined) q.set('data', String(opts.data));
    const s = q.toString();
    return `#/new${s ? `?${s}` : ''}`;
  },
  compare: (ids: number[]) => `#/compare?ids=${ids.join(',')}`,
  /** Compare groups of runs: each group's run ids, groups separated by ";". */
  compareGroups: (groups: number[][]) => `#/compare?groups=${groups.map((g) => g.join(',')).join(';')}`,
  /** Learning against forgetting of these runs, or of a sweep's runs. */
  forgetting: (opts: { ids?: number[]; sweep?: number } = {}) => {
    const q: string[] = [];
    if (opts.ids?.length) q.push(`ids=${opts.ids.join(',')}`);
    if (opts.sweep !== undefined) q.push(`sweep=${opts.sweep}`);
    return `#/forgetting${q.length ? `?${q.join('&')}` : ''}`;
  },
  sweeps: () => '#/sweeps',
  /** Remote workers: where runs are queued and what each worker is doing. */
  workers: () => '#/workers',
  sweep: (id: number) => `#/sweeps/${id}`,
  newSweep: (opts: { from?: number; base?: number } = {}) => {
    const q = new URLSearchParams();
    if (opts.from !== undefined) q.set('from', String(opts.from));
    if (opts.base !== undefined) q.set('base', String(opts.base));
    const s = q.toString();
    return `#/sweeps/new${s ? `?${s}` : ''}`;
  },
  merge: (opts: { base?: number; adapters?: number[] } = {}) => {
    const q = new URLSearchParams();
    if (opts.base !== undefined) q.set('base', String(opts.base));
    if (opts.adapters?.length) q.set('adapters', opts.adapters.join(','));
    const s = q.toString();
    return `#/merge${s ? `?${s}` : ''}`;
  },
  models: () => '#/models',
  /** The Adapter page: what an adapter learned (vs: φ against a second one). */
  adapter: (id: number, vs?: number | null) => `#/adapters/${id}${vs ? `?vs=${vs}` : ''}`,
  /** The same page for a model with a parent (a full fine-tune's or a merge's W − W0; vs: an adapter on that parent). */
  modelUpdate: (id: number, vs?: number | null) => `#/models/${id}/update${vs ? `?vs=${vs}` : ''}`,
  /** The update page of either kind of target. */
  update: (t: UpdateTarget, vs?: number | null): string => (t.kind === 'adapter' ? href.adapter(t.id, vs) : href.modelUpdate(t.id, vs)),
  /** The playground: draw an input, see the base, the adapter at a scale and the merged model. */
  playground: (adapterId: number) => `#/playground/${adapterId}`,
  /** The Data page, with one data set selected. */
  data: (id?: number) => (id === undefined ? '#/data' : `#/data/${id}`),
};

class Router {
  #hash = $state(typeof location === 'undefined' ? '' : location.hash);
  readonly route: Route = $derived(parseRoute(this.#hash));

  constructor() {
    if (typeof window !== 'undefined') window.addEventListener('hashchange', () => (this.#hash = location.hash));
  }

  go(hash: string): void {
    if (location.hash === hash) return;
    location.hash = hash;
  }
}

export const router = new Router();
