/**
 * Pure helpers for comparing runs: the hyperparameter table (config flattened to dotted
 * paths, with a `differs` flag per row) and per-metric summaries.
 */
import type { Store } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import type { RunConfig } from '../contract/config.ts';
import type { Comparison, MetricSummary, ParamRow, Series } from '../contract/api.ts';
import { LabError } from '../contract/api.ts';

const MAX_COMPARE = 50;

/** Everything a comparison shows, straight from the store (runs as stored rows). */
export function compareData(store: Store, ids: number[]): Omit<Comparison, 'runs'> & { runs: StoredRun[] } {
  if (!Array.isArray(ids) || ids.length === 0) throw new LabError('choose at least one run to compare');
  if (ids.length > MAX_COMPARE) throw new LabError(`compare at most ${MAX_COMPARE} runs at a time`);
  if (new Set(ids).size !== ids.length) throw new LabError('a run is listed twice');
  const runs = ids.map((id) => {
    const r = store.runs.find(id);
    if (!r) throw new LabError(`run ${id} does not exist`, 404);
    return r;
  });
  const keys = [...new Set(ids.flatMap((id) => store.metrics.keys(id)))].sort();
  const metrics: Record<string, (Series | null)[]> = {};
  for (const key of keys) {
    const got = new Map(store.metrics.seriesMany(ids, key).map((s) => [s.runId, s]));
    metrics[key] = ids.map((id) => {
      const s = got.get(id);
      return s && s.steps.length ? { steps: s.steps, values: s.values, times: s.times } : null;
    });
  }
  return {
    runs,
    params: paramRows(runs.map((r) => r.config)),
    metrics,
    evaluations: ids.map((id) => store.evaluations.get(id)),
    summary: keys.map((k) => summarise(k, metrics[k] as (Series | null)[])),
  };
}

type Scalar = string | number | boolean | null;

/** { lora: { r: 1 } } → { 'lora.r': 1 }; arrays become one readable value. */
export function flattenConfig(cfg: RunConfig): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) out[path] = null;
    else if (Array.isArray(v)) out[path] = v.join(path === 'sizes' ? '→' : ',');
    else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    else out[path] = v as Scalar;
  };
  walk(cfg, '');
  // A base run has no LoRA settings: show its LoRA rows as empty rather than missing.
  if (cfg.lora === null) delete out['lora'];
  return out;
}

export function paramRows(configs: RunConfig[]): ParamRow[] {
  const flat = configs.map(flattenConfig);
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))];
  const order = (p: string) => (p === 'kind' ? 0 : p.startsWith('lora.') ? 2 : 1);
  paths.sort((a, b) => order(a) - order(b));
  return paths.map((path) => {
    const values = flat.map((f) => (path in f ? (f[path] as Scalar) : null));
    const differs = values.some((v) => v !== values[0]);
    return { path, values, differs };
  });
}

/** Losses are better low; everything else (accuracy …) high. */
export const lowerIsBetter = (key: string) => /loss|error|wrong/i.test(key);

export function summarise(key: string, series: (Series | null)[]): MetricSummary {
  const low = lowerIsBetter(key);
  return {
    key,
    perRun: series.map((s) => {
      if (!s || s.values.length === 0) return null;
      let min = Infinity;
      let max = -Infinity;
      let best = low ? Infinity : -Infinity;
      let bestStep = 0;
      s.values.forEach((v, i) => {
        if (v < min) min = v;
        if (v > max) max = v;
        if (low ? v < best : v > best) {
          best = v;
          bestStep = s.steps[i] as number;
        }
      });
      return { final: s.values[s.values.length - 1] as number, best, min, max, bestStep };
    }),
  };
}
