/**
 * The trainer as an Electron utility process: the same trainer code (dist/trainer.js,
 * which talks over process.parentPort there) behind the same TrainerPort that host.ts
 * drives under Node. Messages are structured clones, so Float32Array weights travel as is.
 *
 * Why a trainer ended comes from `app`'s `child-process-gone` event (main.ts hands it to
 * `trainerGone`), as in VS Code's utility-process wrapper: every trainer is forked under
 * a service name of its own, which Electron reports back as `details.name`. The
 * utility process's own `exit` carries only a code.
 */
import { type Details, utilityProcess } from 'electron';
import type { TrainerExitReason } from '../contract/exit-reasons.ts';
import type { HostMessage, TrainerMessage } from '../contract/protocol.ts';
import { type SpawnTrainer, StderrTail, type TrainerPort, trainerEntry } from '../trainer/port.ts';

// Electron's reasons and ours are the same list: this fails to compile when they differ.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const SAME_REASONS: Same<Details['reason'], TrainerExitReason> = true;
void SAME_REASONS;

/**
 * Electron emits `child-process-gone` only for an abnormal end, and not in a fixed order
 * with the process's `exit`: a non-zero exit waits this long for its details (and gone
 * details this long for the exit) before it is reported without them.
 */
export const GONE_WAIT_MS = 2000;

/** The service name of every trainer forked so far, to the one that hears its details. */
const watched = new Map<string, (details: Details) => void>();
let forked = 0;

/**
 * For main.ts: `app.on('child-process-gone', (_e, details) => trainerGone(details))`.
 * True when the process was one of our trainers (its port then reports the reason).
 */
export function trainerGone(details: Details): boolean {
  if (details.type !== 'Utility') return false;
  // The fork's serviceName arrives as `name` (electron.d.ts, ForkOptions.serviceName);
  // `serviceName` is Chromium's metrics name, matched too in case a version swaps them.
  const hear = watched.get(details.name ?? '') ?? watched.get(details.serviceName ?? '');
  if (!hear) return false;
  hear(details);
  return true;
}

/** The environment without unset entries (Electron wants strings only). */
export function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

export const spawnUtilityTrainer: SpawnTrainer = (env) => {
  const entry = trainerEntry();
  const serviceName = `lora-lab-trainer-${++forked}`;
  const child = utilityProcess.fork(entry.path, [], {
    serviceName,
    // stdout goes where the app's goes; stderr is kept for crash reports.
    stdio: ['ignore', 'inherit', 'pipe'],
    execArgv: entry.execArgv,
    env: cleanEnv(env),
  });
  const tail = new StderrTail();
  const keep = (text: string) => tail.add(text);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => keep(chunk));
  // A pipe that breaks as the child dies must not become an uncaught error in the app.
  child.stderr?.on('error', () => undefined);
  // A V8 fatal error (an out-of-memory one among them): the exit that follows gets its reason.
  child.on('error', (type, location) => keep(`\n${type} at ${location}`));

  // The exit is reported once, with the reason, when both halves are in (or one has waited GONE_WAIT_MS).
  const exitCbs: Parameters<TrainerPort['onExit']>[0][] = [];
  let exitCode: number | null = null;
  let gone: Details | null = null;
  let reported: { code: number | null; reason: TrainerExitReason } | null = null;
  let wait: NodeJS.Timeout | null = null;
  const report = (code: number | null, reason: TrainerExitReason) => {
    if (reported) return;
    reported = { code, reason };
    if (wait) clearTimeout(wait);
    watched.delete(serviceName);
    for (const cb of exitCbs) cb(code, null, reason);
  };
  // Chromium may only call it a crash or an abnormal exit; the trainer's own out-of-memory
  // line says more (as under Node: trainer/exit.ts).
  const reasonOf = (d: Details): TrainerExitReason =>
    (d.reason === 'crashed' || d.reason === 'abnormal-exit') && tail.oomLine ? 'oom' : d.reason;
  watched.set(serviceName, (d) => {
    gone = d;
    if (exitCode !== null) report(exitCode, reasonOf(d));
    else wait ??= setTimeout(() => report(d.exitCode, reasonOf(d)), GONE_WAIT_MS);
  });
  let exited = false;
  child.once('exit', (code) => {
    exited = true;
    exitCode = code;
    if (wait) clearTimeout(wait);
    wait = null;
    if (gone) report(code, reasonOf(gone));
    else if (code === 0) report(0, 'clean-exit');
    else wait = setTimeout(() => report(code, tail.oomLine ? 'oom' : 'abnormal-exit'), GONE_WAIT_MS);
  });

  const port: TrainerPort = {
    get pid() {
      return child.pid;
    },
    post: (msg: HostMessage) => {
      if (exited) return;
      try {
        child.postMessage(msg);
      } catch {
        /* the process died before its 'exit' arrived: that exit reports the reason */
      }
    },
    onMessage: (cb) => {
      child.on('message', (m: unknown) => cb(m as TrainerMessage));
    },
    onExit: (cb) => {
      if (reported) cb(reported.code, null, reported.reason);
      else exitCbs.push(cb);
    },
    stderrTail: () => tail.text,
    oomLine: () => tail.oomLine,
    kill: () => {
      if (exited) return;
      try {
        child.kill();
      } catch {
        /* already gone */
      }
    },
  };
  return port;
};
