/**
 * The port adapter: a started trainer process as the host sees it, whether it is a
 * Node child (`child_process.fork`, CLI / web mode / tests) or an Electron utility
 * process (see src-main/app/utility-port.ts). host.ts only knows this interface.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostMessage, TrainerMessage } from '../contract/protocol.ts';

export interface TrainerPort {
  readonly pid: number | undefined;
  post(msg: HostMessage): void;
  onMessage(cb: (msg: TrainerMessage) => void): void;
  /** Called once; `signal` is null for a normal exit. */
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  /** Last lines the process wrote to stderr (for crash reports). */
  stderrTail(): string;
  kill(): void;
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

/**
 * The line the trainer writes to stderr once its backend has started (entry.ts). What
 * came before it is the backend probe's chatter (Dawn's WebGPU warnings, TensorFlow's
 * banner …), unrelated to a later crash, so crash reports keep only what follows it.
 */
export const STDERR_READY_MARK = '[lora-lab trainer: backend ready]';

/** Keeps the last bytes a trainer wrote to stderr, from its ready mark on once that is seen. */
export class StderrTail {
  #text = '';
  add(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-TAIL_BYTES - STDERR_READY_MARK.length);
    const at = this.#text.lastIndexOf(STDERR_READY_MARK);
    if (at >= 0) this.#text = this.#text.slice(at + STDERR_READY_MARK.length);
    else this.#text = this.#text.slice(-TAIL_BYTES);
  }
  get text(): string {
    return this.#text.trim();
  }
}

export const spawnNodeTrainer: SpawnTrainer = (env) => {
  const entry = trainerEntry();
  const child = fork(entry.path, [], {
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
  // send() to a child whose channel has just closed reports EPIPE / ERR_IPC_CHANNEL_CLOSED
  // here (or to its callback); without a listener that error would kill the host. The
  // child's 'exit' that follows settles the run with the real reason.
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (err.syscall?.startsWith('spawn')) tail.add(`\n${err.message}`);
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
    onExit: (cb) => child.once('exit', (code, signal) => cb(code, signal)),
    stderrTail: () => tail.text,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
};
