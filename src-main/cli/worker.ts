/**
 * `lora-lab worker --redis URL [--concurrency N] [--name NAME] [--cache DIR]`: a remote
 * worker (src-main/remote/worker.ts) until Ctrl-C or SIGTERM. It opens no database.
 * Unreachable Redis or a refused password: one line, exit 1.
 */
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { RemoteError } from '../remote/connect.ts';
import { RedisUrlError, parseRedisUrl } from '../remote/redis-url.ts';
import { RemoteWorker } from '../remote/worker.ts';
import { UsageError, parse } from './options.ts';
import { terminalSafe } from './sanitize.ts';

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    name: { type: 'string' },
    cache: { type: 'string' },
    backend: { type: 'string' },
  });
  const url = (values['redis'] as string | undefined) ?? process.env['LORA_LAB_REDIS'];
  if (!url) throw new UsageError('worker needs --redis URL (or LORA_LAB_REDIS): the Redis its host queues runs on');
  let redis;
  try {
    redis = parseRedisUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new UsageError(err.message.startsWith('LORA_LAB_') ? err.message : `--redis: ${err.message}`);
    throw err;
  }
  const concurrency = values['concurrency'] === undefined ? 1 : Number(values['concurrency']);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError(`--concurrency must be an integer from 1 to 64, got "${values['concurrency']}"`);
  const name = (values['name'] as string | undefined) ?? `${hostname()}-${process.pid}`;
  if (!/^[0-9A-Za-z_.-]{1,100}$/.test(name)) throw new UsageError('--name is 1–100 letters, digits, ".", "_" or "-"');
  const cacheDir = (values['cache'] as string | undefined) ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'lora-lab', 'worker');
  const backend = values['backend'] as string | undefined;
  let worker: RemoteWorker;
  try {
    worker = await RemoteWorker.start({
      redis,
      name,
      concurrency,
      cacheDir,
      host: { env: backend ? { ...process.env, LORA_LAB_BACKEND: backend } : process.env },
      log: (line) => console.log(terminalSafe(line)),
      ...(process.env['LORA_LAB_WORKER_LOCK_MS'] ? { lockMs: Number(process.env['LORA_LAB_WORKER_LOCK_MS']), stalledMs: Number(process.env['LORA_LAB_WORKER_LOCK_MS']) } : {}),
    });
  } catch (err) {
    if (err instanceof RemoteError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return 1;
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.log(`worker ${name} stopping`);
  await worker.close();
  return 0;
}
