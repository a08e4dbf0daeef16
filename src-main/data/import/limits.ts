/**
 * What an import may cost. Every check runs before the memory is allocated, from the
 * sizes a header or a directory listing claims, so a hostile file is refused cheaply.
 */
import { MAX_CLASSES } from '../dataset.ts';
import { DataImportError } from './errors.ts';

export { MAX_CLASSES };

/** Bytes of samples (x, train and test together) one data set may hold in memory. */
export const MAX_X_BYTES = 1.5e9;
/** What a .gz file may expand to, whatever its header says. */
export const MAX_GUNZIP_BYTES = 2 * 1024 ** 3;
/** Pixels one image may have (4096 × 4096); larger headers are refused before decoding. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;
/** Images decoded at once. */
export const DECODE_CONCURRENCY = 6;

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** Refuse a data set whose samples would take more than MAX_X_BYTES. */
export function checkXBytes(bytes: number, what: string): void {
  if (bytes > MAX_X_BYTES) {
    throw new DataImportError(`${what}: ${formatBytes(bytes)} of samples, more than the ${formatBytes(MAX_X_BYTES)} a data set may hold`);
  }
}

export function checkClassCount(n: number, what: string): void {
  if (n > MAX_CLASSES) throw new DataImportError(`${what}: ${n} classes, at most ${MAX_CLASSES} are supported`);
  if (n < 2) throw new DataImportError(`${what}: ${n} class${n === 1 ? '' : 'es'} found, a classifier needs at least 2`);
}
