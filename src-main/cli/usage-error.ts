/** A command used wrongly (a flag, a value, a name): one line on stderr, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
