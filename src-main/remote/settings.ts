/**
 * Where a lab remembers its queue between starts (the desktop app and `lora-lab serve`):
 * a small JSON file beside its database (`lab.db` → `lab.queue.json`), readable only by
 * its owner (mode 0600), because the URL holds the Redis password — which the database
 * never does. Written whole (temporary file, then rename), so a crash leaves the old one.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class QueueSettingError extends Error {
  override name = 'QueueSettingError';
}

/** The queue file of database `dbFile`, or null for an in-memory database. */
export function queueFileFor(dbFile: string): string | null {
  if (dbFile === ':memory:') return null;
  const name = basename(dbFile).replace(/\.[^.]+$/, '');
  return join(dirname(dbFile), `${name || basename(dbFile)}.queue.json`);
}

/** The remembered URL, or null when none is; throws QueueSettingError for a file that is not one. */
export function readQueueSetting(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new QueueSettingError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new QueueSettingError(`${file} is not JSON: remove it, or set the queue again on the Workers page`);
  }
  const redis = (value as { redis?: unknown } | null)?.redis;
  if (typeof redis !== 'string' || redis.length > 2000) throw new QueueSettingError(`${file} names no queue ({"redis": "redis://…"}): remove it, or set the queue again on the Workers page`);
  return redis;
}

/** Remembers `url` (null: forgets it, the file removed). */
export function writeQueueSetting(file: string, url: string | null): void {
  if (url === null) return void rmSync(file, { force: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ redis: url })}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // an existing file's mode, whatever the umask
  renameSync(tmp, file);
}
