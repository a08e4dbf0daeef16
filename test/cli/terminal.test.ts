/**
 * Terminal escape injection. A run whose name, tags, notes, error and device hold NUL,
 * ESC]0;…BEL (set the window title), ESC[2J (clear the screen), \r, a line break that
 * would forge a table row, a C1 CSI, DEL and a bidi override, written straight into the
 * database (an old version or another program), is printed by `runs`, `show` and
 * `compare` with every control made visible, and `--json` still parses to the stored
 * text. The Lab refuses such names and tags in the first place.
 */
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { ProgressBar } from '../../src-main/cli/progress.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const HOSTILE = 'evil\u0000\u001b]0;pwned\u0007\u001b[2J\rover\nforged row\u009b31m\u202eabc\u007f';
// What a terminal would act on: C0 controls but \n and \t, DEL, C1, bidi controls.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

beforeAll(async () => {
  const l = Lab.open(db);
  const config = { ...defaultConfig('base'), sizes: [784, 8, 10] };
  for (const name of ['one', 'two']) {
    const r = l.store.runs.create({ name, kind: 'base', config });
    l.store.runs.finish(r.id, 'failed', { error: 'placeholder' });
  }
  await l.close();
  const sql = new Database(db);
  sql.prepare(`UPDATE runs SET name = ?, tags = ?, notes = ?, error = ?, device = ? WHERE id = 1`).run(HOSTILE, JSON.stringify([HOSTILE.slice(0, 40), 'ok']), `first line\n${HOSTILE}`, HOSTILE, HOSTILE);
  sql.close();
});
afterAll(tmp.cleanup);

function expectSafe(text: string): void {
  expect(text).not.toMatch(RAW_CONTROL);
  expect(text).toContain('\\u001b]0;pwned\\u0007\\u001b[2J\\u000dover');
}

describe('terminal output of stored text', () => {
  it('runs: every control is visible, and a line break in a name forges no row', async () => {
    const r = await cli(['runs', '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    expectSafe(r.stdout);
    expect(r.stdout).toContain('\\u000aforged row\\u009b31m\\u202eabc\\u007f');
    expect(r.stdout.split('\n').some((line) => line.startsWith('forged row'))).toBe(false);
    // header, rule, two runs
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(4);
  });

  it('show and compare: name, error, device, tags and notes are escaped', async () => {
    const show = await cli(['show', '1', '--db', db]);
    expect(show.code, show.stderr).toBe(0);
    expectSafe(show.stdout);
    expect(show.stdout.split('\n').some((line) => line.startsWith('forged row'))).toBe(false);
    expect(show.stdout).toContain('notes: first line\n');
    const compare = await cli(['compare', '1', '2', '--db', db]);
    expect(compare.code, compare.stderr).toBe(0);
    expectSafe(compare.stdout);
  });

  it('--json output has no raw control and still parses to the stored text', async () => {
    const runs = await cli(['runs', '--json', '--db', db]);
    expect(runs.stdout).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(runs.stdout).find((x: { id: number }) => x.id === 1).name).toBe(HOSTILE);
    const show = await cli(['show', '1', '--json', '--db', db]);
    expect(show.stdout).not.toMatch(RAW_CONTROL);
    const detail = JSON.parse(show.stdout);
    expect([detail.name, detail.error, detail.device]).toEqual([HOSTILE, HOSTILE, HOSTILE]);
  });

  it('the error printer escapes what it quotes', async () => {
    const r = await cli(['show', '\u001b[2J\u001b]0;pwned\u0007', '--db', db]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toContain('"\\u001b[2J\\u001b]0;pwned\\u0007" is not a run id');
  });

  it('progress bar: label and messages are one escaped line; the bar writes only its own redraw', () => {
    for (const tty of [false, true]) {
      const sink = new PassThrough();
      let written = '';
      sink.on('data', (d) => (written += d));
      Object.assign(sink, { isTTY: tty });
      const bar = new ProgressBar(`train ${HOSTILE}`, true, sink as unknown as NodeJS.WriteStream);
      bar.message(`run 1 training on wasm (${HOSTILE})`);
      bar.update(5, 10, { phase: HOSTILE });
      bar.done(HOSTILE);
      const withoutRedraw = written.replaceAll('\r\u001b[2K', '');
      expect(withoutRedraw).not.toMatch(RAW_CONTROL);
      expect(withoutRedraw).toContain('\\u001b]0;pwned\\u0007');
      expect(withoutRedraw.split('\n').some((line) => line.startsWith('forged row'))).toBe(false);
    }
  });
});

describe('the Lab refuses control characters in names and tags', () => {
  it('NUL, ESC and line breaks in run names and tags are refused; notes keep line breaks and tabs', async () => {
    const l = Lab.open(db);
    try {
      for (const name of ['a\u0000b', 'title \u001b]0;x\u0007', 'two\nlines', 'tab\there', 'c1 \u009b2J', 'del\u007f']) {
        await expect(l.renameRun(2, name)).rejects.toThrow(LabError);
        await expect(l.createRun({ name, config: { ...defaultConfig('base'), sizes: [784, 8, 10] } })).rejects.toThrow(/control characters/);
      }
      await expect(l.setTags(2, ['ok', 'x\u001b[2J'])).rejects.toThrow(/a tag cannot contain control characters/);
      await expect(l.setNotes(2, 'clear \u001b[2J')).rejects.toThrow(/notes cannot contain control characters/);
      await expect(l.setNotes(2, 'nul \u0000')).rejects.toThrow(LabError);
      // A pasted trailing line break is trimmed, not refused; notes keep their layout.
      expect((await l.renameRun(2, 'renamed\n')).name).toBe('renamed');
      expect((await l.setNotes(2, 'line one\r\nline two\tcolumn')).notes).toBe('line one\r\nline two\tcolumn');
      expect((await l.setTags(2, ['café', 'עברית'])).tags).toEqual(['café', 'עברית']);
    } finally {
      await l.close();
    }
  });
});
