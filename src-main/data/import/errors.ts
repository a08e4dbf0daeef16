/**
 * The one error importers throw: its message names the file (relative to the imported
 * path where that is shorter) and the row or entry, and says what is wrong.
 */
export class DataImportError extends Error {
  override name = 'DataImportError';
}

/** Throw `signal.reason` (an AbortError by default) when the import was cancelled. */
export function checkAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/** A library's error text cut to its first line and a readable length. */
export function shortError(err: unknown, max = 160): string {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
