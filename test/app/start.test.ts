/**
 * How `npm start` decides between Electron and the browser (scripts/start.mjs), with
 * stand-in Electron executables: a missing binary, no display, a binary that cannot run,
 * a database module built for the wrong ABI, and one that works.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.ts';

interface StartScript {
  findElectron(env?: NodeJS.ProcessEnv): string | null;
  electronProblem(bin: string, env?: NodeJS.ProcessEnv, args?: string[], uid?: number): string | null;
}
const scriptUrl = new URL('../../scripts/start.mjs', import.meta.url).href;
const start = (await import(scriptUrl)) as StartScript;

const tmp = tempDir();
afterAll(tmp.cleanup);

function fakeElectron(name: string, body: string): string {
  const dir = join(tmp.dir, name);
  const bin = join(dir, 'electron');
  mkdirSync(dir, { recursive: true });
  writeFileSync(bin, `#!/bin/sh\n${body}\n`);
  chmodSync(bin, 0o755);
  return dir;
}

const display = { ...process.env, DISPLAY: ':0' };

describe.skipIf(process.platform === 'win32')('npm start', () => {
  it('finds no binary where none was downloaded, and honours ELECTRON_OVERRIDE_DIST_PATH', () => {
    const { ELECTRON_OVERRIDE_DIST_PATH: _ignored, ...env } = process.env;
    const found = start.findElectron(env);
    if (found !== null) expect(found).toMatch(/electron/i); // a machine with the binary
    const dir = fakeElectron('present', 'exit 0');
    expect(start.findElectron({ ELECTRON_OVERRIDE_DIST_PATH: dir })).toBe(join(dir, 'electron'));
    expect(start.findElectron({ ELECTRON_OVERRIDE_DIST_PATH: join(tmp.dir, 'absent') })).toBeNull();
  });

  it('launches Electron when it runs as Node and loads the database module', () => {
    const dir = fakeElectron('good', `exec "${process.execPath}" "$@"`);
    expect(start.electronProblem(join(dir, 'electron'), display, [], 1000)).toBeNull();
  });

  it('falls back without a display (Linux)', () => {
    const dir = fakeElectron('nodisplay', `exec "${process.execPath}" "$@"`);
    const { DISPLAY: _d, WAYLAND_DISPLAY: _w, ...env } = process.env;
    const problem = start.electronProblem(join(dir, 'electron'), env, [], 1000);
    if (process.platform === 'linux') expect(problem).toBe('There is no display for the Electron window');
  });

  it('falls back as root unless --no-sandbox is asked for (Linux)', () => {
    const dir = fakeElectron('root', `exec "${process.execPath}" "$@"`);
    const asRoot = start.electronProblem(join(dir, 'electron'), display, [], 0);
    if (process.platform === 'linux') expect(asRoot).toMatch(/^Electron does not run as root unless started with --no-sandbox/);
    expect(start.electronProblem(join(dir, 'electron'), display, ['--no-sandbox'], 0)).toBeNull();
  });

  it('falls back when the database module is built for Node, and says how to fix it', () => {
    const dir = fakeElectron('abi', "echo \"Error: The module 'better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115.\" >&2; exit 1");
    expect(start.electronProblem(join(dir, 'electron'), display, [], 1000)).toMatch(/^The database module is built for Node rather than Electron \(.*install-app-deps.*\)$/);
  });

  it('falls back when the binary cannot run, naming the reason', () => {
    const dir = fakeElectron('broken', 'echo "electron: error while loading shared libraries: libnss3.so: cannot open shared object file" >&2; exit 127');
    expect(start.electronProblem(join(dir, 'electron'), display, [], 1000)).toBe(
      'The Electron binary cannot run on this machine (electron: error while loading shared libraries: libnss3.so: cannot open shared object file)',
    );
  });
});
