/**
 * The CLI against a real database file: demo stores its two runs, listing and comparing
 * read them back, and a CLI killed mid-run leaves the run `interrupted`, nothing else lost.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);
const db = join(tmp.dir, 'lab.db');
const quick = ['--sizes', '784,100,10', '--train-limit', '960', '--test-limit', '500', '--batch-size', '32'];

describe('persistent CLI', () => {
  it('demo stores a base run and a LoRA run linked through the base model', async () => {
    const r = await lab(['demo', '--db', db, ...quick, '--base-steps', '30', '--steps', '10', '--json', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const runs = JSON.parse((await lab(['runs', '--db', db, '--json'])).stdout);
    expect(runs.map((x: { id: number; kind: string; status: string }) => [x.id, x.kind, x.status])).toEqual([
      [out.runs.lora, 'lora', 'completed'],
      [out.runs.base, 'base', 'completed'],
    ]);
    const [loraRun, baseRun] = runs;
    expect(loraRun.baseModelId).toBe(baseRun.modelId);
    expect(loraRun.name).toMatch(/demo LoRA/);
    for (const x of runs) expect(Object.keys(x)).toEqual(expect.arrayContaining(['id', 'name', 'kind', 'status']));
  });

  it('runs filters, show, compare, tag and finetune --finetune-from', async () => {
    expect(JSON.parse((await lab(['runs', '--db', db, '--kind', 'base', '--json'])).stdout)).toHaveLength(1);
    expect(JSON.parse((await lab(['runs', '--db', db, '--param', 'lora.r=1', '--json'])).stdout)).toHaveLength(1);
    const table = await lab(['runs', '--db', db]);
    expect(table.stdout).toMatch(/id\s+name\s+kind\s+status/);
    expect(table.stdout).toMatch(/completed/);

    const show = await lab(['show', '2', '--db', db]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/run 2: demo LoRA/);
    expect(show.stdout).toMatch(/digit\s+wrong before\s+wrong after/);

    const cmp = await lab(['compare', '1', '2', '--db', db]);
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(/hyperparameters that differ:/);
    expect(cmp.stdout).toMatch(/lora\.r\s+—\s+1/);
    expect(cmp.stdout).not.toMatch(/^lr\s/m); // same in both: hidden without --all
    expect(cmp.stdout).toMatch(/wrong per digit/);
    expect((await lab(['compare', '1', '2', '--all', '--db', db])).stdout).toMatch(/^lr\s/m);
    const cmpJson = JSON.parse((await lab(['compare', '1', '2', '--db', db, '--json'])).stdout);
    expect(cmpJson.runs).toHaveLength(2);

    expect((await lab(['tag', '1', 'baseline', 'classic', '--db', db])).stdout).toMatch(/run 1 tags: baseline, classic/);
    expect(JSON.parse((await lab(['runs', '--tag', 'baseline', '--db', db, '--json'])).stdout)).toHaveLength(1);

    const ft = await lab(['finetune', '--db', db, '--finetune-from', '1', ...quick, '--digits', '3', '--rank', '2', '--steps', '5', '--json', '-q']);
    expect(ft.code, ft.stderr).toBe(0);
    expect(JSON.parse(ft.stdout)).toMatchObject({ kind: 'lora', modelId: 1, config: { classes: [3], lora: { r: 2 } } });
    const bad = await lab(['finetune', '--db', db, '--finetune-from', '42']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/model 42 does not exist/);
    const rm = await lab(['rm', '1', '--db', db]);
    expect(rm.code).toBe(2);
    expect(rm.stderr).toMatch(/is used by run/);
  });

  it('a CLI killed mid-run leaves that run interrupted, everything else intact, and no trainer behind', async () => {
    const child = labProcess(['train', '--db', db, '--sizes', '784,100,10', '--steps', '100000', '--epochs', '100', '--name', 'to be killed']);
    let trainerPid = 0;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d) => {
        err += d;
        if (/\d+\/\d+/.test(err)) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    const conn = new Database(db, { readonly: true });
    const running = conn.prepare("SELECT id FROM runs WHERE status = 'running'").all() as { id: number }[];
    conn.close();
    expect(running).toHaveLength(1);
    // The trainer is the CLI's child: find it before killing the parent.
    const { execFileSync } = await import('node:child_process');
    trainerPid = Number(execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n')[0]);
    expect(trainerPid).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const after = JSON.parse((await lab(['runs', '--db', db, '--json'])).stdout) as { id: number; status: string; error: string | null }[];
    const killed = after.find((r) => r.id === running[0]!.id)!;
    expect(killed.status).toBe('interrupted');
    expect(killed.error).toMatch(/interrupted: LoRA Lab stopped while this run was running/);
    expect(after.filter((r) => r.status === 'completed')).toHaveLength(3);
    const check = new Database(db, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();
    // The orphaned trainer notices its parent is gone and exits by itself.
    const deadline = Date.now() + 10_000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      try {
        process.kill(trainerPid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});
