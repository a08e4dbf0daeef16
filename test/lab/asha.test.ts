/**
 * ASHA (lab/asha.ts): rungs at minSteps · eta^k, a run's value recorded the first time it
 * passes a rung, and a run stopped when it is not within the top 1/eta of the runs that
 * reached that rung, once graceRuns have.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { Asha, ashaOptions } from '../../src-main/lab/asha.ts';

const acc = (step: number, value: number) => ({ key: 'val/accuracy', step, value });

describe('ASHA', () => {
  it('puts rungs at minSteps · eta^k and records the first point at or past each', () => {
    const a = new Asha({ metric: 'val/accuracy', mode: 'max', eta: 3, minSteps: 10, graceRuns: 3 });
    expect([0, 1, 2].map((k) => a.rung(k))).toEqual([10, 30, 90]);
    const seen = a.observe('r1', [acc(5, 0.1), { key: 'train/loss', step: 10, value: 9 }, acc(12, 0.5), acc(20, 0.6), acc(35, 0.7)]);
    expect(seen).toEqual({ recorded: { '10': 0.5, '30': 0.7 }, stop: null });
    expect(a.observe('r1', [acc(40, 0.9)]).recorded).toEqual({}); // each rung once
  });

  it('stops a run outside the top 1/eta once graceRuns reached the rung, and keeps ties', () => {
    const a = new Asha({ metric: 'val/accuracy', mode: 'max', eta: 3, minSteps: 10, graceRuns: 3 });
    expect(a.observe('a', [acc(10, 0.9)]).stop).toBeNull();
    expect(a.observe('b', [acc(10, 0.2)]).stop).toBeNull(); // only 2 runs at the rung: grace
    const c = a.observe('c', [acc(10, 0.5)]).stop; // 3 runs, top ceil(3/3) = 1 is 0.9
    expect(c).toMatchObject({ rung: 10, value: 0.5, n: 3, threshold: 0.9 });
    expect(c!.message).toBe('pruned by ASHA at step 10: val/accuracy 0.5, below the top 1/3 of 3 runs at that rung (≥ 0.9)');
    expect(a.observe('d', [acc(10, 0.9)]).stop).toBeNull(); // a tie with the threshold stays
    expect(a.observe('e', [acc(10, 0.95)]).stop).toBeNull(); // the new best
    // 6 runs: top 2 are 0.95 and 0.9.
    expect(a.observe('f', [acc(10, 0.8)]).stop).toMatchObject({ n: 6, threshold: 0.9 });
  });

  it('minimises losses, counts NaN as the worst, and forgets a run that starts over', () => {
    const opts = ashaOptions({ kind: 'asha', metric: 'train/loss', eta: 2, graceRuns: 2 }, { ...defaultConfig('lora'), maxSteps: 200 });
    expect(opts).toEqual({ metric: 'train/loss', mode: 'min', eta: 2, minSteps: 20, graceRuns: 2 });
    const a = new Asha(opts);
    const loss = (step: number, value: number) => ({ key: 'train/loss', step, value });
    expect(a.observe('a', [loss(20, 0.3)]).stop).toBeNull();
    const b = a.observe('b', [loss(20, 0.7)]).stop;
    expect(b!.message).toBe('pruned by ASHA at step 20: train/loss 0.7, below the top 1/2 of 2 runs at that rung (≤ 0.3)');
    expect(a.observe('c', [loss(20, NaN)]).stop).not.toBeNull();
    a.forget('c');
    expect(a.values(20).has('c')).toBe(false);
    a.load('z', { '20': 0.1, '40': 0.1 });
    // One point passes both rungs: kept at 20 (top 2 of 4: 0.1, 0.2), stopped at 40 (top 1 of 2 is z's 0.1).
    expect(a.observe('y', [loss(40, 0.2)])).toMatchObject({ recorded: { '20': 0.2, '40': 0.2 }, stop: { rung: 40, n: 2, threshold: 0.1 } });
    // Defaults: eta 3, grace eta, val metrics start at evalEvery.
    expect(ashaOptions({ kind: 'asha', metric: 'val/loss' }, { ...defaultConfig('lora'), evalEvery: 25 })).toEqual({ metric: 'val/loss', mode: 'min', eta: 3, minSteps: 25, graceRuns: 3 });
    expect(() => new Asha({ ...opts, eta: 1 })).toThrow(RangeError);
  });
});
