/**
 * How a trainer process ended: the reason (contract/exit-reasons.ts) derived from what
 * Node's child_process reports, and the sentence a failed run shows for it. Electron
 * reports its own reason (app/utility-port.ts); the wording is shared.
 */
import { constants } from 'node:os';
import type { TrainerExitReason } from '../contract/exit-reasons.ts';

/** Signals of a native fault or an abort (Chromium calls these exits `crashed` too). */
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGSYS']);

/**
 * What V8 and Node print when memory runs out: the heap limit (`FATAL ERROR: Reached heap
 * limit Allocation failed - JavaScript heap out of memory`, then SIGABRT) or a worker
 * thread's heap (ERR_WORKER_OUT_OF_MEMORY, then exit code 1 when unhandled).
 */
export const OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit|Allocation failed|ERR_WORKER_OUT_OF_MEMORY/;

/** The signal behind an exit code 128 + n (Node's convention for fatal signals, and a shell's). */
function signalOfCode(code: number): string | null {
  if (code <= 128) return null;
  const n = code - 128;
  const name = Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
  return name ?? null;
}

/**
 * The exit reason of a Node child: `spawnFailed` when it never started; otherwise from
 * its signal or exit code, `oom` when it ended abnormally after printing an
 * out-of-memory line (see OUT_OF_MEMORY).
 */
export function nodeExitReason(exit: { code: number | null; signal: string | null; outOfMemory: boolean; spawnFailed?: boolean }): TrainerExitReason {
  if (exit.spawnFailed) return 'launch-failed';
  if (exit.code === 0 && !exit.signal) return 'clean-exit';
  if (exit.outOfMemory) return 'oom';
  const signal = exit.signal ?? (exit.code !== null ? signalOfCode(exit.code) : null);
  if (signal) return CRASH_SIGNALS.has(signal) ? 'crashed' : 'killed';
  // Windows reports a native fault as an NTSTATUS error code (0xC0000005: access violation).
  if (exit.code !== null && exit.code >= 0xc0000000) return 'crashed';
  return 'abnormal-exit';
}

export interface ExitFacts {
  reason: TrainerExitReason;
  code: number | null;
  signal: string | null;
}

/** "the trainer was killed by SIGKILL", "the trainer ran out of memory" … (no place, no detail). */
export function exitWords({ reason, code, signal }: ExitFacts): string {
  const how = signal ? ` (${signal})` : code !== null && code !== 0 ? ` (exit code ${code})` : '';
  switch (reason) {
    case 'clean-exit':
      return 'the trainer exited';
    case 'abnormal-exit':
      return `the trainer exited with code ${code ?? 'unknown'}`;
    case 'killed':
      return signal ? `the trainer was killed by ${signal}` : `the trainer was killed${how}`;
    case 'crashed':
      return `the trainer crashed${how}`;
    case 'oom':
      return `the trainer ran out of memory${how}`;
    case 'launch-failed':
      return 'the trainer could not be started';
    case 'integrity-failure':
      return `the trainer was stopped by the system's code integrity check${how}`;
    case 'memory-eviction':
      return `the trainer was ended by the system to free memory${how}`;
  }
}
