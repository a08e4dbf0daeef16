/**
 * `lora-lab groups` over runs of its own (no sweep): four LoRA fine-tunes, rank 1 and 2
 * × seeds 0 and 1, group by config minus the seed into two groups of n = 2 whose means
 * are the means of their runs' figures; --by regroups; a run that did not complete is
 * listed as left out; usage mistakes exit 2 with one line.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
const tiny = ['--train-limit', '500', '--test-limit', '300'];

interface RunJson {
  id: number;
  status: string;
  accuracy: number | null;
  focusWrong: number | null;
  config: { seed: number; lora: { r: number } | null };
}
interface StatJson {
  n: number;
  mean: number | null;
  std: number | null;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

let lora: RunJson[] = [];
let cancelled = 0;

beforeAll(async () => {
  const base = await cli('train', '--hidden', '16', ...tiny, '--steps', '20', '-q');
  expect(base.code, base.stderr).toBe(0);
  // Two at a time: the machine is shared.
  for (const r of ['1', '2']) {
    const done = await Promise.all(['0', '1'].map((seed) => cli('finetune', '--finetune-from', 'm1', '--rank', r, '--seed', seed, '--max-steps', '10', ...tiny, '-q')));
    for (const d of done) expect(d.code, d.stderr).toBe(0);
  }
  // A fine-tune stopped with Ctrl-C before it completes: a run that is not in any group.
  const child = labProcess(['finetune', '--finetune-from', 'm1', '--rank', '1', '--seed', '2', '--max-steps', '5000', '--epochs', '100', ...tiny, '--db', db]);
  let err = '';
  let signalled = false;
  child.stderr!.on('data', (d) => {
    err += d;
    // Once: a second Ctrl-C quits at once, leaving the run to be found interrupted.
    if (!signalled && /training on/.test(err)) signalled = child.kill('SIGINT');
  });
  await new Promise((r) => child.once('exit', r));
  const runs = JSON.parse((await cli('runs', '--json')).stdout) as RunJson[];
  lora = runs.filter((x) => x.config.lora && x.status === 'completed');
  cancelled = runs.find((x) => x.status === 'cancelled')!.id;
  expect(lora).toHaveLength(4);
}, 240_000);
afterAll(tmp.cleanup);

describe('lora-lab groups', () => {
  it('--json: a group per rank (the seed aside), n and mean, std and n of each figure, class names, units', async () => {
    const r = await cli('groups', ...lora.map((x) => String(x.id)), '--json');
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as {
      by: string[];
      groups: { params: Record<string, unknown>; n: number; seeds: number[]; completedIds: number[]; figures: Record<string, StatJson>; wrongPerClass: (StatJson & { class: string })[]; units: Record<string, string> }[];
      excluded: { id: number; reason: string }[];
      units: Record<string, string>;
    };
    expect(t.by).toEqual(['lora.r']);
    t.groups.sort((a, b) => Number(a.params['lora.r']) - Number(b.params['lora.r']));
    expect(t.groups.map((g) => [g.params, g.n, [...g.seeds].sort()])).toEqual([
      [{ 'lora.r': 1 }, 2, [0, 1]],
      [{ 'lora.r': 2 }, 2, [0, 1]],
    ]);
    for (const g of t.groups) {
      const members = lora.filter((x) => g.completedIds.includes(x.id));
      const acc = members.map((x) => x.accuracy!);
      expect(g.figures['accuracy']!.n).toBe(2);
      expect(g.figures['accuracy']!.mean).toBeCloseTo(mean(acc), 10);
      expect(g.figures['accuracy']!.std).toBeCloseTo(std(acc), 10);
      expect(g.figures['focusWrong']!.mean).toBeCloseTo(mean(members.map((x) => x.focusWrong!)), 10);
      expect(g.wrongPerClass.map((w) => w.class)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(g.wrongPerClass[7]!.mean).toBeCloseTo(g.figures['focusWrong']!.mean!, 10);
      expect(g.units).toMatchObject({ accuracy: 'fraction', focusWrong: 'test samples' });
    }
    expect(t.excluded).toEqual([]);
    expect(t.units['finalLoss']).toBe('cross-entropy');
  });

  it('a table: a row per group with n and mean ± std, wrong per digit, the runs left out', async () => {
    // The cancelled run has another config (a long run): grouped by rank only, it joins rank 1's runs but not its figures.
    const r = await cli('groups', ...lora.map((x) => String(x.id)), String(cancelled), '--by', 'lora.r');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^grouped by lora\.r \(the seed aside\)$/m);
    expect(r.stdout).toMatch(/^lora\.r=1\s+2 of 3\s+/m);
    expect(r.stdout).toMatch(/^group\s+n\s+accuracy\s+focus wrong\s+focus wrong before\s+other accuracy\s+final loss\s+time$/m);
    expect(r.stdout).toMatch(/^lora\.r=1\s+2 of 3\s+\d+\.\d\d ± \d+\.\d\d%\s+\d+\.\d ± \d+\.\d/m);
    expect(r.stdout).toMatch(/^lora\.r=2\s+2\s+\d+\.\d\d ± \d+\.\d\d%/m);
    expect(r.stdout).toMatch(/mean ± std over the n completed runs/);
    expect(r.stdout).toMatch(/^digit\s+#1\s+#2$/m);
    expect(r.stdout).toMatch(new RegExp(`^left out \\(1\\):\\n  run ${cancelled} .+: .+$`, 'm'));
  });

  it('--by picks the grouping paths; mistakes exit 2 with one line', async () => {
    const bySeed = JSON.parse((await cli('groups', ...lora.map((x) => String(x.id)), '--by', 'seed', '--json')).stdout) as { by: string[]; groups: { params: Record<string, unknown>; n: number }[] };
    expect(bySeed.by).toEqual(['seed']);
    bySeed.groups.sort((a, b) => Number(a.params['seed']) - Number(b.params['seed']));
    expect(bySeed.groups.map((g) => [g.params, g.n])).toEqual([
      [{ seed: 0 }, 2],
      [{ seed: 1 }, 2],
    ]);
    for (const [args, message] of [
      [[], 'groups needs run ids (lora-lab groups 3 4 5 6) or --sweep ID'],
      [['2', '--sweep', '1'], 'give run ids or --sweep ID, not both'],
      [['2', '3', '--by', 'lora..r'], '--by takes config paths separated by commas, e.g. --by lora.r,lr; not a path: "lora..r"'],
      [['x2'], '"x2" is not a run id'],
    ] as const) {
      const bad = await cli('groups', ...args);
      expect(bad.code, bad.stderr).toBe(2);
      expect(bad.stderr).toBe(`lora-lab: ${message}\n`);
    }
  });
});
