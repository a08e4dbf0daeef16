/**
 * A Redis address as users give it (`redis://[user:password@]host:port[/db]`, or
 * `rediss://…` for TLS), checked once and shown only without its secret: the password
 * never reaches a log line, an error, the database or a worker listing.
 */

export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

export interface RedisAddress {
  /** The URL as given (with its secret): only ever handed to the Redis client. */
  url: string;
  tls: boolean;
  /** For messages: the URL with its password replaced by ***. */
  shown: string;
}

export function parseRedisUrl(text: string): RedisAddress {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RedisUrlError(`--redis wants a URL like redis://host:6379 or rediss://user:password@host:6380 (TLS); got ${JSON.stringify(redactText(text))}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUrlError(`--redis wants a redis:// or rediss:// URL, not ${u.protocol}//`);
  if (!u.hostname) throw new RedisUrlError('--redis: the URL names no host');
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) throw new RedisUrlError(`--redis: the database after the host is a number 0–15, not ${JSON.stringify(db)}`);
  return { url: text, tls: u.protocol === 'rediss:', shown: redact(u) };
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
