/**
 * The trainer process. Started by host.ts as a Node child (process.send) or as an
 * Electron utility process (process.parentPort). Picks a backend, reports `ready`,
 * runs one job, reports the outcome and exits.
 */
import { initBackend } from './backend.ts';
import { errorCode, runEvalJob, runJob, type JobControl } from './job.ts';
import { STDERR_READY_MARK } from './port.ts';
import type { HostMessage, TrainerMessage } from '../contract/protocol.ts';

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

async function main(): Promise<void> {
  const control: JobControl = { cancelled: false };
  let started = false;
  let currentRun: string | null = null;
  let backend = 'unknown';
  type JobMessage = Extract<HostMessage, { type: 'start' | 'evaluate' }>;
  let startJob!: (msg: JobMessage) => void;
  const startMsg = new Promise<JobMessage>((resolve) => (startJob = resolve));
  onMessage((msg) => {
    if (msg.type === 'cancel') control.cancelled = true;
    else if (msg.type === 'ping') void send({ type: 'pong', id: msg.id });
    else if ((msg.type === 'start' || msg.type === 'evaluate') && !started) {
      started = true;
      startJob(msg);
    }
  });
  // The host may disappear (killed app): never outlive it.
  process.on('disconnect', () => process.exit(2));

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
  const msg = await startMsg;
  currentRun = msg.job.runId;
  try {
    if (msg.type === 'start') await runJob(msg.job, backend, (m) => void send(m), control);
    else await runEvalJob(msg.job, (m) => void send(m));
    return finish(0);
  } catch (err) {
    const e = err as Error;
    await send({ type: 'error', runId: currentRun, message: e.message, code: errorCode(err), ...(e.stack ? { stack: e.stack } : {}) });
    return finish(1);
  }
}

void main();
