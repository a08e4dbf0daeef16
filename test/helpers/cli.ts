import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `lora-lab ...args` from source (no build needed), as a real process. Without a
 * `--db` or LORA_LAB_DB it gets a throwaway database, never the user's own.
 */
export function lab(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = labProcess(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lora-lab ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The child process itself, for tests that signal it. */
export function labProcess(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // Never the user's database: without --db or LORA_LAB_DB, a throwaway one, removed
  // when the process exits.
  const throwaway = args.includes('--db') || env['LORA_LAB_DB'] ? null : mkdtempSync(join(tmpdir(), 'lora-lab-cli-'));
  const child = spawn(process.execPath, ['--import', tsx, '--no-warnings', 'src-main/cli.ts', ...args], {
    cwd: root,
    env: { ...process.env, LORA_LAB_BACKEND: 'wasm', ...(throwaway ? { LORA_LAB_DB: join(throwaway, 'lab.db') } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (throwaway) child.once('exit', () => rmSync(throwaway, { recursive: true, force: true }));
  return child;
}
