import Database from 'better-sqlite3';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src-main/store/store.ts';
import { useTempDirs } from './helpers.ts';

const temp = useTempDirs();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/metric-writer.ts', import.meta.url));
const BATCH = 500;

let child: ChildProcess | undefined;
afterEach(() => {
  // Only the child this test started, by its pid, if it is somehow still alive.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  child = undefined;
});

/** Starts the writer and resolves with its output once it has committed `minCommits` batches. */
function startWriter(file: string, minCommits: number): Promise<{ lines: () => string[]; exited: Promise<NodeJS.Signals | null> }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, file, String(BATCH)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  let err = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  // Only whole lines count: a kill can cut the last one short.
  const lines = () => out.split('\n').slice(0, -1);
  return new Promise((resolve, reject) => {
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (lines().filter((l) => l.startsWith('committed ')).length >= minCommits) resolve({ lines, exited });
    });
    proc.on('exit', (code) => reject(new Error(`writer exited early (code ${code}): ${err}`)));
  });
}

describe('crash safety', () => {
  it('a writer killed with SIGKILL mid-way leaves an intact file with every committed batch', async () => {
    const file = join(temp.dir(), 'lab.db');
    const writer = await startWriter(file, 20);
    expect(child?.pid).toBeDefined();
    process.kill(child?.pid as number, 'SIGKILL');
    expect(await writer.exited).toBe('SIGKILL');

    const lines = writer.lines();
    const runId = Number(lines[0]?.replace('run ', ''));
    const printed = Math.max(...lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.slice('committed '.length))));
    expect(printed).toBeGreaterThanOrEqual(20 * BATCH);

    // Looked at raw first, before anything of ours touches the file.
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    const { n, maxStep } = raw.prepare('SELECT count(*) AS n, max(step) AS maxStep FROM metrics WHERE run_id = ?').get(runId) as { n: number; maxStep: number };
    raw.close();
    expect(n).toBeGreaterThanOrEqual(printed);
    // Whole batches only (each append is one transaction), and no step missing.
    expect(n % BATCH).toBe(0);
    expect(maxStep).toBe(n - 1);

    const store = openStore(file);
    try {
      expect(store.runs.get(runId).status).toBe('running');
      expect(store.runs.markInterrupted()).toEqual([runId]);
      const run = store.runs.get(runId);
      expect(run.status).toBe('interrupted');
      expect(run.error).toBe('interrupted: LoRA Lab stopped while this run was running');
      expect(run.finishedAt).not.toBeNull();
      expect(store.metrics.count(runId)).toBe(n);
      const series = store.metrics.series(runId, 'train/loss');
      expect(series.values[10]).toBe(1 / 11);
    } finally {
      store.close();
    }
  });
});
