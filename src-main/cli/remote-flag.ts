/**
 * The host's `--redis URL` (serve, train, finetune, sweep): runs go to remote workers
 * on that Redis instead of local trainers. Connecting is checked up front: an
 * unreachable Redis or a refused password is one line and exit 1, before anything runs.
 */
import { RemoteDispatcher } from '../remote/dispatcher.ts';
import { RemoteError } from '../remote/connect.ts';
import { RedisUrlError, parseRedisUrl } from '../remote/redis-url.ts';
import { UsageError } from './options.ts';

export type { RemoteDispatcher };

/** Commands that train runs, and so may send them to workers. */
const REMOTE_COMMANDS = new Set(['serve', 'train', 'finetune', 'sweep']);

export class RemoteConnectError extends Error {
  override name = 'RemoteConnectError';
}

/** `argv` without `--redis URL` / `--redis=URL`, and the URL (null when not given). */
export function takeRedisFlag(cmd: string, argv: string[]): { argv: string[]; redis: string | null } {
  const out: string[] = [];
  let redis: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--redis' || a.startsWith('--redis=')) {
      if (!REMOTE_COMMANDS.has(cmd)) throw new UsageError(`--redis is for commands that train runs (${[...REMOTE_COMMANDS].join(', ')}); a worker takes it as lora-lab worker --redis URL`);
      const value = a === '--redis' ? argv[++i] : a.slice('--redis='.length);
      if (value === undefined || value === '') throw new UsageError('--redis needs a URL (redis://host:6379)');
      redis = value;
      continue;
    }
    out.push(a);
  }
  return { argv: out, redis };
}

export async function connectRemote(url: string): Promise<RemoteDispatcher> {
  let address;
  try {
    address = parseRedisUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new UsageError(err.message.startsWith('LORA_LAB_') ? err.message : `--redis: ${err.message}`);
    throw err;
  }
  try {
    return await RemoteDispatcher.connect(address);
  } catch (err) {
    if (err instanceof RemoteError) throw new RemoteConnectError(err.message);
    throw err;
  }
}
