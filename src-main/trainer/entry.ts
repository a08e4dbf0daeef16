/**
 * The trainer process. Started by host.ts as a Node child (process.send) or as an
 * Electron utility process (process.parentPort). Picks a backend, reports `ready`,
 * then runs job after job (each reports its own outcome) until the host asks it to
 * `exit`, goes away, or a job fails in a way that may have broken the process.
 */
import { initBackend } from './backend.ts';
import { errorCode, runEvalJob, runJob, trainerMemoryNow, type JobControl } from './job.ts';
import { STDERR_READY_MARK } from './port.ts';
import { type HostMessage, type TrainerMessage, processIntact } from '../contract/protocol.ts';

interface ParentPort {
  on(event: 'message', cb: (e: { data: unknown }) => void): void;
  postMessage(msg: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

// The host owns this process's life: it cancels or kills it, and we exit when it goes
// away (see 'disconnect' below). A terminal's Ctrl-C (SIGINT) or hang-up (SIGHUP)
// reaches every process of its foreground group; dying of it here would turn the clean
// cancel the CLI is about to ask for into a crash.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

/** Never throws: a host that has gone away (EPIPE, closed channel) only ends the sending. */
function send(msg: TrainerMessage): Promise<void> {
  if (parentPort) {
    try {
      parentPort.postMessage(msg);
    } catch {
      /* the app is gone: 'disconnect' or the kill ends us */
    }
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    try {
      process.send(msg, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

function onMessage(cb: (msg: HostMessage) => void): void {
  if (parentPort) parentPort.on('message', (e) => cb(e.data as HostMessage));
  else process.on('message', (m) => cb(m as HostMessage));
}

async function finish(code: number): Promise<never> {
  // Let queued messages leave before the channel closes. process.send confirms delivery
  // through its callback; Electron's parentPort.postMessage does not, so give it a moment.
  await send({ type: 'pong', id: -1 });
  if (parentPort) await new Promise((r) => setTimeout(r, 250));
  process.exit(code);
}

type JobMessage = Extract<HostMessage, { type: 'start' | 'evaluate' }>;

async function main(): Promise<void> {
  /** The running job's control; null between jobs, so a late cancel never reaches the next one. */
  let control: JobControl | null = null;
  const waiting: JobMessage[] = [];
  let exitAsked = false;
  let wake: (() => void) | null = null;
  const poke = () => {
    wake?.();
    wake = null;
  };
  onMessage((msg) => {
    if (msg.type === 'cancel') {
      if (control) control.cancelled = true;
    } else if (msg.type === 'ping') void send({ type: 'pong', id: msg.id });
    else if (msg.type === 'memory') void send({ type: 'memory', id: msg.id, ...trainerMemoryNow() });
    else if (msg.type === 'exit') {
      exitAsked = true;
      poke();
    } else if (msg.type === 'start' || msg.type === 'evaluate') {
      waiting.push(msg);
      poke();
    }
  });
  // The host may disappear (killed app): never outlive it.
  process.on('disconnect', () => process.exit(2));

  let backend = 'unknown';
  try {
    const info = await initBackend();
    backend = info.name;
    // What the probe printed (Dawn's WebGPU warnings …) stays out of crash reports.
    process.stderr.write(`\n${STDERR_READY_MARK}\n`);
    await send({ type: 'ready', backend: info.name, device: info.device, pid: process.pid });
  } catch (err) {
    await send({ type: 'error', runId: null, message: (err as Error).message, code: 'backend' });
    return finish(1);
  }
  // Job after job (a warm trainer): TF.js, the backend and the data set stay loaded.
  for (;;) {
    while (!waiting.length && !exitAsked) await new Promise<void>((r) => (wake = r));
    const msg = waiting.shift();
    if (!msg) return finish(0);
    control = { cancelled: false };
    try {
      if (msg.type === 'start') await runJob(msg.job, backend, (m) => void send(m), control);
      else await runEvalJob(msg.job, (m) => void send(m));
    } catch (err) {
      const e = err as Error;
      const code = errorCode(err);
      await send({ type: 'error', runId: msg.job.runId, message: e.message, code, ...(e.stack ? { stack: e.stack } : {}) });
      // Anything but the job's own fault (a failed kernel, memory …) may have left the
      // engine in a bad state: this process takes no further job.
      if (!processIntact(code)) return finish(1);
    } finally {
      control = null;
    }
  }
}

void main();
