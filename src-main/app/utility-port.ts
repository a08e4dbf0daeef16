/**
 * The trainer as an Electron utility process: the same trainer code (dist/trainer.js,
 * which talks over process.parentPort there) behind the same TrainerPort that host.ts
 * drives under Node. Messages are structured clones, so Float32Array weights travel as is.
 */
import { utilityProcess } from 'electron';
import type { HostMessage, TrainerMessage } from '../contract/protocol.ts';
import { type SpawnTrainer, StderrTail, type TrainerPort, trainerEntry } from '../trainer/port.ts';

/** The environment without unset entries (Electron wants strings only). */
export function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
  return out;
}

export const spawnUtilityTrainer: SpawnTrainer = (env) => {
  const entry = trainerEntry();
  const child = utilityProcess.fork(entry.path, [], {
    serviceName: 'LoRA Lab trainer',
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
  // A V8 fatal error: the exit that follows gets its reason.
  child.on('error', (type, location) => keep(`\n${type} at ${location}`));
  let exited = false;
  child.once('exit', () => {
    exited = true;
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
      child.once('exit', (code) => cb(code, null));
    },
    stderrTail: () => tail.text,
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
