/**
 * The sweeps repository on a real database file: a sweep and its points × seeds stored
 * together, the queue order, a point given its run once and never again, runs linked
 * and unlinked, and the attempt counter of a run queued again.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { SweepSpec } from '../../src-main/contract/sweep.ts';
import { TransitionError } from '../../src-main/store/errors.ts';
import type { Store } from '../../src-main/store/store.ts';
import { useTempDirs } from './helpers.ts';

const temp = useTempDirs();
const spec: SweepSpec = { start: { kind: 'base' }, axes: [{ path: 'lr', values: [0.001, 0.01] }], seeds: 2 };

function makeSweep(store: Store) {
  return store.sweeps.create({
    name: 'lr sweep',
    spec,
    config: defaultConfig('base'),
    baseModelId: null,
    owner: 'host/1',
    runs: [0, 1].flatMap((point) => [0, 1].map((seedIndex) => ({ point, seedIndex, params: { lr: point ? 0.01 : 0.001 }, seed: seedIndex }))),
  });
}

describe('sweeps repository', () => {
  it('stores a sweep with every (point, seed) pending, in start order', () => {
    const store = temp.store();
    const s = makeSweep(store);
    expect(s).toMatchObject({ name: 'lr sweep', status: 'running', owner: 'host/1', spec, finishedAt: null, error: null });
    const rows = store.sweeps.runs(s.id);
    expect(rows.map((r) => [r.point, r.seedIndex, r.state, r.position, r.attempts, r.runId])).toEqual([
      [0, 0, 'pending', 0, 0, null],
      [0, 1, 'pending', 1, 0, null],
      [1, 0, 'pending', 2, 0, null],
      [1, 1, 'pending', 3, 0, null],
    ]);
    expect(rows[2]!.params).toEqual({ lr: 0.01 });
    expect(store.sweeps.pointCount(s.id)).toBe(2);
    expect(store.sweeps.counts(s.id)).toMatchObject({ pending: 4, queued: 0, completed: 0 });
    expect(store.sweeps.nextPending(s.id)).toMatchObject({ point: 0, seedIndex: 0 });
  });

  it('links a point to its run once: a second run for it is refused, even after the first is deleted', () => {
    const store = temp.store();
    const s = makeSweep(store);
    const link = { sweepId: s.id, point: 0, seedIndex: 1 };
    const run = store.transaction(() => {
      const r = store.runs.create({ name: 'p0 s1', kind: 'base', config: defaultConfig('base'), sweep: link });
      store.sweeps.attachRun(link, r.id);
      return r;
    });
    expect(store.runs.get(run.id)).toMatchObject({ sweep: link, attempt: 1 });
    expect(store.sweeps.run(link)).toMatchObject({ runId: run.id, state: 'queued', attempts: 1 });
    expect(store.sweeps.byRunId(run.id)).toMatchObject({ point: 0, seedIndex: 1 });
    expect(store.sweeps.nextPending(s.id)).toMatchObject({ point: 0, seedIndex: 0 });

    // The transaction that would give the point a second run rolls back whole: no run is left behind.
    const before = store.runs.list().length;
    expect(() =>
      store.transaction(() => {
        const r = store.runs.create({ name: 'again', kind: 'base', config: defaultConfig('base'), sweep: link });
        store.sweeps.attachRun(link, r.id);
      }),
    ).toThrow(/already has a run \(run \d+, queued\): a point is never run twice/);
    expect(store.runs.list()).toHaveLength(before);

    store.runs.finish(run.id, 'cancelled');
    store.runs.delete(run.id);
    expect(store.sweeps.run(link)).toMatchObject({ runId: null, state: 'queued' });
    expect(() => store.sweeps.attachRun(link, 999)).toThrow(TransitionError);
    expect(() => store.sweeps.attachRun({ sweepId: s.id, point: 5, seedIndex: 0 }, 1)).toThrow(/does not exist/);
  });

  it('counts states, keeps ASHA rungs, cancels pending rows, and deleting the sweep unlinks its runs', () => {
    const store = temp.store();
    const s = makeSweep(store);
    const link = { sweepId: s.id, point: 1, seedIndex: 0 };
    const r = store.runs.create({ name: 'x', kind: 'base', config: defaultConfig('base'), sweep: link });
    store.sweeps.attachRun(link, r.id);
    store.sweeps.setState(link, 'pruned');
    store.sweeps.setRungs(link, { '10': 0.5, '30': 0.7 });
    expect(store.sweeps.run(link)!.rungs).toEqual({ '10': 0.5, '30': 0.7 });
    expect(() => store.sweeps.setState(link, 'bogus' as never)).toThrow(/unknown sweep run state/);
    expect(store.sweeps.cancelPending(s.id)).toBe(3);
    expect(store.sweeps.counts(s.id)).toMatchObject({ pending: 0, cancelled: 3, pruned: 1 });

    const done = store.sweeps.setStatus(s.id, 'cancelled');
    expect(done.status).toBe('cancelled');
    expect(done.finishedAt).not.toBeNull();
    expect(store.sweeps.withStatus('cancelled').map((x) => x.id)).toEqual([s.id]);

    store.sweeps.delete(s.id);
    expect(store.sweeps.find(s.id)).toBeUndefined();
    expect(store.sweeps.runs(s.id)).toEqual([]);
    expect(store.runs.get(r.id).sweep).toBeNull();
    // Ids are never reused (AUTOINCREMENT): the next sweep cannot be mistaken for the deleted one.
    expect(makeSweep(store).id).toBe(s.id + 1);
  });

  it('claims a paused sweep, or a running one whose owner died, for one process only', () => {
    const store = temp.store();
    const s = makeSweep(store);
    expect(store.sweeps.claim(s.id, 'me/2', 'someone/9')).toBe(false); // its owner is host/1, not the one seen dead
    expect(store.sweeps.claim(s.id, 'me/2', 'host/1')).toBe(true);
    expect(store.sweeps.get(s.id).owner).toBe('me/2');
    const paused = store.sweeps.setStatus(s.id, 'paused');
    expect(paused.owner).toBeNull();
    expect(store.sweeps.claim(s.id, 'other/3', null)).toBe(true);
    expect(store.sweeps.claim(s.id, 'late/4', null)).toBe(false);
    expect(store.sweeps.get(s.id)).toMatchObject({ status: 'running', owner: 'other/3' });
  });

  it('requeues an interrupted run as a new attempt, or as the same one when it never started', () => {
    const store = temp.store();
    const r = store.runs.create({ name: 'x', kind: 'base', config: defaultConfig('base') });
    store.runs.markRunning(r.id, 'wasm', 'cpu');
    store.metrics.append(r.id, [{ key: 'train/loss', step: 1, value: 2, time: 1 }]);
    store.runs.markInterrupted([r.id]);
    const again = store.runs.requeue(r.id);
    expect(again).toMatchObject({ status: 'queued', attempt: 2, startedAt: null });
    expect(store.metrics.keys(r.id)).toEqual([]);
    store.runs.markInterrupted([r.id]);
    expect(store.runs.requeue(r.id, false).attempt).toBe(2);
    store.runs.finish(r.id, 'cancelled');
    store.runs.setError(r.id, 'pruned by ASHA at step 10');
    expect(store.runs.get(r.id).error).toBe('pruned by ASHA at step 10');
  });
});
