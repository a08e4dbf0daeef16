/**
 * Text bound for the terminal that may hold what someone else stored (run, model and tag
 * names, notes, error texts written by another LoRA Lab or an old version). A terminal
 * obeys control characters: ESC starts sequences that clear the screen, set the window
 * title or rewrite earlier lines; \r overwrites a line; NUL and bidi overrides hide or
 * reorder text. Each such character is shown as a JSON-style `\uXXXX` escape instead.
 *
 * Why `\uXXXX`: it is readable, unambiguous about which character it was, and valid
 * inside a JSON string, so `--json` output passed through here still parses to the same
 * value (JSON.stringify already escapes C0 controls; DEL, C1 and bidi controls it leaves
 * raw, and `\u007f` in a string means exactly DEL).
 */

// C0 controls but \t and \n, DEL, C1 controls, and the bidi marks/overrides/isolates.
const LAYOUT_KEPT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// The same plus \t and \n: for one cell or one line of output.
const ALL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Whole output: our own line breaks and tabs stay, every other control is made visible. */
export function terminalSafe(text: string): string {
  return text.replace(LAYOUT_KEPT, escape);
}

/** One table cell or one line: line breaks and tabs are made visible too (no forged rows). */
export function oneLine(text: string): string {
  return text.replace(ALL_CONTROLS, escape);
}
