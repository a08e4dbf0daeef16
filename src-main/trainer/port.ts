/**
 * The port adapter: a started trainer process as the host sees it, whether it is a
 * Node child (`child_process.fork`, CLI / web mode / tests) or an Electron utility
 * process (see src-main/app/utility-port.ts). host.ts only knows this interface.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TrainerExitReason } from '../contract/exit-reasons.ts';
import type { HostMessage, TrainerMessage } from '../contract/protocol.ts';
import { OUT_OF_MEMORY, nodeExitReason } from './exit.ts';

export interface TrainerPort {
  readonly pid: number | undefined;
  post(msg: HostMessage): void;
  onMessage(cb: (msg: TrainerMessage) => void): void;
  /**
   * Each callback is called once, also when the process never started (`launch-failed`); `signal` is null
   * for a normal exit and under Electron, which reports the reason instead.
   */
  onExit(cb: (code: number | null, signal: string | null, reason: TrainerExitReason) => void): void;
  /** Last lines the process wrote to stderr (for crash reports). */
  stderrTail(): string;
  /** The out-of-memory line it printed, if any (see StderrTail). */
  oomLine(): string | null;
  kill(): void;
  /**
   * Whether the process keeps this one alive: a trainer waiting between jobs must not
   * hold a CLI open (optional: a port without it keeps the default).
   */
  ref?(active: boolean): void;
}

export type SpawnTrainer = (env: NodeJS.ProcessEnv) => TrainerPort;

/** The trainer entry next to this module: entry.ts from source, trainer.js from a build. */
export function trainerEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(here).resolve('tsx')).href;
    return { path: fileURLToPath(new URL('./entry.ts', here)), execArgv: ['--import', tsx] };
  }
  const built = fileURLToPath(new URL('./trainer.js', here));
  if (!existsSync(built)) throw new Error(`trainer entry not found at ${built}: run npm run build`);
  return { path: built, execArgv: [] };
}

const TAIL_BYTES = 4000;
/** After a child's exit, how long its stderr may take to close before the exit is reported anyway. */
const STDERR_CLOSE_WAIT_MS = 1000;

/**
 * The line the trainer writes to stderr once its backend has started (entry.ts). What
 * came before it is the backend probe's chatter (Dawn's WebGPU warnings, TensorFlow's
 * banner …), unrelated to a later crash, so crash reports keep only what follows it.
 */
export const STDERR_READY_MARK = '[lora-lab trainer: backend ready]';

/**
 * Keeps the last bytes a trainer wrote to stderr, from its ready mark on once that is
 * seen, and the first out-of-memory line it printed (V8's stack dump after that line can
 * be longer than the tail).
 */
export class StderrTail {
  #text = '';
  #oomLine: string | null = null;
  add(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-TAIL_BYTES - STDERR_READY_MARK.length);
    const at = this.#text.lastIndexOf(STDERR_READY_MARK);
    if (at >= 0) this.#text = this.#text.slice(at + STDERR_READY_MARK.length);
    else this.#text = this.#text.slice(-TAIL_BYTES);
    // Checked on the kept text, so a line split across chunks is found once complete.
    if (this.#oomLine === null && OUT_OF_MEMORY.test(this.#text)) {
      this.#oomLine = this.#text.split('\n').find((l) => OUT_OF_MEMORY.test(l))?.trim() ?? null;
    }
  }
  get text(): string {
    return this.#text.trim();
  }
  /** The out-of-memory line, if the trainer printed one. */
  get oomLine(): string | null {
    return this.#oomLine;
  }
}

/** Trainers as Node children; `execPath` is the Node binary (default: this process's). */
export function nodeTrainer(opts: { execPath?: string } = {}): SpawnTrainer {
  return (env) => spawnNode(env, opts.execPath);
}

export const spawnNodeTrainer: SpawnTrainer = nodeTrainer();

function spawnNode(env: NodeJS.ProcessEnv, execPath: string | undefined): TrainerPort {
  const entry = trainerEntry();
  const child = fork(entry.path, [], {
    ...(execPath ? { execPath } : {}),
    serialization: 'advanced',
    execArgv: [...entry.execArgv, '--no-warnings'],
    env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    // Its own process group (POSIX): Ctrl-C in a terminal signals the whole foreground
    // group, and the trainer must not die of it — the host cancels it cleanly instead.
    // (On Windows `detached` would open a console; entry.ts ignores SIGINT there.)
    detached: process.platform !== 'win32',
  });
  const tail = new StderrTail();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => tail.add(chunk));
  // A pipe that breaks as the child dies must not become an uncaught error in the host.
  child.stderr?.on('error', () => undefined);
  // Reported once the child's stderr has closed ('close'), so an out-of-memory line
  // written as it died is in; a child that could not be started (ENOENT, EAGAIN …)
  // emits 'error' and 'close', never 'exit'.
  const exitCbs: Parameters<TrainerPort['onExit']>[0][] = [];
  let exit: { code: number | null; signal: string | null; reason: TrainerExitReason } | null = null;
  let ended: { code: number | null; signal: string | null } | null = null;
  let spawnFailed = false;
  const report = () => {
    if (exit) return;
    const { code, signal } = ended ?? { code: null, signal: null };
    exit = { code, signal, reason: nodeExitReason({ code, signal, outOfMemory: tail.oomLine !== null, spawnFailed }) };
    for (const cb of exitCbs) cb(exit.code, exit.signal, exit.reason);
  };
  child.once('exit', (code, signal) => {
    ended = { code, signal };
    // A grandchild holding the pipe open must not hold the report back.
    setTimeout(report, STDERR_CLOSE_WAIT_MS);
  });
  child.once('close', report);
  // send() to a child whose channel has just closed reports EPIPE / ERR_IPC_CHANNEL_CLOSED
  // here (or to its callback); without a listener that error would kill the host. The
  // child's 'exit' that follows settles the run with the real reason.
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (!err.syscall?.startsWith('spawn')) return;
    tail.add(`\n${err.message}`);
    if (child.pid === undefined) spawnFailed = true;
  });
  return {
    pid: child.pid,
    post: (msg) => {
      if (!child.connected) return;
      try {
        child.send(msg, undefined, {}, () => undefined);
      } catch {
        /* the channel closed in between, or the message cannot be serialised: the exit (or the job's timeout) reports it */
      }
    },
    onMessage: (cb) => child.on('message', (m) => cb(m as TrainerMessage)),
    onExit: (cb) => {
      if (exit) cb(exit.code, exit.signal, exit.reason);
      else exitCbs.push(cb);
    },
    stderrTail: () => tail.text,
    oomLine: () => tail.oomLine,
    kill: () => {
      if (!exit && child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    ref: (active) => {
      // The child, its IPC channel and its stderr pipe each hold the event loop.
      const handles = [child, child.channel, child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
      for (const h of handles) {
        if (active) h?.ref?.();
        else h?.unref?.();
      }
    },
  };
}
