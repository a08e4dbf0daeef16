import { describe, expect, it } from 'vitest';
import type { Store } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { MetricPoint } from '../../src-main/contract/protocol.ts';
import { sampleEvaluation, useTempDirs } from './helpers.ts';

const temp = useTempDirs();

const newRun = (store: Store, name = 'r') => store.runs.create({ name, kind: 'base', config: defaultConfig('base') }).id;

describe('metrics', () => {
  it('round-trips points per key, ordered by step, whatever order they arrive in', () => {
    const store = temp.store();
    const run = newRun(store);
    const t0 = 1_700_000_000_123;
    // 200 points: more than one multi-row chunk plus a remainder.
    const points: MetricPoint[] = [];
    for (let step = 99; step >= 0; step--) {
      points.push({ key: 'train/loss', step, value: 1 / (step + 1) + 1e-17 * step, time: t0 + step });
      points.push({ key: 'val/accuracy', step: step * 10, value: step / 100, time: t0 + step * 10 });
    }
    points.push({ key: 'lr', step: 0, value: 1e-3, time: t0 });
    store.metrics.append(run, points.slice(0, 150));
    store.metrics.append(run, points.slice(150));

    const loss = store.metrics.series(run, 'train/loss');
    expect(loss.steps).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(loss.values).toEqual(loss.steps.map((s) => 1 / (s + 1) + 1e-17 * s)); // doubles exactly
    expect(loss.times).toEqual(loss.steps.map((s) => t0 + s));
    expect(store.metrics.series(run, 'val/accuracy').steps.at(-1)).toBe(990);
    expect(store.metrics.keys(run)).toEqual(['lr', 'train/loss', 'val/accuracy']);
    expect(store.metrics.last(run, 'train/loss')).toEqual({ step: 99, value: 0.01 + 1e-17 * 99, time: t0 + 99 });
    expect(store.metrics.last(run, 'nope')).toBeUndefined();
    expect(store.metrics.series(run, 'nope')).toEqual({ steps: [], values: [], times: [] });
    expect(store.metrics.count(run)).toBe(201);
    expect(store.metrics.count(run, 'lr')).toBe(1);
    expect(store.metrics.keys(newRun(store))).toEqual([]);
  });

  it('keeps NaN and infinities, rounds fractional times, and replaces a re-sent step', () => {
    const store = temp.store();
    const run = newRun(store);
    store.metrics.append(run, [
      { key: 'loss', step: 1, value: NaN, time: 10.4 },
      { key: 'loss', step: 2, value: Infinity, time: 10.6 },
      { key: 'loss', step: 3, value: -Infinity, time: 12 },
      { key: 'loss', step: 4, value: 1.5, time: 13 },
    ]);
    store.metrics.append(run, [{ key: 'loss', step: 4, value: 2.5, time: 14 }]);
    expect(store.metrics.series(run, 'loss')).toEqual({ steps: [1, 2, 3, 4], values: [NaN, Infinity, -Infinity, 2.5], times: [10, 11, 12, 14] });
    expect(store.metrics.last(run, 'loss')).toEqual({ step: 4, value: 2.5, time: 14 });
    store.metrics.append(run, [{ key: 'loss', step: 5, value: NaN, time: 15 }]);
    expect(store.metrics.last(run, 'loss')?.value).toBeNaN();
  });

  it('stores a batch all-or-nothing', () => {
    const store = temp.store();
    const run = newRun(store);
    const batch: MetricPoint[] = Array.from({ length: 100 }, (_, i) => ({ key: 'k', step: i, value: i, time: i }));
    batch[70] = { key: 'k', step: 0.5, value: 0, time: 0 }; // not an integer step: STRICT refuses it
    expect(() => store.metrics.append(run, batch)).toThrow(/INTEGER/);
    expect(store.metrics.count(run)).toBe(0);
    expect(() => store.metrics.append(9999, [{ key: 'k', step: 1, value: 1, time: 1 }])).toThrow(/FOREIGN KEY/);
    store.metrics.append(run, []);
  });

  it('reads one metric of several runs in the order asked', () => {
    const store = temp.store();
    const runs = [newRun(store, 'a'), newRun(store, 'b'), newRun(store, 'c')];
    runs.forEach((id, i) => store.metrics.append(id, Array.from({ length: 10 * (i + 1) }, (_, s) => ({ key: 'train/loss', step: s, value: i + s / 100, time: s }))));
    const many = store.metrics.seriesMany([runs[2] as number, runs[0] as number, 4242], 'train/loss');
    expect(many.map((s) => [s.runId, s.steps.length])).toEqual([[runs[2], 30], [runs[0], 10], [4242, 0]]);
    expect(many[0]?.values[5]).toBe(2.05);
  });

  it('goes with its run', () => {
    const store = temp.store();
    const run = newRun(store);
    store.metrics.append(run, [{ key: 'k', step: 1, value: 1, time: 1 }]);
    store.runs.finish(run, 'cancelled');
    store.runs.delete(run);
    expect(store.metrics.count(run)).toBe(0);
  });
});

describe('evaluations', () => {
  it('round-trips before and after with every field; predictions come back as a Uint8Array', () => {
    const store = temp.store();
    const run = newRun(store);
    const before = sampleEvaluation(1);
    const after = sampleEvaluation(2);
    expect(store.evaluations.get(run)).toEqual({});
    store.evaluations.put(run, 'before', 0, before);
    expect(store.evaluations.get(run)).toEqual({ before: { ...before, step: 0 } });
    store.evaluations.put(run, 'after', 100, after);
    const got = store.evaluations.get(run);
    expect(got).toEqual({ before: { ...before, step: 0 }, after: { ...after, step: 100 } });
    expect(got.after?.predictions).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(got.after?.predictions)).toBe(false);
    expect(got.after?.predictions.length).toBe(after.total);
    expect(got.after?.confusion[3]?.[3]).toBe(92);
  });

  it('replaces a phase that is stored again, keeps NaN loss, and stores a predictions view exactly', () => {
    const store = temp.store();
    const run = newRun(store);
    store.evaluations.put(run, 'after', 50, sampleEvaluation(1));
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const ev = { ...sampleEvaluation(3), loss: NaN, predictions: backing.subarray(2, 5) };
    store.evaluations.put(run, 'after', 100, ev);
    const after = store.evaluations.get(run).after;
    expect(after?.step).toBe(100);
    expect(after?.loss).toBeNaN();
    expect(Array.from(after?.predictions ?? [])).toEqual([1, 2, 3]);
    expect(() => store.evaluations.put(run, 'during' as 'after', 1, ev)).toThrow(/phase must be/);
  });
});
