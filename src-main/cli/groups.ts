/**
 * `lora-lab groups (RUN… | --sweep ID) [--by PATH,…]`: runs grouped by their config
 * minus the seed (or by the paths given), each group's n and mean ± std of every summary
 * figure, wrong per class, and the runs left out and why. Through LabApi.groupRuns.
 */
import type { GroupRequest, GroupTable } from '../contract/groups.ts';
import { CONFIG_PATH } from '../contract/sweep.ts';
import { UsageError, commonFlags, parse } from './options.ts';
import { runId } from './runs.ts';
import { oneLine } from './sanitize.ts';
import type { Session } from './session.ts';
import { FIGURE_UNITS, groupJson, groupsText } from './sweep-format.ts';
import { sweepId } from './sweep.ts';

/** `--by lora.r,lr` → the paths, each checked for its syntax (the Lab names an unknown one). */
export function byPaths(text: string): string[] {
  const paths = text.split(',').map((s) => s.trim());
  const bad = paths.filter((p) => !CONFIG_PATH.test(p));
  if (paths.length === 0 || bad.length) throw new UsageError(`--by takes config paths separated by commas, e.g. --by lora.r,lr${bad.length ? `; not a path: ${bad.map((b) => `"${b}"`).join(', ')}` : ''}`);
  return paths;
}

export function groupsReport(t: GroupTable): string {
  const out = [`grouped by ${t.by.length ? t.by.join(', ') : '(nothing differs: one group)'}${t.by.length ? ' (the seed aside)' : ''}`, '', groupsText(t.groups)];
  if (t.excluded.length) {
    out.push('', `left out (${t.excluded.length}):`, ...t.excluded.map((r) => `  run ${r.id} ${oneLine(r.name)}: ${oneLine(r.reason)}`));
  }
  return out.join('\n');
}

export async function groupsCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, sweep: { type: 'string' }, by: { type: 'string' } }, true);
  const req: GroupRequest = {};
  if (typeof values['sweep'] === 'string') {
    if (positionals.length) throw new UsageError('give run ids or --sweep ID, not both');
    req.sweepId = sweepId(values['sweep']);
  } else {
    if (positionals.length === 0) throw new UsageError('groups needs run ids (lora-lab groups 3 4 5 6) or --sweep ID');
    req.runIds = positionals.map(runId);
  }
  if (typeof values['by'] === 'string') req.by = byPaths(values['by']);
  const t = await s.lab().groupRuns(req);
  if (values['json']) return s.out(JSON.stringify({ ...t, groups: t.groups.map(groupJson), units: FIGURE_UNITS }));
  s.out(groupsReport(t));
}
