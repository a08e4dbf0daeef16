/**
 * "Your sweep is done": a notice when a sweep ends (completed, cancelled, failed) or a
 * run that took more than a minute ends. The rule (`EndNotices`) is pure and shared: the
 * Electron main process shows the notices with Electron's Notification (`startNotifier`,
 * subscribed in main.ts), the browser in web mode with its Notification API
 * (src-renderer/lib/notify.svelte.ts); the renderer in Electron shows none, so nothing
 * is told twice. No Electron import here: main.ts passes the way to show one.
 */
import type { LabEvent } from '../contract/api.ts';

export interface Notice {
  title: string;
  body: string;
  /** Where the notice leads (a hash route of the UI). */
  route: string;
}

/** A run shorter than this ends without a notice (it was watched, or is one of many). */
export const LONG_RUN_MS = 60_000;
/** An end older than this is history (an event of a sweep that ended long ago), not news. */
const FRESH_MS = 120_000;

const SWEEP_ENDS = new Set(['completed', 'cancelled', 'failed']);
const RUN_ENDS = new Set(['completed', 'failed', 'cancelled', 'interrupted']);

/**
 * Decides, event by event, what deserves a notice: the first event that shows a sweep
 * or a long run in an end state it was not already seen in. Runs of a sweep are left to
 * the sweep's own notice (27 notices for one sweep would be noise).
 */
export class EndNotices {
  readonly #seen = new Map<string, string>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  notice(e: LabEvent): Notice | null {
    if (e.type === 'sweep') {
      const s = e.sweep;
      const before = this.#seen.get(`s${s.id}`);
      this.#seen.set(`s${s.id}`, s.status);
      if (!SWEEP_ENDS.has(s.status) || before === s.status) return null;
      if (before === undefined && s.finishedAt !== null && this.#now() - s.finishedAt > FRESH_MS) return null;
      const c = s.counts;
      const parts = [`${c.completed} of ${c.total} runs completed`];
      if (c.pruned) parts.push(`${c.pruned} pruned`);
      if (c.failed) parts.push(`${c.failed} failed`);
      if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
      const body = s.status === 'failed' && s.error ? `${parts.join(', ')}. ${s.error}` : `${parts.join(', ')}.`;
      return { title: `Sweep “${s.name}” ${s.status}`, body, route: `#/sweeps/${s.id}` };
    }
    if (e.type === 'run') {
      const r = e.run;
      const before = this.#seen.get(`r${r.id}`);
      this.#seen.set(`r${r.id}`, r.status);
      if (r.sweep !== null || !RUN_ENDS.has(r.status) || before === r.status) return null;
      if (r.startedAt === null || r.finishedAt === null || r.finishedAt - r.startedAt < LONG_RUN_MS) return null;
      if (this.#now() - r.finishedAt > FRESH_MS) return null;
      const secs = Math.round((r.finishedAt - r.startedAt) / 1000);
      const took = secs >= 120 ? `${Math.round(secs / 60)} min` : `${secs} s`;
      const acc = r.accuracy !== null ? `, test accuracy ${(r.accuracy * 100).toFixed(2)}%` : '';
      return { title: `Run “${r.name}” ${r.status}`, body: `after ${took}${acc}${r.error && r.status !== 'completed' ? `: ${r.error}` : ''}`, route: `#/runs/${r.id}` };
    }
    if (e.type === 'sweep-deleted') this.#seen.delete(`s${e.id}`);
    if (e.type === 'run-deleted') this.#seen.delete(`r${e.id}`);
    return null;
  }
}

/** Shows a notice for every sweep or long run that ends; returns the unsubscribe. */
export function startNotifier(lab: { subscribe(listener: (e: LabEvent) => void): () => void }, show: (n: Notice) => void): () => void {
  const notices = new EndNotices();
  return lab.subscribe((e) => {
    const n = notices.notice(e);
    if (n) {
      try {
        show(n);
      } catch (err) {
        console.error('LoRA Lab: a notification could not be shown:', err);
      }
    }
  });
}
