/**
 * Redis connections for hosts and workers: the URL's TLS and password as given, a
 * first PING within a deadline so an unreachable or misconfigured Redis is a clear
 * error at start (not a hang), then ioredis's own reconnecting for a Redis restarted
 * later. Every error text is stripped of the URL's secret.
 */
import { Redis } from 'ioredis';
import type { RedisAddress } from './redis-url.ts';
import { redactText } from './redis-url.ts';

export class RemoteError extends Error {
  override name = 'RemoteError';
}

/** A connection BullMQ can use (it needs maxRetriesPerRequest: null for blocking calls). */
export function connection(addr: RedisAddress, name: string): Redis {
  const redis = new Redis(addr.url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    lazyConnect: true,
    // Back off to at most 2 s between tries, forever: a restarted Redis is found again.
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
    ...(addr.tls ? { tls: addr.ca ? { ca: addr.ca } : {} } : {}),
  });
  // While Redis is away ioredis retries; each failed try is an 'error' that must not go unheard.
  redis.on('error', () => {});
  return redis;
}

/** Connects and PINGs within `timeoutMs`, or throws one line saying why (secret removed). */
export async function connectChecked(addr: RedisAddress, name: string, timeoutMs = 5000): Promise<Redis> {
  const redis = connection(addr, name);
  let lastError: Error | null = null;
  const onError = (err: Error) => (lastError = err);
  redis.on('error', onError);
  try {
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
  } catch (err) {
    redis.disconnect();
    const why = describe((lastError ?? err) as Error);
    throw new RemoteError(`cannot reach Redis at ${addr.shown}: ${why}`);
  } finally {
    redis.off('error', onError);
  }
  // Later errors (a restart) are retried by ioredis; they must not crash the process.
  redis.on('error', () => {});
  return redis;
}

function describe(err: Error): string {
  const m = redactText(err.message || String(err));
  if (/WRONGPASS|invalid username-password|NOAUTH|AUTH/i.test(m)) return `the password (or ACL user) was refused (${m.split('\n')[0]})`;
  if (/certificate|self.signed|SSL|TLS|wrong version number/i.test(m)) return `TLS failed (${m.split('\n')[0]}); a certificate of a private CA needs LORA_LAB_REDIS_CA=ca.pem`;
  if (/ECONNRESET|Connection is closed/.test(m)) return 'the server closed the connection (a TLS-only port? then the URL is rediss://)';
  if (/ECONNREFUSED/.test(m)) return 'connection refused (is redis-server running there?)';
  if (/ENOTFOUND|EAI_AGAIN/.test(m)) return 'the host name does not resolve';
  if (/timed out|ETIMEDOUT/.test(m)) return 'no answer (a firewall, or the wrong port?)';
  return m.split('\n')[0] as string;
}
