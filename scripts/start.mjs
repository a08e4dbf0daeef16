#!/usr/bin/env node
// npm start: build, then the desktop app. Where Electron cannot run (its binary is not
// downloaded, cannot start here, or has no display) it says why in one sentence and
// starts the same app in the browser instead: `lora-lab serve --open`.
// npm run serve (`start.mjs --web`): build, then web mode without --open.
// Extra arguments go to Electron or to `lora-lab serve`; signals are passed on, and this
// script exits with the app's exit status.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Run as a script (not when a test imports the functions below).
if (invokedDirectly()) main(process.argv.slice(2));

function invokedDirectly() {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

function main(argv) {
  const webOnly = argv[0] === '--web';
  const args = webOnly ? argv.slice(1) : argv;
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
  if (webOnly) return serve(args);
  const bin = findElectron();
  const problem = bin ? electronProblem(bin, process.env, args) : 'The Electron binary is missing';
  if (problem) {
    console.log(`${problem}, so LoRA Lab starts in the browser instead.`);
    return serve(['--open', ...args]);
  }
  supervise(spawn(bin, [root, ...args], { cwd: root, stdio: 'inherit', detached: process.platform !== 'win32', env: withoutRunAsNode() }));
}

/**
 * The Electron executable, found the way the electron package finds it but without its
 * fallback of downloading the binary on the spot (which hangs where there is no network).
 */
export function findElectron(env = process.env) {
  let dir;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(dir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = env['ELECTRON_OVERRIDE_DIST_PATH'];
  const bin = override ? join(override, rel || (process.platform === 'win32' ? 'electron.exe' : 'electron')) : rel ? join(dir, 'dist', rel) : null;
  return bin && existsSync(bin) ? bin : null;
}

/** Why Electron cannot show the app here (the start of a sentence), or null when it can. */
export function electronProblem(bin, env = process.env, args = [], uid = process.getuid?.()) {
  if (process.platform === 'linux' && !env['DISPLAY'] && !env['WAYLAND_DISPLAY']) {
    return 'There is no display for the Electron window';
  }
  // Chromium refuses root without --no-sandbox; we do not switch the sandbox off for you.
  if (process.platform === 'linux' && uid === 0 && !args.includes('--no-sandbox')) {
    return 'Electron does not run as root unless started with --no-sandbox (npm start -- --no-sandbox)';
  }
  // Electron as plain Node: it runs at all (its shared libraries load), and the database
  // module is built for Electron's ABI rather than Node's.
  const probe = spawnSync(bin, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
    cwd: root,
    env: { ...env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (probe.status === 0) return null;
  const said = `${probe.stderr ?? ''}${probe.error?.message ?? ''}`;
  if (/NODE_MODULE_VERSION|compiled against a different Node\.js version/.test(said)) {
    return 'The database module is built for Node rather than Electron (`npx electron-builder install-app-deps` rebuilds it for Electron, `npm rebuild better-sqlite3` back for Node)';
  }
  return `The Electron binary cannot run on this machine (${firstLine(said) || `exit status ${probe.status}`})`;
}

function firstLine(text) {
  return text.split('\n').map((l) => l.trim()).find(Boolean)?.slice(0, 160) ?? '';
}

function withoutRunAsNode() {
  const env = { ...process.env };
  delete env['ELECTRON_RUN_AS_NODE'];
  return env;
}

function serve(extra) {
  const cli = join(root, 'bin', 'lora-lab.js');
  supervise(spawn(process.execPath, [cli, 'serve', ...extra], { cwd: root, stdio: 'inherit', detached: process.platform !== 'win32' }));
}

/**
 * Passes Ctrl-C and termination on to the child and exits with its status. The child runs
 * in its own process group (POSIX), so a terminal's Ctrl-C reaches it once, through here;
 * npm forwarding the same signal again within a second is dropped, because a second
 * SIGINT means "quit at once" to `lora-lab serve`.
 */
function supervise(child) {
  const last = new Map();
  const forward = (signal) => {
    const now = Date.now();
    if (now - (last.get(signal) ?? 0) < 1000) return;
    last.set(signal, now);
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));
  child.on('error', (err) => {
    console.error(`LoRA Lab could not start: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
}
