/**
 * The LoRA variant flags as real processes on a temporary database: `finetune --variant
 * dora --init pissa --freeze-a` stores exactly that config (and its adapter says so in
 * the PEFT folder it exports), `show`, `runs` and the finetune summary name the variant,
 * a sweep's grid takes lora.variant / lora.init / lora.freezeA, and each mistake is one
 * line with exit code 2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
const tiny = ['--max-steps', '5', '--train-limit', '300', '--test-limit', '200', '--digits', '7'];

beforeAll(async () => {
  const base = await cli('train', '--hidden', '16', '--train-limit', '500', '--test-limit', '200', '--steps', '20', '-q');
  expect(base.code, base.stderr).toBe(0);
}, 120_000);
afterAll(tmp.cleanup);

describe('lora-lab finetune --variant --init --freeze-a', { timeout: 180_000 }, () => {
  let runId = 0;
  let adapterId = 0;

  it('stores the variant, init and LoRA-FA in the run config, and counts DoRA\'s magnitude and a frozen A', async () => {
    const r = await cli('finetune', '--finetune-from', 'm1', ...tiny, '--rank', '2', '--variant', 'dora', '--init', 'pissa', '--freeze-a', '--json', '-q');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.config.lora).toMatchObject({ r: 2, variant: 'dora', init: 'pissa', freezeA: true });
    // 784→16→10, r = 2 on both layers: B (2·16 + 2·10) and m (16 + 10) train; A (2·784 + 2·16) is frozen.
    expect(out.summary.trainableParams).toBe(2 * 16 + 2 * 10 + 16 + 10);
    runId = out.runId;
    adapterId = out.adapterId;
    const stored = JSON.parse((await cli('show', String(runId), '--json')).stdout);
    expect(stored.config.lora).toMatchObject({ variant: 'dora', init: 'pissa', freezeA: true });
  });

  it('show, runs and the finetune summary name the variant', async () => {
    const show = await cli('show', String(runId));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`fine-tunes model 1 → adapter ${adapterId}: DoRA r=2, PiSSA init, LoRA-FA`));
    const table = await cli('runs');
    expect(table.stdout).toMatch(/\bvariant\b/);
    expect(table.stdout).toMatch(/DoRA·PiSSA·LoRA-FA/);
    const plain = await cli('finetune', '--finetune-from', 'm1', ...tiny, '--init', 'olora', '-q');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/→ adapter \d+ on model 1 \(LoRA r=1, OLoRA init\)/);
    expect((await cli('runs', '--param', 'lora.variant=dora', '--json')).stdout).toMatch(/"variant":"dora"/);
  });

  it('the exported PEFT folder states DoRA as PEFT reads it', async () => {
    const out = join(tmp.dir, 'peft-dora');
    const r = await cli('export', `a${adapterId}`, '--format', 'peft', '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    // PiSSA trained against the residual; stored against the original base it is the rank-2r LoRA B·A − B0·A0 (PEFT's conversion).
    expect(config).toMatchObject({ use_dora: true, r: 4, init_lora_weights: true });
  });

  it('a sweep grids the variant, the init and LoRA-FA', async () => {
    const r = await cli('sweep', 'create', '--finetune-from', 'm1', ...tiny, '--grid', 'lora.variant=lora,dora', '--grid', 'lora.freezeA=false,true', '--init', 'gaussian', '--json', '-q');
    expect(r.code, r.stderr).toBe(0);
    const sweep = JSON.parse(r.stdout) as { points: number; paths: string[]; pointList: { params: Record<string, unknown>; runs: { runId: number | null; state: string }[] }[] };
    expect(sweep.paths).toEqual(['lora.variant', 'lora.freezeA']);
    expect(sweep.pointList.map((p) => p.params)).toEqual([
      { 'lora.variant': 'lora', 'lora.freezeA': false },
      { 'lora.variant': 'lora', 'lora.freezeA': true },
      { 'lora.variant': 'dora', 'lora.freezeA': false },
      { 'lora.variant': 'dora', 'lora.freezeA': true },
    ]);
    const last = sweep.pointList[3]!.runs[0]!.runId!;
    const run = JSON.parse((await cli('show', String(last), '--json')).stdout);
    expect(run.config.lora).toMatchObject({ variant: 'dora', freezeA: true, init: 'gaussian' });
  });

  const bad: [string[], RegExp][] = [
    [['--variant', 'vera'], /^lora-lab: --variant must be lora or dora, got "vera"$/m],
    [['--init', 'svd'], /^lora-lab: --init must be kaiming, gaussian, pissa or olora, got "svd"$/m],
    [['--freeze-a', '--no-freeze-a'], /^lora-lab: give --freeze-a or --no-freeze-a, not both$/m],
    [['--variant'], /^lora-lab: --variant needs a value$/m],
    [['--freeze-a=yes'], /--freeze-a.*does not take an argument/],
  ];
  for (const [args, message] of bad) {
    it(`finetune ${args.join(' ')}: one line, exit 2`, async () => {
      const r = await cli('finetune', '--finetune-from', 'm1', ...tiny, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    });
  }

  it('train refuses the LoRA-only flags', async () => {
    for (const flag of [['--variant', 'dora'], ['--freeze-a']]) {
      const r = await cli('train', '--hidden', '16', ...flag);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${flag[0]} only applies to LoRA fine-tuning`));
    }
  });
});
