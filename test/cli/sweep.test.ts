/**
 * `lora-lab sweep` as real processes on a temporary database: a 2×2 grid × 2 seeds of
 * tiny fine-tunes runs to the end (exit 0) with its --json shape; every invalid spec is
 * one line, exit 2, and stores nothing; --detach returns at once and `sweep resume`
 * finishes the sweep with its group table; `sweep cancel` cancels a paused one.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
const tiny = ['--max-steps', '10', '--train-limit', '500', '--test-limit', '300'];

interface StatJson {
  n: number;
  mean: number | null;
  std: number | null;
}
interface SweepJson {
  id: number;
  status: string;
  points: number;
  seeds: number;
  paths: string[];
  counts: Record<string, number>;
  objective: { figure: string; better: string };
  pointList: { index: number; params: Record<string, unknown>; runs: { runId: number | null; state: string; seed: number; attempts: number }[]; objective: StatJson }[];
  groups: { params: Record<string, unknown>; n: number; completedIds: number[]; figures: Record<string, StatJson>; wrongPerClass: (StatJson & { class: string })[] }[];
  best: { point: number; params: Record<string, unknown>; objective: StatJson; runIds: number[] } | null;
  importance: { path: string; n: number }[];
  units: Record<string, string>;
}

const sweeps = async () => JSON.parse((await cli('sweep', 'list', '--json')).stdout) as { id: number; status: string }[];
const runCount = async () => (JSON.parse((await cli('runs', '--json')).stdout) as unknown[]).length;

beforeAll(async () => {
  const base = await cli('train', '--hidden', '16', '--train-limit', '500', '--test-limit', '300', '--steps', '20', '-q');
  expect(base.code, base.stderr).toBe(0);
}, 120_000);
afterAll(tmp.cleanup);

describe('lora-lab sweep refuses an invalid spec before anything runs', () => {
  const m1 = ['--finetune-from', 'm1'];
  const cases: [string[], RegExp][] = [
    [[...m1, '--grid', 'lora.nope=1,2'], /^invalid sweep: unknown config path "lora\.nope"/],
    [[...m1, '--grid', 'lora.r=1,5000'], /^invalid sweep: lora\.r=5000: rank 5000 is larger than layer linear1 allows/],
    [[...m1, '--grid', 'lora.r='], /^--grid lora\.r= has no values: an axis needs at least one$/],
    [[...m1, '--grid', 'lora.r=1,2', '--seeds', '3', '--budget', '2'], /^invalid sweep: budget: 2 runs is a budget below one point/],
    [[...m1, '--grid', 'lr=fast'], /^invalid sweep: lr="fast": lr takes a number/],
    [[...m1, '--grid', 'seed=1,2'], /^invalid sweep: seed: .*use seeds/],
    [[...m1, '--random', 'lr=log-uniform(0,1)'], /^--random lr: log-uniform\(0,1\): log-uniform needs both bounds above 0/],
    [[...m1, '--random', 'lr=gauss(1,2)'], /^--random lr: unknown distribution "gauss"/],
    [[...m1, '--grid', 'lora.r=1,2', '--prune', 'asha:val/accuracy', '--eval-every', '0'], /^invalid sweep: prune: val\/accuracy is measured every evalEvery steps, but evalEvery is 0/],
    [['--grid', 'lora.r=1'], /^where does the sweep start\?/],
    [['--kind', 'base', '--grid', 'lora.r=1,2'], /^invalid sweep: lora\.r: the starting config has no lora settings/],
  ];

  it('one line on stderr, exit 2, no sweep and no run stored', async () => {
    const before = await runCount();
    // Three processes at a time (each only starts up, checks and exits).
    const results: Awaited<ReturnType<typeof cli>>[] = [];
    for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map(([args]) => cli('sweep', 'create', ...args, ...tiny)))));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]!.replace(/^lora-lab: /, ''), args.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(await sweeps()).toEqual([]);
    expect(await runCount()).toBe(before);
  }, 180_000);
});

describe('lora-lab sweep create … waits, then prints the groups', () => {
  let sweep: SweepJson;

  it('a 2×2 grid × 2 seeds: exit 0, every point two completed runs, groups with n and mean ± std', async () => {
    const r = await cli('sweep', 'create', '--finetune-from', 'm1', '--grid', 'lora.r=1,2', '--grid', 'lr=0.001,0.01', '--seeds', '2', '--concurrency', '2', '--name', 'grid', ...tiny, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sweep \d+: \d+% \(\d\/8\)/); // the progress bar, on stderr
    sweep = JSON.parse(r.stdout) as SweepJson;
    expect(sweep).toMatchObject({ status: 'completed', points: 4, seeds: 2, paths: ['lora.r', 'lr'], counts: { total: 8, completed: 8, failed: 0, pending: 0 } });
    expect(sweep.objective).toEqual({ figure: 'focusWrong', better: 'lower' });
    expect(sweep.pointList.map((p) => p.params)).toEqual([
      { 'lora.r': 1, lr: 0.001 },
      { 'lora.r': 1, lr: 0.01 },
      { 'lora.r': 2, lr: 0.001 },
      { 'lora.r': 2, lr: 0.01 },
    ]);
    for (const p of sweep.pointList) {
      expect(p.runs.map((x) => [x.state, x.seed, x.attempts])).toEqual([
        ['completed', 0, 1],
        ['completed', 1, 1],
      ]);
      expect(p.objective.n).toBe(2);
    }
    const runIds = sweep.pointList.flatMap((p) => p.runs.map((x) => x.runId));
    expect(new Set(runIds).size).toBe(8);
    expect(sweep.groups).toHaveLength(4);
    for (const g of sweep.groups) {
      expect(g.n).toBe(2);
      for (const k of ['accuracy', 'focusWrong', 'finalLoss', 'wallSeconds']) {
        expect(g.figures[k], k).toMatchObject({ n: 2, mean: expect.any(Number), std: expect.any(Number) });
      }
      expect(g.wrongPerClass.map((w) => w.class)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    }
    expect(sweep.units).toMatchObject({ accuracy: 'fraction', focusWrong: 'test samples', wallSeconds: 's' });
    // The best point has the lowest mean focus wrong.
    const means = sweep.pointList.map((p) => p.objective.mean!);
    expect(sweep.best!.objective.mean).toBe(Math.min(...means));
    expect(sweep.importance.map((x) => x.path)).toEqual(['lora.r', 'lr']);
  }, 300_000);

  it('sweep list, sweep show (text and --objective), groups --sweep', async () => {
    const list = await cli('sweep', 'list');
    expect(list.stdout).toMatch(new RegExp(`^\\s*${sweep.id}\\s+grid\\s+completed\\s+4\\s+2\\s+8/8`, 'm'));
    const show = await cli('sweep', 'show', String(sweep.id));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^sweep \d+: grid, completed$/m);
    expect(show.stdout).toMatch(/4 points × 2 seeds = 8 runs/);
    expect(show.stdout).toMatch(/^point\s+lora\.r\s+lr\s+runs \(one per seed\)\s+wrong on the focus classes$/m);
    expect(show.stdout).toMatch(/^\s*0\s+1\s+0\.001\s+r\d+ completed, r\d+ completed\s+\d+\.\d( ± \d+\.\d)? \(n 2\)$/m);
    expect(show.stdout).toMatch(/◀ best wrong on the focus classes/);
    expect(show.stdout).toMatch(/^best point: #\d lora\.r=\d lr=0\.0\d+: wrong on the focus classes/m);
    const byAcc = JSON.parse((await cli('sweep', 'show', String(sweep.id), '--objective', 'accuracy', '--json')).stdout) as SweepJson;
    expect(byAcc.objective).toEqual({ figure: 'accuracy', better: 'higher' });
    expect(byAcc.best!.objective.mean).toBe(Math.max(...byAcc.pointList.map((p) => p.objective.mean!)));
    const groups = await cli('groups', '--sweep', String(sweep.id));
    expect(groups.code, groups.stderr).toBe(0);
    // The groups' paths in the Lab's order (config order, not the sweep's).
    expect(groups.stdout).toMatch(/^grouped by (lora\.r, lr|lr, lora\.r) \(the seed aside\)$/m);
    expect(groups.stdout.match(/^(lora\.r=\d lr=\S+|lr=\S+ lora\.r=\d)\s+2\s/gm)).toHaveLength(4);
  }, 120_000);
});

describe('--detach, resume and cancel', () => {
  it('--detach returns the id at once and says the sweep pauses; sweep resume finishes it with the group table', async () => {
    const r = await cli('sweep', 'create', '--finetune-from', 'm1', '--grid', 'lora.r=1,2', ...tiny, '--detach');
    expect(r.code, r.stderr).toBe(0);
    const id = Number(/^sweep (\d+) created: 2 points × 1 seed = 2 runs$/m.exec(r.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(r.stdout).toMatch(new RegExp(`resume it with lora-lab sweep resume ${id}, or open the app / lora-lab serve, which go on with it`));
    expect((await sweeps()).find((s) => s.id === id)?.status).toBe('paused');
    const resumed = await cli('sweep', 'resume', String(id));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^sweep ${id}: .+, completed$`, 'm'));
    expect(resumed.stdout).toMatch(/^group\s+n\s+accuracy\s+focus wrong/m);
    expect(resumed.stdout).toMatch(/^lora\.r=1\s+1\s+\d+\.\d\d%/m);
    expect(resumed.stdout).toMatch(/^best point: /m);
    const again = await cli('sweep', 'resume', String(id));
    expect(again.code).toBe(2);
    expect(again.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 180_000);

  it('sweep cancel: a paused sweep is cancelled, its points never start', async () => {
    const r = await cli('sweep', 'create', '--finetune-from', 'm1', '--grid', 'lora.r=1,2,4', ...tiny, '--detach', '--json');
    expect(r.code, r.stderr).toBe(0);
    const created = JSON.parse(r.stdout) as { id: number; detached: boolean; note: string };
    expect(created.detached).toBe(true);
    expect(created.note).toMatch(/lora-lab sweep resume/);
    const c = await cli('sweep', 'cancel', String(created.id));
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`^sweep ${created.id} cancelled: 0 completed`));
    const d = JSON.parse((await cli('sweep', 'show', String(created.id), '--json')).stdout) as SweepJson;
    expect(d.status).toBe('cancelled');
    expect(d.counts.completed).toBe(0);
    expect(d.pointList.flatMap((p) => p.runs.map((x) => x.state)).every((s) => s === 'cancelled')).toBe(true);
    const bad = await cli('sweep', 'show', '999');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lora-lab: .*999/);
  }, 120_000);
});
