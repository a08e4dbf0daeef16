/**
 * The port adapter: a started trainer process as the host sees it, whether it is a
 * Node child (`child_process.fork`, CLI / web mode / tests) or an Electron utility
 * process (see src-main/app/utility-port.ts). host.ts only knows this interface.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostMessage, TrainerMessage } from './protocol.ts';

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

export const spawnNodeTrainer: SpawnTrainer = (env) => {
  const entry = trainerEntry();
  const child = fork(entry.path, [], {
    serialization: 'advanced',
    execArgv: [...entry.execArgv, '--no-warnings'],
    env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-TAIL_BYTES);
  });
  return {
    pid: child.pid,
    post: (msg) => {
      if (child.connected) child.send(msg);
    },
    onMessage: (cb) => child.on('message', (m) => cb(m as TrainerMessage)),
    onExit: (cb) => child.once('exit', (code, signal) => cb(code, signal)),
    stderrTail: () => tail.trim(),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
};
