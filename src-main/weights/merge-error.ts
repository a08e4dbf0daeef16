/** A merge that cannot be done as asked: the message says why (shown to the user as is). */
export class MergeError extends Error {
  override name = 'MergeError';
}
