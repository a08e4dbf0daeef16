/**
 * How a trainer process ended, in Electron's words: the `reason` of `app`'s
 * `child-process-gone` event (`Details['reason']` in electron.d.ts;
 * src-main/app/utility-port.ts fails to compile if Electron's list and this one differ).
 * Under plain Node (CLI, web mode, tests) the host derives the same words from the exit
 * code, signal and stderr (src-main/trainer/exit.ts). Stored in `runs.exit_reason`.
 *
 *   clean-exit         exit code 0
 *   abnormal-exit      a non-zero exit code (the trainer reports its own errors, then exits 1)
 *   killed             ended by a signal from outside: SIGKILL (our kill, kill -9, the
 *                      kernel's OOM killer), SIGTERM, SIGINT …
 *   crashed            SIGSEGV, SIGABRT, SIGBUS, SIGILL … (a native fault or abort)
 *   oom                ran out of memory (V8's heap limit, a worker's heap)
 *   launch-failed      the process could not be started
 *   integrity-failure  Windows code integrity checks failed (Electron only)
 *   memory-eviction    the system ended it to head off running out of memory (Electron only)
 */
export const TRAINER_EXIT_REASONS = [
  'clean-exit',
  'abnormal-exit',
  'killed',
  'crashed',
  'oom',
  'launch-failed',
  'integrity-failure',
  'memory-eviction',
] as const;

export type TrainerExitReason = (typeof TRAINER_EXIT_REASONS)[number];

export function isTrainerExitReason(x: unknown): x is TrainerExitReason {
  return typeof x === 'string' && (TRAINER_EXIT_REASONS as readonly string[]).includes(x);
}
