/** Number, time and size formatting shared by every page. Pure functions. */
import type { RunProgress, RunStatus } from '../../src-main/contract/api.ts';

const intFmt = new Intl.NumberFormat('en-US');

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '—' : intFmt.format(Math.round(n));
}

/** A compact number: 4 significant digits, scientific when tiny or huge. */
export function fmtNum(n: number | null | undefined, digits = 4): string {
  if (n === null || n === undefined) return '—';
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a < 1e-3 || a >= 1e6) return n.toExponential(Math.max(0, digits - 2)).replace('e', 'e');
  return String(Number(n.toPrecision(digits)));
}

/** Learning rates read best as 1e-3, 3e-4 … */
export function fmtLr(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  const mant = n / 10 ** exp;
  if (exp < -2 && Math.abs(mant - Math.round(mant)) < 1e-9) return `${Math.round(mant)}e${exp}`;
  return fmtNum(n);
}

export function fmtPct(frac: number | null | undefined, digits = 2): string {
  return frac === null || frac === undefined || !Number.isFinite(frac) ? '—' : `${(frac * 100).toFixed(digits)}%`;
}

/** 0.2411 (already a percentage) → "0.241%". */
export function fmtPercent(p: number): string {
  if (!Number.isFinite(p)) return '—';
  if (p >= 10) return `${p.toFixed(1)}%`;
  if (p >= 1) return `${p.toFixed(2)}%`;
  return `${p.toPrecision(3)}%`;
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${String(s).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, '0')} min`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function fmtDate(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : dateFmt.format(new Date(ms));
}

/** "3 min ago", "yesterday" …, relative to `now`. */
export function fmtAgo(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 45) return 'just now';
  if (s < 90) return '1 min ago';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 2 * 86400) return 'yesterday';
  if (s < 30 * 86400) return `${Math.round(s / 86400)} days ago`;
  return fmtDate(ms);
}

/** Seconds a run has been (or was) running. */
export function runSeconds(run: { startedAt: number | null; finishedAt: number | null }, now = Date.now()): number | null {
  if (run.startedAt === null) return null;
  return ((run.finishedAt ?? now) - run.startedAt) / 1000;
}

export function fmtSizes(sizes: readonly number[]): string {
  return sizes.join(' → ');
}

/** 1536 → "1.5 KB" (powers of 1024, as file managers show them). */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** What a progress bar shows: the phase in words, and a fraction only while it is known. */
export interface ProgressView {
  /** "Loading data…", "Evaluating before training…", "Training" … */
  phase: string;
  /** The phase in one word, for a table cell: "loading", "evaluating", "training" … */
  short: string;
  /** 0–1 while training with a known length; null when the bar is indeterminate. */
  fraction: number | null;
  /** "step 12 / 50 (24%)" while training, else null (a phase has no step count to show). */
  steps: string | null;
}

/**
 * A run's live progress in words. Before training (loading the data, the "before"
 * evaluation of a fine-tune) and during the final evaluation there is no step count to
 * show — the trainer reports 0 / 0 then — so the phase is named and the bar is indeterminate.
 */
export function describeProgress(p: RunProgress | null, status?: RunStatus): ProgressView {
  if (!p) return status === 'queued' ? { phase: 'Queued…', short: 'queued', fraction: null, steps: null } : { phase: 'Starting…', short: 'starting', fraction: null, steps: null };
  if (p.phase === 'loading') return { phase: 'Loading data…', short: 'loading', fraction: null, steps: null };
  if (p.phase === 'evaluating') {
    return p.step > 0
      ? { phase: `Evaluating on the test set after ${fmtInt(p.step)} steps…`, short: 'evaluating', fraction: null, steps: null }
      : { phase: 'Evaluating before training…', short: 'evaluating', fraction: null, steps: null };
  }
  if (!(p.totalSteps > 0)) return { phase: 'Training', short: 'training', fraction: null, steps: p.step > 0 ? `step ${fmtInt(p.step)}` : null };
  const fraction = Math.min(1, Math.max(0, p.step / p.totalSteps));
  return { phase: 'Training', short: 'training', fraction, steps: `step ${fmtInt(p.step)} / ${fmtInt(p.totalSteps)} (${(fraction * 100).toFixed(0)}%)` };
}

/**
 * A run's step count for tables: the steps it trained (completed), its live "12 / 50"
 * while training (the phase's word while loading or evaluating, never "0 / 0"), and how
 * far a cancelled, failed or interrupted run got ("12 of 50"), from its last progress.
 */
export function fmtSteps(run: { status: RunStatus; summary: { steps: number } | null; progress: RunProgress | null; config: { maxSteps: number | null } }): string {
  if (run.summary) return fmtInt(run.summary.steps);
  const p = run.progress;
  if (run.status === 'running' || run.status === 'queued') {
    if (p?.phase === 'training' && p.totalSteps > 0) return `${fmtInt(p.step)} / ${fmtInt(p.totalSteps)}`;
    if (p?.phase === 'loading') return 'loading';
    if (p?.phase === 'evaluating') return 'evaluating';
  } else if (p) {
    return p.totalSteps > 0 ? `${fmtInt(p.step)} of ${fmtInt(p.totalSteps)}` : fmtInt(p.step);
  }
  return run.config.maxSteps === null ? '—' : `≤ ${fmtInt(run.config.maxSteps)}`;
}
