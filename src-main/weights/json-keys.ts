/**
 * Duplicate keys in JSON text. `JSON.parse` silently keeps the last of two equal keys,
 * so a safetensors header naming one tensor twice (two different byte ranges) would
 * pass unnoticed; this scan finds such keys. It expects text that JSON.parse has
 * already accepted, is iterative (no recursion, so deep nesting cannot overflow the
 * stack) and linear in the text's length.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

export interface DuplicateKey {
  key: string;
  /** Object nesting depth of the object holding it: 1 for the top-level object. */
  depth: number;
}

/** The first key that appears twice in one object of valid JSON `text`, or null. */
export function findDuplicateKey(text: string): DuplicateKey | null {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) j += 2;
        else if (d === QUOTE) break;
        else j++;
      }
      let k = j + 1;
      while (k < n && isWhitespace(text.charCodeAt(k))) k++;
      const keys = open[open.length - 1];
      // In valid JSON a string followed by ':' is always an object key.
      if (keys && text.charCodeAt(k) === COLON) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return { key, depth: open.length };
        keys.add(key);
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b) open.push(new Set());
    else if (c === 0x5b) open.push(null);
    else if (c === 0x7d || c === 0x5d) open.pop();
    i++;
  }
  return null;
}
