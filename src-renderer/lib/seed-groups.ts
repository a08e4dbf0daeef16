/**
 * Grouping runs on the page itself, before asking the Lab: runs whose configs agree on
 * everything but the seed (Compare's "group these by seed"), and the config paths a
 * "group by" picker offers (those that differ among the runs first).
 */
import type { RunConfig } from '../../src-main/contract/config.ts';
import { flattenConfig } from '../../src-main/lab/compare.ts';

/** Run ids grouped by config minus the seed, groups in first-seen order, ids as given. */
export function seedGroups(runs: readonly { id: number; config: RunConfig }[]): number[][] {
  const groups = new Map<string, number[]>();
  for (const r of runs) {
    const flat = flattenConfig(r.config);
    delete flat['seed'];
    const key = JSON.stringify(Object.entries(flat).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const g = groups.get(key);
    if (g) g.push(r.id);
    else groups.set(key, [r.id]);
  }
  return [...groups.values()];
}

/** Whether grouping by seed says more than the runs alone: some group has two or more runs, and there are two groups or more runs than groups. */
export function seedGroupsWorthIt(groups: readonly number[][]): boolean {
  return groups.some((g) => g.length >= 2);
}

export interface PathOption {
  path: string;
  /** Its value differs between the runs. */
  differs: boolean;
}

/** Every config path of the runs: the differing ones first (in config order), then the rest. */
export function groupPathOptions(configs: readonly RunConfig[]): PathOption[] {
  const flat = configs.map(flattenConfig);
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))];
  const opts = paths.map((path) => {
    const first = flat[0]?.[path] ?? null;
    return { path, differs: flat.some((f) => (f[path] ?? null) !== first) };
  });
  return [...opts.filter((o) => o.differs), ...opts.filter((o) => !o.differs)];
}
