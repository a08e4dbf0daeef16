/**
 * The run lifecycle. Every status change goes through `checkTransition`, so a late
 * message from a dead trainer cannot, say, turn a cancelled run back into completed.
 *
 *   queued ──▶ running ──▶ completed | failed | cancelled
 *     │           └──────▶ interrupted (the app stopped under it)
 *     ├──▶ cancelled | failed | interrupted
 *   interrupted ──▶ queued (re-queued by the run manager)
 */
import { type FinalStatus, RUN_STATUSES, type RunStatus } from '../contract/run-status.ts';
import { TransitionError } from './errors.ts';

export { RUN_STATUSES, type FinalStatus, type RunStatus };

const NEXT: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'cancelled', 'failed', 'interrupted'],
  running: ['completed', 'failed', 'cancelled', 'interrupted'],
  interrupted: ['queued'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function isRunStatus(s: unknown): s is RunStatus {
  return typeof s === 'string' && (RUN_STATUSES as readonly string[]).includes(s);
}

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return NEXT[from].includes(to);
}

export function checkTransition(runId: number, from: RunStatus, to: RunStatus): void {
  if (canTransition(from, to)) return;
  const allowed = NEXT[from].length ? NEXT[from].join(', ') : 'nothing (it is final)';
  throw new TransitionError(`run ${runId} is ${from}; it cannot become ${to} (from ${from}: ${allowed})`);
}

export function isFinal(s: RunStatus): s is FinalStatus {
  return s === 'completed' || s === 'failed' || s === 'cancelled' || s === 'interrupted';
}

export function interruptedMessage(was: RunStatus): string {
  return `interrupted: LoRA Lab stopped while this run was ${was}`;
}
