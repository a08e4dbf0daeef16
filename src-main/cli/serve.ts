/**
 * `lora-lab serve`: web mode. The Lab service and the UI on 127.0.0.1 with a random
 * token in the URL; Ctrl-C stops it (running trainers are stopped, their runs marked
 * interrupted).
 */
import { spawn } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { startServer } from '../server/server.ts';
import { rendererDir } from '../server/static-dir.ts';
import { UsageError, commonFlags, parse } from './options.ts';
import type { Session } from './session.ts';

export const serveFlags = {
  ...commonFlags,
  port: { type: 'string' },
  host: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  open: { type: 'boolean' },
  concurrency: { type: 'string' },
  backend: { type: 'string' },
} as const;

export async function serveCommand(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, serveFlags);
  const port = values['port'] === undefined ? 0 : Number(values['port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, got "${values['port']}"`);
  const host = typeof values['host'] === 'string' ? values['host'] : '127.0.0.1';
  if (!isLoopback(host)) {
    if (!values['allow-remote']) throw new UsageError(`--host ${host} is not a loopback address, so other machines can reach the server and only the token guards the lab: anyone on the network who has the token URL can train, delete runs and models, and read and write the export folder; add --allow-remote to serve there anyway.`);
    console.error(`lora-lab: serving on ${host} (--allow-remote): anyone on the network who has the token URL can train, delete runs and models, and read and write the export folder; share it only over a network you trust.`);
  }
  const staticDir = rendererDir();
  if (!staticDir) console.error('lora-lab: the user interface is not built (npm run build); serving the API only.');
  const lab = s.lab();
  // The queue set on the Workers page last time (none given by --redis): used when it can be reached.
  const problem = await lab.connectRememberedQueue();
  if (problem) console.error(`lora-lab: ${problem}`);
  // Like the app, web mode goes on with sweeps whose process is gone (a short CLI command never does).
  for (const sweep of await lab.listSweeps()) if (sweep.status === 'paused') await lab.resumeSweep(sweep.id).catch(() => undefined);
  const server = await startServer({ lab, host, port, staticDir });
  console.log(`LoRA Lab is running at ${server.url}`);
  console.log(`database: ${lab.databaseFile}`);
  const { queue } = await lab.listWorkers().catch(() => ({ queue: null }));
  if (queue) console.log(`runs are queued on ${queue} (remote workers)`);
  if (values['open']) openBrowser(server.url);
  // Stay subscribed while stopping: a second Ctrl-C must not kill the process before the
  // Lab has stopped its trainers and marked their runs.
  let stopping = false;
  await new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return void console.error('lora-lab: still stopping (trainers are being shut down)…');
      stopping = true;
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.error('lora-lab: stopping…');
  await server.close();
}

/** Only the machine itself can reach these: 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && isIPv4(mapped[1] as string) && (mapped[1] as string).startsWith('127.');
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    spawn(cmd, args, { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
  } catch {
    /* no browser opener: the URL is printed */
  }
}
