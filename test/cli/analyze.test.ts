/**
 * `lora-lab analyze` as real processes on a temporary database, checked against an
 * independent reader: scripts/reference/analyze_adapter.py (numpy only) reads the
 * exported base and PEFT folders and recomputes every figure from numpy's own SVDs —
 * singular values to 1e-4 relative, the ranks, amplification, intruder counts and φ.
 * Skipped only where no python3 with numpy exists (CI installs python3-numpy).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lab } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const cli = (...args: string[]) => lab([...args, '--db', db]);
// 784→32→48→10: linear2 is taller than wide, so W0's left vectors do not span its outputs.
const tiny = ['--max-steps', '15', '--train-limit', '300', '--test-limit', '100', '--digits', '7', '--lr', '0.01', '-q', '--json'];

function python(): string | null {
  for (const exe of [process.env['LORA_LAB_PYTHON'], 'python3', '/usr/bin/python3']) {
    if (exe && spawnSync(exe, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0) return exe;
  }
  return null;
}
const py = python();
if (!py) console.warn('analyze numpy check SKIPPED: no python3 with numpy found (apt-get install python3-numpy)');

const ids: Record<string, { run: number; adapter: number }> = {};

beforeAll(async () => {
  const base = await cli('train', '--sizes', '784,32,48,10', '--train-limit', '600', '--test-limit', '100', '--steps', '40', '-q');
  expect(base.code, base.stderr).toBe(0);
  for (const [key, extra] of [
    ['r2', ['--rank', '2', '--alpha', '2']],
    ['r6', ['--rank', '6', '--alpha', '6']],
    ['dora', ['--rank', '3', '--variant', 'dora']],
    ['full', ['--full']],
  ] as const) {
    const r = await cli('finetune', '--finetune-from', 'm1', ...tiny, ...extra);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: number; adapterId: number; modelId: number };
    ids[key] = { run: out.runId, adapter: key === 'full' ? out.modelId : out.adapterId };
  }
  expect((await cli('export', `m${ids['full']!.adapter}`, '--format', 'safetensors', '--out', join(tmp.dir, 'full.safetensors'), '-q')).code).toBe(0);
  expect((await cli('export', 'm1', '--format', 'safetensors', '--out', join(tmp.dir, 'base.safetensors'), '-q')).code).toBe(0);
  for (const key of ['r2', 'r6', 'dora']) expect((await cli('export', `a${ids[key]!.adapter}`, '--format', 'peft', '--out', join(tmp.dir, `peft-${key}`), '-q')).code).toBe(0);
}, 240_000);
afterAll(tmp.cleanup);

interface LayerJson {
  layer: string;
  singularValues: number[];
  effectiveRank: number;
  stableRank: number;
  rank90: number;
  relativeNorm: number;
  amplification: number | { factor: number };
  intruders: { count: number; maxCosine: number[] };
}

function reference(key: string, vs?: string): { layers: LayerJson[]; similarity?: { layer: string; side: string; phi: number[][] }[] } {
  const args = ['scripts/reference/analyze_adapter.py', '--model', join(tmp.dir, 'base.safetensors'), '--peft', join(tmp.dir, `peft-${key}`), ...(vs ? ['--vs', join(tmp.dir, `peft-${vs}`)] : [])];
  const r = spawnSync(py as string, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function expectSame(got: LayerJson[], ref: LayerJson[]) {
  expect(got.map((l) => l.layer)).toEqual(ref.map((l) => l.layer));
  got.forEach((g, n) => {
    const w = ref[n]!;
    const top = w.singularValues[0]!;
    w.singularValues.forEach((s, i) => {
      if (s >= 1e-4 * top) expect(Math.abs(g.singularValues[i]! - s) / s, `${g.layer} σ${i + 1}`).toBeLessThan(1e-4);
    });
    expect(g.effectiveRank / w.effectiveRank).toBeCloseTo(1, 4);
    expect(g.stableRank / w.stableRank).toBeCloseTo(1, 4);
    expect(g.rank90).toBe(w.rank90);
    expect(g.relativeNorm / w.relativeNorm).toBeCloseTo(1, 5);
    expect((g.amplification as { factor: number }).factor / (w.amplification as number)).toBeCloseTo(1, 4);
    expect(g.intruders.count, `${g.layer} intruders`).toBe(w.intruders.count);
    g.intruders.maxCosine.forEach((c, i) => expect(Math.abs(c - w.intruders.maxCosine[i]!)).toBeLessThan(1e-4));
  });
}

describe('lora-lab analyze', { timeout: 240_000 }, () => {
  it.skipIf(!py)('gives what numpy recomputes from the exported PEFT folders (LoRA, with φ against another rank)', async () => {
    const r = await cli('analyze', `r${ids['r2']!.run}`, '--vs', `a${ids['r6']!.adapter}`, '--json');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.pictures).toBeUndefined();
    expect(got.update).toMatchObject({ adapterId: ids['r2']!.adapter, r: 2 });
    const ref = reference('r2', 'r6');
    expectSame(got.layers, ref.layers);
    expect(got.similarity.layers).toHaveLength(ref.similarity!.length);
    got.similarity.layers.forEach((p: { layer: string; side: string; phi: number[][] }, n: number) => {
      const w = ref.similarity![n]!;
      expect([p.layer, p.side]).toEqual([w.layer, w.side]);
      expect([p.phi.length, p.phi[0]!.length]).toEqual([w.phi.length, w.phi[0]!.length]);
      p.phi.forEach((row, i) => row.forEach((x, j) => expect(Math.abs(x - w.phi[i]![j]!)).toBeLessThan(1e-6)));
    });
  });

  it.skipIf(!py)('takes DoRA densely and agrees with numpy there too', async () => {
    const r = await cli('analyze', `a${ids['dora']!.adapter}`, '--intruders', '5,0.4', '--json');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.layers.every((l: { method: string }) => l.method === 'dense')).toBe(true);
    const ref = spawnSync(py as string, ['scripts/reference/analyze_adapter.py', '--model', join(tmp.dir, 'base.safetensors'), '--peft', join(tmp.dir, 'peft-dora'), '--k', '5', '--eps', '0.4'], { encoding: 'utf8' });
    expect(ref.status, ref.stderr).toBe(0);
    expectSame(got.layers, JSON.parse(ref.stdout).layers);
  });

  it.skipIf(!py)('takes a full fine-tune (finetune --full) as W − W0, as numpy does from the exported models', async () => {
    const r = await cli('analyze', String(ids['full']!.run), '--json');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.update).toMatchObject({ source: 'full', modelId: ids['full']!.adapter, adapterId: null });
    expect(got.layers.map((l: { layer: string; method: string }) => [l.layer, l.method])).toEqual([
      ['linear1', 'dense'],
      ['linear2', 'dense'],
      ['linear3', 'dense'],
    ]);
    const ref = spawnSync(py as string, ['scripts/reference/analyze_adapter.py', '--model', join(tmp.dir, 'base.safetensors'), '--tuned', join(tmp.dir, 'full.safetensors')], { encoding: 'utf8' });
    expect(ref.status, ref.stderr).toBe(0);
    expectSame(got.layers, JSON.parse(ref.stdout).layers);
    const text = await cli('analyze', `m${ids['full']!.adapter}`);
    expect(text.stdout).toMatch(/a full fine-tune, ΔW = W − W0/);
  });

  it('prints a table a person can read, with units and what each figure is', async () => {
    const r = await cli('analyze', String(ids['r6']!.run));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/effective rank\s+stable rank\s+rank for 90%\s+‖ΔW‖\/‖W0‖\s+amplification\s+intruders \(top 10, \|cos\| < 0.5\)/);
    expect(r.stdout).toMatch(/^linear2\s+48 × 32\s+factors \(6\)/m);
    expect(r.stdout).toMatch(/singular values of ΔW, largest first:/);
  });

  it('lora-lab forgetting sets LoRA ranks and the full fine-tune side by side, with n and the Pareto front', async () => {
    const runs = ['r2', 'r6', 'full'].map((k) => String(ids[k]!.run));
    const j = await cli('forgetting', ...runs, '1', '--json');
    expect(j.code, j.stderr).toBe(0);
    const v = JSON.parse(j.stdout);
    expect(v.runs.map((r: { method: string }) => r.method)).toEqual(['LoRA r2', 'LoRA r6', 'full fine-tune']);
    expect(v.skipped).toEqual([expect.objectContaining({ runId: 1, reason: expect.stringMatching(/base run/) })]);
    expect(v.units).toMatchObject({ accuracy: 'fraction' });
    expect(v.front.length).toBeGreaterThan(0);
    const t = await cli('forgetting', ...runs);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/learned = accuracy gained on 7, forgotten = accuracy lost on the other classes/);
    expect(t.stdout).toMatch(/accuracies over n = \d+ test samples of 7 and \d+ of the other classes/);
    expect(t.stdout).toMatch(/◆/);
    const none = await cli('forgetting');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/forgetting needs fine-tune runs/);
  });

  it('finetune --full refuses LoRA settings, and train refuses --full', async () => {
    const r = await cli('finetune', '--finetune-from', 'm1', '--full', '--rank', '2', '-q');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rank is a LoRA setting; --full trains every weight/);
    const t = await cli('train', '--full', '-q');
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--full only applies to lora-lab finetune/);
  });

  it('refuses what it cannot analyse with one clear line and exit code 2', async () => {
    for (const [args, message] of [
      [[], /analyze needs ADAPTER/],
      [['m1'], /model 1 .* is a base model without a parent: there is no W0/],
      [['x1'], /"x1" is not an adapter \(a2\), a run \(5 or r5\) or a model \(m4\)/],
      [['1'], /run 1 is a base run/],
      [['a999'], /adapter 999 does not exist/],
      [[`a${ids['r2']!.adapter}`, '--intruders', '0,0.5'], /--intruders takes K,EPS/],
      [[`a${ids['r2']!.adapter}`, '--vs', `a${ids['r2']!.adapter}`], /same update/],
    ] as const) {
      const r = await cli('analyze', ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      // One error line (a progress line may come before it, once the Lab is asked).
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('lora-lab:'))).toHaveLength(1);
    }
  });
});
