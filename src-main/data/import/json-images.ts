/**
 * A scanner for `{"data": [[v, v, …], …]}` files of fixed-length byte images (the
 * fashion-mnist package's class files), straight from the file's bytes: no JS array per
 * image, so a 16 MB class file costs its buffer and not ~60 MB of parsed arrays. An entry
 * that is not a flat list of small integers is handed to JSON.parse and judged there.
 */
const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonImagesError extends Error {
  override name = 'JsonImagesError';
}

/**
 * Call `onEntry` for each element of the "data" array: with `row` filled (length `size`)
 * when the element is `size` integers 0–255, with null otherwise, and the byte offset
 * where the element ends (for progress). Returns the element count.
 */
export function scanJsonImages(buf: Uint8Array, size: number, file: string, onEntry: (row: Uint8Array | null, at: number) => void): number {
  const head = new TextDecoder().decode(buf.subarray(0, 64));
  const m = /^\uFEFF?\s*\{\s*"data"\s*:\s*\[/.exec(head);
  if (!m) throw new JsonImagesError(`${file}: expected {"data": [...]} at the start`);
  const row = new Uint8Array(size);
  const n = buf.length;
  const ws = (p: number) => {
    while (p < n && WS[buf[p] as number]) p++;
    return p;
  };
  const fail = (p: number, what: string): never => {
    throw new JsonImagesError(`${file}: ${what} at byte ${p}`);
  };

  /** The end of the JSON value at p (depth- and string-aware). */
  const valueEnd = (p: number): number => {
    let depth = 0;
    let inString = false;
    for (let q = p; q < n; q++) {
      const c = buf[q] as number;
      if (inString) {
        if (c === BACKSLASH) q++;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN || c === 0x7b) depth++;
      else if (c === CLOSE || c === 0x7d) {
        if (depth === 0) return q;
        if (--depth === 0) return q + 1;
      } else if (depth === 0 && (c === COMMA || WS[c])) return q;
    }
    return fail(p, 'unterminated value');
  };

  /** Judge the element at p with JSON.parse; returns its end. */
  const slow = (p: number): number => {
    const end = valueEnd(p);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(buf.subarray(p, end)));
    } catch {
      return fail(p, 'invalid JSON');
    }
    let ok = Array.isArray(value) && value.length === size;
    if (ok) {
      for (let i = 0; i < size; i++) {
        const v = (value as unknown[])[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) ok = false;
        else row[i] = v;
      }
    }
    onEntry(ok ? row : null, end);
    return end;
  };

  /** The element at p, fast when it is a flat list of digit runs. */
  const entry = (p: number): number => {
    if (buf[p] !== OPEN) return slow(p);
    let q = ws(p + 1);
    if (buf[q] === CLOSE) {
      onEntry(null, q + 1);
      return q + 1;
    }
    let count = 0;
    let ok = true;
    for (;;) {
      let v = 0;
      let digits = 0;
      for (let c = buf[q] as number; c >= 0x30 && c <= 0x39; c = buf[++q] as number) {
        v = v * 10 + (c - 0x30);
        digits++;
      }
      if (digits === 0 || digits > 9) return slow(p);
      if (v > 255 || count >= size) ok = false;
      else row[count] = v;
      count++;
      q = ws(q);
      const c = buf[q];
      if (c === COMMA) q = ws(q + 1);
      else if (c === CLOSE) break;
      else return slow(p);
    }
    onEntry(ok && count === size ? row : null, q + 1);
    return q + 1;
  };

  let p = ws(Buffer.byteLength(m[0]));
  let count = 0;
  if (buf[p] === CLOSE) p++;
  else {
    for (;;) {
      p = ws(entry(ws(p)));
      count++;
      if (buf[p] === COMMA) p++;
      else if (buf[p] === CLOSE) {
        p++;
        break;
      } else fail(p, 'expected , or ]');
    }
  }
  p = ws(p);
  if (buf[p] !== 0x7d || ws(p + 1) !== n) fail(p, 'expected } at the end');
  return count;
}
