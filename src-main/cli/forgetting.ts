/**
 * `lora-lab forgetting (RUN… | --sweep ID)`: learning against forgetting for fine-tunes
 * of one slice (LabApi.forgetting): per run its focus and other accuracy before → after
 * with n, what it learned and forgot in percentage points, and the Pareto front.
 * --json prints the view (accuracies as fractions) with the units stated.
 */
import type { ForgettingView, Measured } from '../contract/forgetting.ts';
import { UsageError, commonFlags, parse } from './options.ts';
import { runId } from './runs.ts';
import { oneLine } from './sanitize.ts';
import type { Session } from './session.ts';
import { sweepId } from './sweep.ts';
import { table } from './table.ts';

const pp = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} pp`;
const acc = (m: Measured) => `${(m.accuracy * 100).toFixed(1)}%`;

export function forgettingText(v: ForgettingView): string {
  const focus = v.focusClasses.join(', ');
  const out = [`fine-tuned on ${focus || '—'}${v.dataset ? ` of ${v.dataset.name}` : ''}: learned = accuracy gained on ${focus || 'the slice'}, forgotten = accuracy lost on the other classes (percentage points against the base)`, ''];
  if (v.runs.length) {
    const n = v.runs[0]!.after;
    out.push(
      table(
        ['run', 'name', 'method', 'lr', 'seed', 'steps', `${focus} before → after`, 'others before → after', 'learned', 'forgotten', 'Pareto'],
        v.runs.map((r) => [r.runId, oneLine(r.name), r.method, r.lr, r.seed, r.steps, `${acc(r.before.focus)} → ${acc(r.after.focus)}`, `${acc(r.before.other)} → ${acc(r.after.other)}`, pp(r.learned), pp(r.forgotten), r.pareto ? '◆' : '']),
        ['r', 'l', 'l'],
      ),
      '',
      `accuracies over n = ${n.focus.n} test samples of ${focus} and ${n.other.n} of the other classes; ◆ on the Pareto front (no run learned as much while forgetting less)`,
      `front, least forgetting first: ${v.front.map((id) => `run ${id}`).join(', ') || '—'}`,
    );
  } else out.push('no run to show');
  if (v.skipped.length) out.push('', `left out (${v.skipped.length}):`, ...v.skipped.map((s) => `  run ${s.runId} ${oneLine(s.name)}: ${oneLine(s.reason)}`));
  return out.join('\n');
}

export async function forgettingCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, sweep: { type: 'string' } }, true);
  let view: ForgettingView;
  if (typeof values['sweep'] === 'string') {
    if (positionals.length) throw new UsageError('give run ids or --sweep ID, not both');
    view = await s.lab().forgetting({ sweepId: sweepId(values['sweep']) });
  } else {
    if (positionals.length === 0) throw new UsageError('forgetting needs fine-tune runs (lora-lab forgetting 3 4 5) or --sweep ID');
    view = await s.lab().forgetting({ runIds: positionals.map(runId) });
  }
  if (values['json']) return s.out(JSON.stringify({ ...view, units: { accuracy: 'fraction', learned: 'fraction gained', forgotten: 'fraction lost', step: 'optimizer steps' } }));
  s.out(forgettingText(view));
}
