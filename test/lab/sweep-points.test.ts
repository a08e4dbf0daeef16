/**
 * Expanding a sweep spec into points and runs (contract/sweep-points.ts): grid, random
 * draws, seeds and budget counts, reproducible draws, and every refusal with its message.
 */
import { describe, expect, it } from 'vitest';
import { type DataShape, type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { SWEEPABLE_PATHS, applyParams, expandSweep, pointLabel } from '../../src-main/contract/sweep-points.ts';
import type { SweepSpec } from '../../src-main/contract/sweep.ts';

const mnist: DataShape = { name: 'mnist', inputSize: 784, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
const lora = (): RunConfig => {
  const c = { ...defaultConfig('lora'), sizes: [784, 16, 10] };
  c.lora = { ...c.lora!, targets: ['linear1', 'linear2'] };
  return c;
};
const ft = (over: Partial<SweepSpec>): SweepSpec => ({ start: { kind: 'finetune', baseModelId: 1 }, axes: [], ...over });
const issuesOf = (spec: SweepSpec, start: RunConfig = lora()) => expandSweep(spec, start, mnist).issues;

describe('sweep expansion', () => {
  it('grid axes give the product in spec order (first axis slowest), each point × seeds', () => {
    const plan = expandSweep(ft({ axes: [{ path: 'lora.r', values: [1, 2, 4] }, { path: 'lr', values: [0.001, 0.01] }], seeds: 3 }), lora(), mnist);
    expect(plan.issues).toEqual([]);
    expect(plan.paths).toEqual(['lora.r', 'lr']);
    expect(plan.points.map((p) => p.params)).toEqual([
      { 'lora.r': 1, lr: 0.001 }, { 'lora.r': 1, lr: 0.01 },
      { 'lora.r': 2, lr: 0.001 }, { 'lora.r': 2, lr: 0.01 },
      { 'lora.r': 4, lr: 0.001 }, { 'lora.r': 4, lr: 0.01 },
    ]);
    expect(plan.runs).toHaveLength(18);
    expect(plan.runs.slice(0, 4).map((r) => [r.point, r.seedIndex, r.seed])).toEqual([[0, 0, 0], [0, 1, 1], [0, 2, 2], [1, 0, 0]]);
    expect(plan.runs[5]!.config).toMatchObject({ seed: 2, lr: 0.01, lora: { r: 1 } });
    expect(pointLabel(plan.points[3]!.params)).toBe('lora.r=2 lr=0.01');
  });

  it('overrides apply before the axes, seeds count from the starting seed, and a budget keeps whole points', () => {
    const plan = expandSweep(ft({ overrides: { maxSteps: 10, seed: 5 }, axes: [{ path: 'lr', values: [0.001, 0.003, 0.01] }], seeds: 2, budget: 5 }), lora(), mnist);
    expect(plan.issues).toEqual([]);
    expect(plan.config).toMatchObject({ maxSteps: 10, seed: 5 });
    expect(plan.points).toHaveLength(2); // 5 runs of 2 seeds: two whole points
    expect(plan.runs.map((r) => r.seed)).toEqual([5, 6, 5, 6]);
    // No axes at all: one point, repeated over the seeds (a seed group).
    expect(expandSweep(ft({ seeds: 4 }), lora(), mnist).runs.map((r) => r.config.seed)).toEqual([0, 1, 2, 3]);
  });

  it('random axes draw `trials` points with the sampling seed, the same each time, within their bounds', () => {
    const spec = ft({
      axes: [
        { path: 'lora.r', values: [1, 2] },
        { path: 'lr', distribution: { kind: 'log-uniform', min: 1e-4, max: 1e-1 } },
        { path: 'lora.alpha', distribution: { kind: 'int', min: 1, max: 3 } },
        { path: 'optimizer', distribution: { kind: 'choice', values: ['adam', 'sgd'] } },
        { path: 'evalSubset', distribution: { kind: 'uniform', min: 100, max: 100 } },
      ],
      trials: 20,
      samplingSeed: 7,
    });
    const a = expandSweep(spec, lora(), mnist);
    expect(a.issues).toEqual([]);
    expect(a.paths).toEqual(['lora.r', 'lr', 'lora.alpha', 'optimizer', 'evalSubset']);
    expect(a.points).toHaveLength(40); // 2 grid values × 20 trials
    expect(expandSweep(spec, lora(), mnist).points.map((p) => p.params)).toEqual(a.points.map((p) => p.params));
    // The same draws for every grid value, so grid values are compared on equal terms.
    expect(a.points.slice(20).map((p) => p.params['lr'])).toEqual(a.points.slice(0, 20).map((p) => p.params['lr']));
    const lrs = a.points.map((p) => p.params['lr'] as number);
    expect(Math.min(...lrs)).toBeGreaterThanOrEqual(1e-4);
    expect(Math.max(...lrs)).toBeLessThanOrEqual(1e-1);
    expect(new Set(a.points.map((p) => p.params['lora.alpha']))).toEqual(new Set([1, 2, 3]));
    expect(new Set(a.points.map((p) => p.params['optimizer']))).toEqual(new Set(['adam', 'sgd']));
    // Log-uniform: about half the draws below the geometric middle (≈ 3.2e-3).
    const below = lrs.filter((x) => x < Math.sqrt(1e-4 * 1e-1)).length;
    expect(below).toBeGreaterThan(8);
    expect(below).toBeLessThan(32);
    const other = expandSweep({ ...spec, samplingSeed: 8 }, lora(), mnist);
    expect(other.points.map((p) => p.params['lr'])).not.toEqual(a.points.map((p) => p.params['lr']));
    // Random axes alone default to one trial.
    expect(expandSweep(ft({ axes: [{ path: 'lr', distribution: { kind: 'uniform', min: 0.001, max: 0.01 } }] }), lora(), mnist).points).toHaveLength(1);
  });

  it('refuses every problem at once, each with a clear message', () => {
    const issues = issuesOf(
      ft({
        axes: [
          { path: 'lora.rank', values: [1] },
          { path: 'seed', values: [1, 2] },
          { path: 'batchSize', values: [] },
          { path: 'lr', values: ['0.01', 'fast'] },
          { path: 'optimizer', values: ['adamw', 3] },
          { path: 'classes', values: [7] },
          { path: 'maxSteps', values: [null] },
          { path: 'epochs', values: [null] },
          { path: 'lr', values: [0.1] },
          { path: 'evalEvery', distribution: { kind: 'int', min: 5, max: 2 } },
          { path: 'testLimit', distribution: { kind: 'log-uniform', min: 0, max: 10 } },
          { path: 'optimizer', distribution: { kind: 'uniform', min: 0, max: 1 } },
          { path: 'lora.init', distribution: { kind: 'choice', values: [] } },
        ],
        trials: 2,
        seeds: 3,
        budget: 2,
        prune: { kind: 'asha', metric: 'val/f1' },
      }),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^unknown config path "lora\.rank" \(sweepable: kind, data, seed, batchSize, .*lora\.r, lora\.alpha, .*\)$/),
      'seed: not swept as an axis; use seeds (each point runs with the starting seed, +1, +2 …)',
      'batchSize: the axis has no values',
      'lr="0.01": is text; lr takes a number (write 0.01 without quotes)',
      'lr="fast": lr takes a number, got text',
      'optimizer="adamw": must be "adam" or "sgd"',
      'optimizer=3: optimizer takes text ("adam" or "sgd"), got a number',
      'classes: a list; a sweep sets single values (set classes in the starting config)',
      'epochs=none: epochs cannot be empty',
      'lr: swept by two axes (give one axis all its values)',
      'evalEvery: int from 5 to 2: the minimum is above the maximum',
      'testLimit: log-uniform needs bounds above 0, got 0',
      'optimizer: swept by two axes (give one axis all its values)',
      'optimizer: uniform draws numbers, but optimizer takes text (use choice)',
      'lora.init: the choice has no values',
      'budget: 2 runs is a budget below one point (each point runs 3 seeds)',
      'prune: unknown metric "val/f1" (runs report train/loss, val/accuracy, val/loss while they train)',
    ]);
  });

  it('names the point value a config refuses, and states a starting config problem once', () => {
    expect(issuesOf(ft({ axes: [{ path: 'lora.r', values: [1, 5000] }, { path: 'lr', values: [0.001, 0.01, 50] }] }))).toEqual([
      'lr=50: learning rate must be a number in (0, 10], got 50',
      'lora.r=5000: rank 5000 is larger than layer linear1 allows (min(in, out) = 16)',
      'lora.r=5000: rank 5000 is larger than layer linear2 allows (min(in, out) = 10)',
    ]);
    expect(issuesOf(ft({ overrides: { batchSize: 0 }, axes: [{ path: 'lr', values: [0.001, 0.01] }] }))).toEqual(['batchSize: must be an integer from 1 to 60000']);
    expect(issuesOf(ft({ overrides: { lr: '0.01' } }))).toEqual(['lr="0.01": is text; lr takes a number (write 0.01 without quotes)']);
    expect(issuesOf({ start: { kind: 'base' }, axes: [{ path: 'lora.r', values: [2] }] }, defaultConfig('base'))).toEqual([
      'lora.r: the starting config has no lora settings (lora is empty: a base run)',
    ]);
    expect(issuesOf(ft({}), defaultConfig('base'))).toEqual(['config: a fine-tune sweep needs a fine-tune config (kind "lora" or "full"), got kind "base"']);
    expect(issuesOf(ft({ axes: [{ path: 'kind', values: ['base'] }] }))).toEqual(['kind: a sweep cannot change the run kind (start from a base, a fine-tune or a run instead)']);
    expect(issuesOf(ft({ trials: 3, axes: [{ path: 'lr', values: [0.01] }] }))).toEqual(['trials: 3 trials, but no axis is random (trials draw the random axes)']);
    expect(issuesOf(ft({ overrides: { seed: 4294967295 }, seeds: 2 }))).toEqual(['seeds: 2 seeds from seed 4294967295 go up to 4294967296, above 4294967295']);
  });

  it('refuses pruning on val/* when a point never evaluates along the way, and a sweep over 100,000 runs', () => {
    const start = { ...lora(), evalEvery: 0 };
    expect(issuesOf(ft({ prune: { kind: 'asha', metric: 'val/accuracy' }, axes: [{ path: 'lr', values: [0.001] }] }), start)).toEqual([
      'prune: val/accuracy is measured every evalEvery steps, but evalEvery is 0: set evalEvery above 0',
    ]);
    expect(issuesOf(ft({ prune: { kind: 'asha', metric: 'val/accuracy' }, axes: [{ path: 'evalEvery', values: [10, 0] }] }))).toEqual([
      'prune: val/accuracy is measured every evalEvery steps, but evalEvery is 0 (at evalEvery=0): set evalEvery above 0',
    ]);
    expect(issuesOf(ft({ prune: { kind: 'asha', metric: 'train/loss' } }), start)).toEqual([]);
    const values = Array.from({ length: 100 }, (_, i) => 0.001 * (i + 1));
    expect(issuesOf(ft({ axes: [{ path: 'lr', values }, { path: 'lora.alpha', values }], seeds: 11 }))).toEqual([
      'the sweep would be 110,000 runs (100 × 100 × 11 seeds); at most 100,000 runs in one sweep',
    ]);
  });

  it('applies a point to a config, refusing a path it cannot set', () => {
    const cfg = applyParams(lora(), { 'lora.r': 4, lr: 0.003, maxSteps: null });
    expect(cfg).toMatchObject({ lr: 0.003, maxSteps: null, lora: { r: 4 } });
    expect(() => applyParams(lora(), { nope: 1 })).toThrow(/unknown config path "nope"/);
  });

  it('sweeps the LoRA variant, init and LoRA-FA (fields with a default) as grid and choice axes', () => {
    expect(SWEEPABLE_PATHS).toEqual(expect.arrayContaining(['lora.variant', 'lora.init', 'lora.freezeA']));
    const plan = expandSweep(
      ft({ axes: [{ path: 'lora.variant', values: ['lora', 'dora'] }, { path: 'lora.init', values: ['kaiming', 'pissa', 'olora'] }, { path: 'lora.freezeA', values: [false, true] }], seeds: 2 }),
      lora(),
      mnist,
    );
    expect(plan.issues).toEqual([]);
    expect(plan.points).toHaveLength(12);
    expect(plan.runs).toHaveLength(24);
    expect(plan.points[11]!.config.lora).toMatchObject({ variant: 'dora', init: 'olora', freezeA: true, r: 1 });
    expect(pointLabel(plan.points[7]!.params)).toBe('lora.variant=dora lora.init=kaiming lora.freezeA=true');
    // A config stored before variants existed has no such keys: the axis sets them.
    const old = lora();
    delete (old.lora as Partial<NonNullable<RunConfig['lora']>>).variant;
    delete (old.lora as Partial<NonNullable<RunConfig['lora']>>).freezeA;
    const fromOld = expandSweep(ft({ axes: [{ path: 'lora.variant', distribution: { kind: 'choice', values: ['lora', 'dora'] } }], trials: 6, samplingSeed: 3 }), old, mnist);
    expect(fromOld.issues).toEqual([]);
    expect(new Set(fromOld.points.map((p) => p.config.lora!.variant))).toEqual(new Set(['lora', 'dora']));
    expect(applyParams(old, { 'lora.freezeA': true }).lora).toMatchObject({ freezeA: true });
    // Values the config refuses, named with the allowed ones; numbers cannot be drawn for text or true/false.
    expect(issuesOf(ft({ axes: [{ path: 'lora.variant', values: ['lora', 'vera'] }, { path: 'lora.freezeA', values: [true, 'yes'] }, { path: 'lora.init', values: ['pissa', 1] }] }))).toEqual([
      'lora.variant="vera": must be "lora" or "dora"',
      'lora.freezeA="yes": lora.freezeA takes true or false',
      'lora.init=1: lora.init takes text ("kaiming" or "gaussian" or "pissa" or "olora"), got a number',
    ]);
    expect(issuesOf(ft({ axes: [{ path: 'lora.freezeA', distribution: { kind: 'uniform', min: 0, max: 1 } }] }))).toEqual([
      'lora.freezeA: uniform draws numbers, but lora.freezeA takes true or false (use choice)',
    ]);
    // A base run has no LoRA settings to sweep.
    expect(issuesOf({ start: { kind: 'base' }, axes: [{ path: 'lora.variant', values: ['dora'] }] }, defaultConfig('base'))[0]).toMatch(/lora\.variant: the starting config has no lora settings/);
  });
});
