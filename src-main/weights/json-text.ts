/**
 * JSON text from files, parsed without ever quoting it back. Node 20's SyntaxError
 * quotes the text ("Unexpected token 'r', "root:x:0:0:"... is not valid JSON"), and an
 * error that travels to a UI or a log must not carry a file's content. So a failed
 * parse is reported by position only: `syntaxErrorAt` finds where the text stops
 * being JSON with an iterative scan (no recursion, so deep nesting cannot overflow).
 */

export type JsonText = { ok: true; value: unknown } | { ok: false; at: number };

/** JSON.parse, or the index of the character where `text` stops being valid JSON. */
export function parseJsonText(text: string): JsonText {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, at: Math.max(0, syntaxErrorAt(text)) };
  }
}

/** The UTF-8 byte offset of character `index` of `text`. */
export function utf8Offset(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index), 'utf8');
}

const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t

/** Index of the first character that makes `text` invalid JSON (text.length: it ends early), or -1 when it is valid. */
export function syntaxErrorAt(text: string): number {
  const n = text.length;
  let i = 0;
  const stack: ('array' | 'object')[] = [];
  const skipWs = () => {
    while (i < n && isWs(text.charCodeAt(i))) i++;
  };
  /** Past one string starting at i; false where it breaks (i is then the position). */
  const string = (): boolean => {
    i++; // the opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = text.charCodeAt(i + 1);
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            if (!isHex(text.charCodeAt(i + k))) {
              i = Math.min(i + k, n);
              return false;
            }
          }
          i += 6;
        } else if (ESCAPES.has(e)) i += 2;
        else {
          i = Math.min(i + 1, n);
          return false;
        }
      } else i++;
    }
    return false;
  };
  const digits = (): boolean => {
    if (!isDigit(text.charCodeAt(i))) return false;
    while (isDigit(text.charCodeAt(i))) i++;
    return true;
  };
  const number = (): boolean => {
    if (text.charCodeAt(i) === 0x2d) i++; // -
    if (text.charCodeAt(i) === 0x30) i++;
    else if (!digits()) return false;
    if (text.charCodeAt(i) === 0x2e && (i++, !digits())) return false;
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const s = text.charCodeAt(i);
      if (s === 0x2b || s === 0x2d) i++;
      if (!digits()) return false;
    }
    return true;
  };
  const literal = (word: string): boolean => {
    for (let k = 0; k < word.length; k++, i++) if (text.charCodeAt(i) !== word.charCodeAt(k)) return false;
    return true;
  };
  /** `"name" :` at i. */
  const key = (): boolean => {
    skipWs();
    if (text.charCodeAt(i) !== 0x22 || !string()) return false;
    skipWs();
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    return true;
  };
  const scalar = (c: number): boolean => {
    if (c === 0x22) return string();
    if (c === 0x2d || isDigit(c)) return number();
    if (c === 0x74) return literal('true');
    if (c === 0x66) return literal('false');
    if (c === 0x6e) return literal('null');
    return false;
  };

  // Two states: a value is expected at i, or one has just ended and the enclosing
  // container (top of the stack) says what may follow.
  let expectValue = true;
  for (;;) {
    skipWs();
    const c = text.charCodeAt(i);
    if (expectValue) {
      if (c === 0x7b || c === 0x5b) {
        i++;
        skipWs();
        if (text.charCodeAt(i) === (c === 0x7b ? 0x7d : 0x5d)) {
          i++;
          expectValue = false;
          continue;
        }
        stack.push(c === 0x7b ? 'object' : 'array');
        if (c === 0x7b && !key()) return Math.min(i, n);
        continue;
      }
      if (!scalar(c)) return Math.min(i, n);
      expectValue = false;
      continue;
    }
    const top = stack.at(-1);
    if (top === undefined) return i < n ? i : -1;
    if (c === 0x2c) {
      i++;
      if (top === 'object' && !key()) return Math.min(i, n);
      expectValue = true;
    } else if (c === (top === 'object' ? 0x7d : 0x5d)) {
      stack.pop();
      i++;
    } else return Math.min(i, n);
  }
}

/**
 * A value read from a file, for an error message: numbers and booleans as they are,
 * strings quoted and cut short, structures by kind only, so a message never carries
 * more of a file than a short name.
 */
export function brief(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'nothing';
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v;
}
