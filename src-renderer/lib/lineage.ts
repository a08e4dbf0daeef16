/**
 * Where a model or adapter came from, in words, read from its free-form origin record:
 * `{ merge: { method, base, adapters: [{ adapterId, weight }] … } }` for merges,
 * `{ file }` for imported models and `{ folder }` for imported adapters; a full fine-tune's
 * model (kind `finetuned`) names its parent and its run. Pure functions.
 */
import type { AdapterView, ModelView } from '../../src-main/contract/api.ts';

export interface Lineage {
  text: string;
  /** The words before the run's link when they follow the parent ("by run"); empty otherwise. */
  via: string;
  /** The run that produced it (linked), if any. */
  runId: number | null;
  /** The model it was derived from or attached to (named), if any. */
  parentId: number | null;
}

const record = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
const fileOf = (path: unknown): string | null => (typeof path === 'string' && path ? (path.split(/[\\/]/).pop() ?? path) : null);

/** "linear merge of “a” ×1, “b” ×0.5" from an origin's merge record. */
function describeMerge(merge: Record<string, unknown>, adapterName: (id: number) => string | null): string {
  const method = typeof merge['method'] === 'string' ? merge['method'] : 'a';
  const parts = Array.isArray(merge['adapters'])
    ? merge['adapters'].map((a) => {
        const r = record(a);
        const id = typeof r['adapterId'] === 'number' ? r['adapterId'] : null;
        const name = id === null ? '?' : (adapterName(id) ?? `adapter #${id}`);
        return `“${name}” ×${typeof r['weight'] === 'number' ? r['weight'] : '?'}`;
      })
    : [];
  const rank = typeof merge['rank'] === 'number' ? `, rank ${merge['rank']}` : '';
  return `${method} merge${rank} of ${parts.join(', ') || 'adapters'} into`;
}

export function modelLineage(m: ModelView, adapterName: (id: number) => string | null): Lineage {
  const o = record(m.origin);
  if (m.kind === 'imported') {
    const file = fileOf(o['file'] ?? o['path']);
    return { text: file ? `imported from ${file}` : 'imported', via: '', runId: null, parentId: m.parentModelId };
  }
  if (m.kind === 'merged') {
    const merge = record(o['merge']);
    return { text: Object.keys(merge).length ? describeMerge(merge, adapterName) : 'merged adapter(s) into', via: '', runId: m.sourceRunId, parentId: m.parentModelId };
  }
  // A full fine-tune's result: every weight of its parent trained further by its run.
  if (m.kind === 'finetuned') return { text: 'full fine-tune of', via: 'by run', runId: m.sourceRunId, parentId: m.parentModelId };
  return { text: 'trained by run', via: '', runId: m.sourceRunId, parentId: null };
}

/**
 * An adapter's lineage. `AdapterView` does not carry the origin record yet; when the
 * service sends it, merged and imported adapters say which they are.
 */
export function adapterLineage(a: AdapterView, adapterName: (id: number) => string | null): Lineage {
  if (a.runId !== null) return { text: 'trained by run', via: '', runId: a.runId, parentId: null };
  const o = record((a as AdapterView & { origin?: unknown }).origin);
  const merge = record(o['merge']);
  if (Object.keys(merge).length) return { text: describeMerge(merge, adapterName).replace(/ into$/, ''), via: '', runId: null, parentId: null };
  const folder = fileOf(o['folder']);
  if (folder) return { text: `imported from ${folder}`, via: '', runId: null, parentId: null };
  return { text: 'merged or imported', via: '', runId: null, parentId: null };
}
