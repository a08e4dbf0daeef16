/**
 * Plain-text tables for the terminal. Each cell is one line: a stored name holding a line
 * break, tab or escape code cannot forge rows or drive the terminal (see sanitize.ts).
 */
import { oneLine } from './sanitize.ts';

export function table(head: string[], rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const cells = [head, ...rows.map((r) => r.map((v) => oneLine(String(v))))];
  const widths = head.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) =>
    r.map((v, c) => ((align[c] ?? (c === 0 ? 'l' : 'r')) === 'l' ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number))).join('  ').trimEnd();
  return [fmt(head), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

export const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;

/** A number to `digits` significant digits (0.00001234, not 0.0000), whole numbers from 100 up. */
export const sig = (x: number, digits = 4) => (!Number.isFinite(x) || x === 0 ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(digits));

/** `1 point`, `2 points` (with the count formatted for reading). */
export const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
