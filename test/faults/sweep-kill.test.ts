/**
 * A process driving a sweep is SIGKILLed while one of its runs trains; a new Lab that
 * goes on with sweeps finishes it: every point has exactly one completed run, the killed
 * run is trained again as attempt 2 with only the new attempt's metrics, nothing doubled.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { SweepSpec } from '../../src-main/contract/sweep.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { tempDir } from '../helpers/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };
const sizes = [784, 16, 10];
const STEPS = 300;

describe('a sweep whose process is killed mid-run', () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'lab.db');
  let resumed: Lab | null = null;
  afterAll(async () => {
    await resumed?.close();
    tmp.cleanup();
  });

  it('is finished by the next Lab: each point once, the killed run as attempt 2 with fresh metrics', async () => {
    // A tiny base to fine-tune, trained and stored by a first Lab that then closes.
    const first = Lab.open(file, { host: { env } });
    const base: RunConfig = { ...defaultConfig('base'), sizes, trainLimit: 500, testLimit: 300, maxSteps: 30, evalEvery: 0 };
    const model = (await first.waitForRun((await first.createRun({ config: base })).id)).modelId!;
    await first.close();

    const spec: SweepSpec = {
      name: 'killed',
      start: { kind: 'finetune', baseModelId: model },
      overrides: { maxSteps: STEPS, testLimit: 300, evalEvery: 0 },
      axes: [{ path: 'lr', values: [0.001, 0.01] }],
      seeds: 2,
    };
    const child = spawn(process.execPath, ['--import', tsx, '--no-warnings', 'test/fixtures/sweep-driver.ts', file, JSON.stringify(spec)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // Kill it once its second run has trained a few steps (its first run is then complete).
    let sweepId = 0;
    const trained = new Set<number>();
    let victim = 0;
    for await (const line of createInterface({ input: child.stdout! })) {
      const msg = JSON.parse(line) as { sweepId?: number; runId?: number; step?: number };
      if (msg.sweepId) sweepId = msg.sweepId;
      if (msg.runId === undefined || !msg.step) continue;
      trained.add(msg.runId);
      if (trained.size === 2 && msg.step >= 20 && msg.step < STEPS - 50) {
        victim = msg.runId;
        child.kill('SIGKILL');
        break;
      }
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(victim).toBeGreaterThan(0);

    // What the dead process left: its sweep running, the victim running with some of its steps stored.
    const raw = new Database(file, { readonly: true });
    const left = raw.prepare('SELECT status FROM runs WHERE id = ?').get(victim) as { status: string };
    const partial = (raw.prepare(`SELECT count(*) AS n FROM metrics WHERE run_id = ? AND key = 'train/loss'`).get(victim) as { n: number }).n;
    const sweepStatus = (raw.prepare('SELECT status FROM sweeps WHERE id = ?').get(sweepId) as { status: string }).status;
    raw.close();
    expect(left.status).toBe('running');
    expect(sweepStatus).toBe('running');
    expect(partial).toBeGreaterThan(0);

    const resumedAt = Date.now();
    resumed = Lab.open(file, { host: { env }, resumeSweeps: true, metricFlushMs: 50 });
    const done = await resumed.waitForSweep(sweepId);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(done.counts).toMatchObject({ total: 4, completed: 4, pending: 0, failed: 0, cancelled: 0 });

    const runs = (await resumed.listRuns()).filter((r) => r.sweep?.sweepId === sweepId);
    expect(runs).toHaveLength(4); // no point got a second run
    expect(new Set(runs.map((r) => `${r.sweep!.point}/${r.sweep!.seedIndex}`)).size).toBe(4);
    for (const r of runs) expect(r.status).toBe('completed');
    expect(runs.find((r) => r.id === victim)!.attempt).toBe(2);
    expect(runs.filter((r) => r.id !== victim).map((r) => r.attempt)).toEqual([1, 1, 1]);
    const rows = resumed.store.sweeps.runs(sweepId);
    expect(rows.map((r) => [r.state, r.attempts])).toEqual(rows.map((r) => ['completed', r.runId === victim ? 2 : 1]));

    // The victim's metrics are the new attempt's only: every step once, all written after the resume.
    const detail = await resumed.getRun(victim);
    const loss = detail.metrics['train/loss']!;
    expect(loss.steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(Math.min(...loss.times)).toBeGreaterThanOrEqual(resumedAt);
    expect(detail.evaluations.after!.total).toBe(300);
    expect((await resumed.listRuns()).length).toBe(5); // the base and the sweep's four
  }, 180_000);
});
