/**
 * Merge requests as LoRA Lab reads them, old and new, and what each method uses. Pure
 * (no Node APIs): the store, the Lab service, the CLI and the merge code share it.
 *
 * Names changed once, to PEFT's: LoRA Lab's `ties` used to be the full-ΔW form that
 * PEFT calls `ties_svd`, and `dare` (with a drop rate p) the full-ΔW `dare_linear_svd`
 * with density 1 − p. A request may still say `dare` (an alias, read as
 * `dare_linear_svd`); a record stored before the rename (a kept preview, a merged
 * model's or adapter's origin) says `ties` or `dare` in the old sense and carries no
 * PEFT_NAMES mark, which every record stored since does. normalizeMergeRequest is the
 * one place that maps them.
 */
import { LEGACY_MERGE_METHODS, MERGE_METHODS, type MergeMethod, type MergeRequest } from '../contract/api.ts';

/** Marks a stored merge record written with PEFT's method names. */
export const PEFT_NAMES = 'peftNames';

/** Methods combining full ΔW_i (truncated by SVD to an adapter of rank k). */
export const isSvdForm = (m: MergeMethod): boolean => m.endsWith('_svd');
/** Methods combining the A's and the B's separately: they need one rank. */
export const isFactorWise = (m: MergeMethod): boolean => m === 'ties' || m === 'dare_linear' || m === 'dare_ties' || m === 'magnitude_prune';
/** Methods that prune to a `density`: all but linear, cat and svd. */
export const usesDensity = (m: MergeMethod): boolean => m !== 'linear' && m !== 'cat' && m !== 'svd';

export const isMergeMethod = (m: unknown): m is MergeMethod => typeof m === 'string' && (MERGE_METHODS as readonly string[]).includes(m);
const isLegacy = (m: unknown): boolean => typeof m === 'string' && (LEGACY_MERGE_METHODS as readonly string[]).includes(m);

/** 1 − p without binary noise (1 − 0.7 is 0.30000000000000004). */
const complement = (p: number): number => Number((1 - p).toPrecision(15));

/**
 * A request in today's names: `dare` + dropRate → `dare_linear_svd` + density; with
 * `beforePeftNames` (a stored record without the PEFT_NAMES mark) `ties` → `ties_svd`.
 * A dropRate goes (only `dare` reads it), and so does the mark.
 */
export function normalizeMergeRequest<T extends MergeRequest>(req: T, beforePeftNames = false): T & { method: MergeMethod } {
  const out: Record<string, unknown> = { ...(req as object) };
  const dropRate = out['dropRate'];
  delete out['dropRate'];
  delete out[PEFT_NAMES];
  let method = req.method as string;
  if (beforePeftNames && method === 'ties') method = 'ties_svd';
  if (method === 'dare') {
    method = 'dare_linear_svd';
    if (typeof dropRate === 'number') out['density'] = complement(dropRate);
  }
  out['method'] = method;
  return out as unknown as T & { method: MergeMethod };
}

/** A stored request (a kept preview's): old names when it lacks the PEFT_NAMES mark. */
export function readStoredMergeRequest(stored: MergeRequest & Record<string, unknown>): MergeRequest & { method: MergeMethod } {
  return normalizeMergeRequest(stored, stored[PEFT_NAMES] !== true);
}

/** A request as it is stored: today's names and the mark. */
export function storedMergeRequest(req: MergeRequest): MergeRequest & Record<string, unknown> {
  return { ...normalizeMergeRequest(req), [PEFT_NAMES]: true };
}

/**
 * A model's or adapter's origin (`{ merge: { method, … } }`) with the merge record in
 * today's names; any other origin unchanged.
 */
export function normalizeMergeOrigin(origin: unknown): unknown {
  if (!origin || typeof origin !== 'object' || !('merge' in origin)) return origin;
  const merge = (origin as { merge: unknown }).merge;
  if (!merge || typeof merge !== 'object' || typeof (merge as { method?: unknown }).method !== 'string') return origin;
  const m = merge as MergeRequest & Record<string, unknown>;
  if (!isMergeMethod(m.method) && !isLegacy(m.method)) return origin;
  return { ...origin, merge: readStoredMergeRequest(m) };
}
