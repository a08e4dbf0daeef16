import { describe, expect, it } from 'vitest';
import { brief, parseJsonText, syntaxErrorAt, utf8Offset } from '../../src-main/weights/json-text.ts';
import { Rng } from '../../src-main/util/rng.ts';

describe('JSON text from files', () => {
  it('finds where the text stops being JSON, and agrees with JSON.parse on what is valid', () => {
    expect(syntaxErrorAt('{"a": [1, 2.5e-3, true, null, "x\\u00e9"]}')).toBe(-1);
    expect(syntaxErrorAt('root:x:0:0:root')).toBe(0);
    expect(syntaxErrorAt('{"a": root}')).toBe(6);
    expect(syntaxErrorAt('{"a": 1,}')).toBe(8);
    expect(syntaxErrorAt('[1, 2')).toBe(5); // ends early: the length
    expect(syntaxErrorAt('{} x')).toBe(3);
    expect(syntaxErrorAt('"a\nb"')).toBe(2);
    expect(syntaxErrorAt('[01]')).toBe(2);
    // Deep nesting is a loop, not recursion.
    expect(syntaxErrorAt('['.repeat(500_000) + ']'.repeat(500_000))).toBe(-1);
    expect(syntaxErrorAt('{"a":'.repeat(200_000))).toBe(1_000_000);
    // Mutations of valid JSON: valid exactly when JSON.parse accepts them.
    const seeds = ['{"r": 8, "lora_alpha": 16, "target_modules": ["linear1", "linear2"], "x": {"y": [true, false, null, -0.5e2]}}', '[1, "two", {"3": [4]}]'];
    const alphabet = '{}[]",:0123456789.-+eE tfnrulase\\u\n';
    const rng = new Rng(5);
    for (let k = 0; k < 20_000; k++) {
      const chars = [...(seeds[k % 2] as string)];
      for (let m = 0; m < 1 + rng.int(3); m++) {
        const at = rng.int(chars.length + 1);
        const op = rng.int(3);
        const c = alphabet[rng.int(alphabet.length)] as string;
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, c);
        else chars[at] = c;
      }
      const text = chars.join('');
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const at = syntaxErrorAt(text);
      expect(at === -1, text).toBe(valid);
      if (!valid) expect(at).toBeGreaterThanOrEqual(0);
    }
  });

  it('reports a failed parse by byte offset and never by content', () => {
    const r = parseJsonText('{"é": secret}');
    expect(r).toEqual({ ok: false, at: 6 });
    expect(utf8Offset('{"é": secret}', 6)).toBe(7); // é is two bytes
    expect(parseJsonText('[1]')).toEqual({ ok: true, value: [1] });
  });

  it('quotes at most a short piece of a value', () => {
    expect(brief('IA3')).toBe('"IA3"');
    expect(brief('x'.repeat(10_000))).toBe(`"${'x'.repeat(40)}…"`);
    expect(brief([1, 2])).toBe('a list');
    expect(brief({ a: 'secret' })).toBe('an object');
    expect(brief(undefined)).toBe('nothing');
    expect(brief(1e308)).toBe('1e+308');
  });
});
