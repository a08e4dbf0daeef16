/**
 * A `lora-lab sweep create` process killed (SIGKILL) while one of its runs trains loses
 * nothing and doubles nothing: `lora-lab sweep resume ID` in a new process trains the
 * killed run again from the start (attempt 2, its partial metrics replaced), goes on
 * with the rest, and every point ends with exactly one completed run. And Ctrl-C
 * (SIGINT) cancels a sweep cleanly: its running run stops, its pending points never start.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
// Tiny runs (784→16→10, ~1000 steps/s); the epochs are enough for any --max-steps below.
const runs = ['--epochs', '1000', '--train-limit', '500', '--test-limit', '300', '--eval-every', '0'];

interface Detail {
  id: number;
  status: string;
  counts: Record<string, number>;
  pointList: { params: Record<string, unknown>; runs: { runId: number | null; state: string; attempts: number; step: number | null; totalSteps: number | null }[] }[];
}
interface RunJson {
  id: number;
  status: string;
  attempt: number;
  sweep: { sweepId: number; point: number; seedIndex: number } | null;
  metrics: Record<string, { steps: number[] }>;
}

const show = async (id: number) => JSON.parse((await cli('sweep', 'show', String(id), '--json')).stdout) as Detail;

/**
 * Watches the sweep until one of its runs trains, early in its run, so the kill lands
 * before it ends. It reads the database file itself (read-only, every 25 ms): a poll
 * through the CLI costs a process start, and on a loaded machine a whole quick sweep
 * could finish between two of those.
 */
async function untilTraining(child: ChildProcess): Promise<{ id: number; runId: number }> {
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    if (child.exitCode !== null) throw new Error(`the sweep process exited (${child.exitCode}) before a run trained`);
    const found = peek();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no run of the sweep started training');
}

function peek(): { id: number; runId: number } | null {
  if (!existsSync(db)) return null;
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    conn.pragma('busy_timeout = 1000');
    const rows = conn
      .prepare(
        `SELECT sr.sweep_id AS id, sr.run_id AS runId, r.progress AS progress FROM sweep_runs sr JOIN sweeps s ON s.id = sr.sweep_id
         JOIN runs r ON r.id = sr.run_id WHERE s.status = 'running' AND sr.state = 'running' AND r.status = 'running'`,
      )
      .all() as { id: number; runId: number; progress: string | null }[];
    for (const r of rows) {
      const p = r.progress ? (JSON.parse(r.progress) as { phase?: string; step?: number; totalSteps?: number }) : null;
      if (p?.phase === 'training' && (p.step ?? 0) > 0 && (p.step ?? 0) < (p.totalSteps ?? 0) / 2) return { id: r.id, runId: r.runId };
    }
    return null;
  } catch (e) {
    // Not migrated yet (no sweeps table) or busy: look again.
    if (e instanceof Error && /no such table|database is locked|SQLITE_BUSY/.test(e.message)) return null;
    throw e;
  } finally {
    conn.close();
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

beforeAll(async () => {
  const base = await cli('train', '--hidden', '16', '--train-limit', '500', '--test-limit', '300', '--steps', '20', '-q');
  expect(base.code, base.stderr).toBe(0);
}, 120_000);
afterAll(tmp.cleanup);

describe('a sweep whose process was killed', () => {
  it('resumes in a new process: the killed run again as attempt 2, every point exactly one completed run', async () => {
    // Point 0's runs are long enough (several seconds) that the kill lands while one trains; point 1's are quick.
    const child = labProcess(['sweep', 'create', '--finetune-from', 'm1', '--grid', 'maxSteps=8000,10', '--seeds', '2', ...runs, '--db', db]);
    const { id, runId } = await untilTraining(child);
    child.kill('SIGKILL');
    expect(await exited(child)).toBeNull();

    const paused = await show(id);
    expect(paused.status).toBe('paused');
    expect(paused.pointList.flatMap((p) => p.runs).find((r) => r.runId === runId)?.state).not.toBe('completed');
    const resumed = await cli('sweep', 'resume', String(id), '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const d = JSON.parse(resumed.stdout) as Detail;
    expect(d.status).toBe('completed');
    expect(d.counts).toMatchObject({ total: 4, completed: 4, failed: 0, cancelled: 0, pending: 0 });
    for (const p of d.pointList) {
      expect(p.runs).toHaveLength(2);
      for (const r of p.runs) expect(r.state).toBe('completed');
    }
    const killed = d.pointList.flatMap((p) => p.runs).find((r) => r.runId === runId)!;
    expect(killed.attempts).toBe(2);
    // Nothing doubled: one stored run per (point, seed), the killed one among them.
    const all = JSON.parse((await cli('runs', '--kind', 'lora', '--json')).stdout) as RunJson[];
    expect(all.map((r) => r.id).sort()).toEqual(d.pointList.flatMap((p) => p.runs.map((r) => r.runId!)).sort());
    expect(new Set(all.map((r) => `${r.sweep!.point}/${r.sweep!.seedIndex}`)).size).toBe(4);
    const again = JSON.parse((await cli('show', String(runId), '--json')).stdout) as RunJson;
    expect(again).toMatchObject({ status: 'completed', attempt: 2 });
    // Its metrics are the new attempt's only: each step once, in order.
    const steps = again.metrics['train/loss']!.steps;
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((s, i) => i === 0 || s > steps[i - 1]!)).toBe(true);
    for (const r of all.filter((x) => x.id !== runId)) expect(r.attempt).toBe(1);
  }, 300_000);
});

describe('Ctrl-C', () => {
  it('cancels the sweep cleanly: exit 1, no run left running, pending points cancelled', async () => {
    const child = labProcess(['sweep', 'create', '--finetune-from', 'm1', '--grid', 'lora.r=1,2,4', ...runs, '--max-steps', '50000', '--db', db]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const { id } = await untilTraining(child);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(1);
    expect(stderr).toMatch(/cancelling the sweep: running runs stop cleanly/);
    expect(stderr).toMatch(new RegExp(`^lora-lab: sweep ${id} cancelled`, 'm'));
    const d = await show(id);
    expect(d.status).toBe('cancelled');
    expect(d.counts).toMatchObject({ running: 0, queued: 0, pending: 0, completed: 0 });
    const states = d.pointList.flatMap((p) => p.runs.map((r) => r.state));
    expect(states.every((s) => s === 'cancelled')).toBe(true);
  }, 180_000);
});
