/**
 * A Redis address as users give it (`redis://[user:password@]host:port[/db]`, or
 * `rediss://…` for TLS), checked once and shown only without its secret: the password
 * never reaches a log line, an error, the database or a worker listing. A TLS server
 * whose certificate a private CA signed is trusted through LORA_LAB_REDIS_CA (a PEM
 * file), read here so a wrong path is an error at start.
 */
import { readFileSync } from 'node:fs';

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

export interface RedisAddress {
  /** The URL as given (with its secret): only ever handed to the Redis client. */
  url: string;
  tls: boolean;
  /** A CA to trust for TLS besides the system's (PEM), from LORA_LAB_REDIS_CA. */
  ca?: Buffer;
  /** For messages: the URL with its password replaced by ***. */
  shown: string;
}

export function parseRedisUrl(text: string, env: NodeJS.ProcessEnv = process.env): RedisAddress {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RedisUrlError(`a queue URL looks like redis://host:6379 or rediss://user:password@host:6380 (TLS); got ${JSON.stringify(redactText(text))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUrlError(`a queue URL is redis:// or rediss://, not ${u.protocol}//`);
  if (!u.hostname) throw new RedisUrlError('the queue URL names no host');
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) throw new RedisUrlError(`in a queue URL the database after the host is a number 0–15, not ${JSON.stringify(db)}`);
  const tls = u.protocol === 'rediss:';
  const caFile = env.LORA_LAB_REDIS_CA;
  if (!tls || !caFile) return { url: text, tls, shown: redact(u) };
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new RedisUrlError(`LORA_LAB_REDIS_CA: cannot read the CA file ${caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new RedisUrlError(`LORA_LAB_REDIS_CA: ${caFile} is not a PEM certificate`);
  return { url: text, tls, ca, shown: redact(u) };
}

function redact(u: URL): string {
  const c = new URL(u.href);
  if (c.password) c.password = '***';
  return c.href.replace(/\/$/, '');
}

/** Any text that may hold a Redis URL (an error from the client), with passwords replaced. */
export function redactText(text: string): string {
  return text.replace(/(rediss?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
}
