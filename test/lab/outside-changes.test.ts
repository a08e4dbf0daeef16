/**
 * Changes another process makes to the database reach this Lab's listeners as events:
 * a second Lab on the same file (its own connection and run manager, as a CLI beside the
 * app has) and the real `lora-lab` command, against a real database file and real
 * trainer processes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import type { MetricPoint } from '../../src-main/contract/protocol.ts';
import { lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const base = (over: Partial<RunConfig> = {}): RunConfig => ({
  ...defaultConfig('base'), sizes, batchSize: 16, trainLimit: 3200, testLimit: 300, evalEvery: 50, evalSubset: 100, maxSteps: 200, ...over,
});
const lora = (over: Partial<RunConfig> = {}): RunConfig => {
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, trainLimit: 1600, testLimit: 300, evalEvery: 0, maxSteps: 60, classes: [7], ...over };
  c.lora = { ...c.lora!, targets: ['linear1', 'linear2'], init: 'gaussian' };
  return c;
};
const env = { ...process.env, LORA_LAB_BACKEND: 'wasm' };

/** Waits (polling) until `find` returns something; fails after `ms` with what was seen. */
async function until<T>(what: string, find: () => T | undefined | null | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('changes made by another process', () => {
  const tmp = tempDir('lora-lab-outside-');
  const dbFile = join(tmp.dir, 'lab.db');
  /** The app: it only watches (and makes a few changes of its own). */
  let app: Lab;
  /** Another process's Lab on the same file: its own connection and run manager. */
  let other: Lab;
  const seen: LabEvent[] = [];
  const runEvents = (id: number) => seen.filter((e): e is Extract<LabEvent, { type: 'run' }> => e.type === 'run' && e.run.id === id).map((e) => e.run);

  beforeAll(() => {
    app = Lab.open(dbFile, { host: { env }, outsideChangesMs: 100 });
    app.subscribe((e) => seen.push(e));
    // Progress is written to the row every 100 ms instead of every second: a short run still shows some.
    other = Lab.open(dbFile, { host: { env }, metricFlushMs: 50, progressWriteMs: 100 });
  });
  afterAll(async () => {
    await other.close();
    await app.close();
    tmp.cleanup();
  });

  let baseRun = 0;
  let modelId = 0;

  it('a run trained elsewhere arrives with its statuses, live progress, every metric point once, and its model', async () => {
    const created = await other.createRun({ name: 'elsewhere', config: base(), tags: ['cli'] });
    baseRun = created.id;
    const first = await until('the new run', () => runEvents(baseRun)[0]);
    expect(first).toMatchObject({ name: 'elsewhere', tags: ['cli'], kind: 'base' });
    const done = await other.waitForRun(baseRun);
    expect(done.status).toBe('completed');
    modelId = done.modelId!;
    await until('the completed run', () => runEvents(baseRun).find((r) => r.status === 'completed'));

    expect(runEvents(baseRun).map((r) => r.status)).toContain('running');
    const progress = seen.filter((e) => e.type === 'progress' && e.runId === baseRun);
    expect(progress.length).toBeGreaterThan(0);
    // The live points, joined, are exactly what was stored: none missing, none twice.
    const points = seen.flatMap((e) => (e.type === 'metrics' && e.runId === baseRun ? e.points : []));
    const stored = (await app.getRun(baseRun)).metrics;
    const byKey = (key: string) => points.filter((p: MetricPoint) => p.key === key).map((p) => p.step);
    expect(byKey('train/loss')).toEqual(stored['train/loss']!.steps);
    expect(byKey('train/loss')).toHaveLength(200);
    expect(byKey('val/accuracy')).toEqual(stored['val/accuracy']!.steps);
    // The model it produced, before the run's final event (a page reloading on "completed" finds it).
    const modelAt = seen.findIndex((e) => e.type === 'model' && e.model.id === modelId);
    const completedAt = seen.findIndex((e) => e.type === 'run' && e.run.id === baseRun && e.run.status === 'completed');
    expect(modelAt).toBeGreaterThanOrEqual(0);
    expect(modelAt).toBeLessThan(completedAt);
    expect(runEvents(baseRun).at(-1)!.accuracy).toBeGreaterThan(0);
  });

  it('a LoRA run elsewhere brings its adapter; renaming, notes and deleting elsewhere arrive too', async () => {
    const run = await other.createRun({ name: 'ft elsewhere', config: lora(), baseModelId: modelId });
    const done = await other.waitForRun(run.id);
    expect(done.status).toBe('completed');
    const adapterId = done.adapterId!;
    await until('the adapter', () => seen.find((e) => e.type === 'adapter' && e.adapter.id === adapterId));

    await other.renameRun(run.id, 'renamed elsewhere');
    await until('the new name', () => runEvents(run.id).find((r) => r.name === 'renamed elsewhere'));
    await other.setNotes(run.id, 'a note from the CLI');
    await until('the notes', () => runEvents(run.id).find((r) => r.notes === 'a note from the CLI'));

    await other.deleteRun(run.id);
    await until('the deleted run', () => seen.find((e) => e.type === 'run-deleted' && e.id === run.id));
    await until('its deleted adapter', () => seen.find((e) => e.type === 'adapter-deleted' && e.id === adapterId));
  });

  it('a data set imported elsewhere arrives, and its deletion too', async () => {
    const csv = join(tmp.dir, 'tiny.csv');
    writeFileSync(csv, ['a,b,label', ...Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 5},${i % 2 ? 'odd' : 'even'}`)].join('\n'));
    const d = await other.importDataset({ path: csv, name: 'tiny table' });
    const got = await until('the data set', () => seen.find((e): e is Extract<LabEvent, { type: 'dataset' }> => e.type === 'dataset' && e.dataset.id === d.id));
    expect(got.dataset).toMatchObject({ name: 'tiny table', classes: ['even', 'odd'], shape: [2] });
    await other.deleteDataset(d.id);
    await until('its deletion', () => seen.find((e) => e.type === 'dataset-deleted' && e.id === d.id));
  });

  it('a tag and a deletion by the real lora-lab command arrive', async () => {
    const r = await cli(['tag', String(baseRun), 'from-cli', '--db', dbFile]);
    expect(r.code, r.stderr).toBe(0);
    await until('the tag', () => runEvents(baseRun).find((v) => v.tags.includes('from-cli')));
    const rm = await cli(['rm', String(baseRun), '--db', dbFile]);
    expect(rm.code, rm.stderr).toBe(0);
    await until('the deleted run', () => seen.find((e) => e.type === 'run-deleted' && e.id === baseRun));
    await until('its model gone', () => seen.find((e) => e.type === 'model-deleted' && e.id === modelId));
  });

  it("this process's own changes are told once, even when another process writes in the same moment", async () => {
    // Ids of deleted runs come back (SQLite reuses the highest rowid): count from here.
    const start = seen.length;
    const mine = await app.createRun({ name: 'mine', config: base({ maxSteps: 20, evalEvery: 0 }) });
    const theirs = await other.createRun({ name: 'theirs', config: base({ maxSteps: 20, evalEvery: 0 }) });
    await app.waitForRun(mine.id);
    await other.waitForRun(theirs.id);
    await until('their run completed', () => runEvents(theirs.id).find((r) => r.status === 'completed'));
    const before = seen.length;
    // Our change and theirs, back to back: the next look sees both rows changed.
    await app.renameRun(mine.id, 'mine, renamed');
    await other.setTags(theirs.id, ['theirs']);
    await until('their tag', () => runEvents(theirs.id).find((r) => r.tags.includes('theirs')));
    await app.deleteRun(mine.id);
    await other.renameRun(theirs.id, 'theirs, renamed');
    await until('their name', () => runEvents(theirs.id).find((r) => r.name === 'theirs, renamed'));
    const after = seen.slice(before);
    expect(after.filter((e) => e.type === 'run' && e.run.id === mine.id).map((e) => (e.type === 'run' ? e.run.name : ''))).toEqual(['mine, renamed']);
    expect(after.filter((e) => e.type === 'run-deleted' && e.id === mine.id)).toHaveLength(1);
    // Our own run's metric points came from our trainer only: each step once.
    const own = seen.slice(start).flatMap((e) => (e.type === 'metrics' && e.runId === mine.id ? e.points : [])).filter((p) => p.key === 'train/loss');
    expect(own.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('watches only while someone listens, and a closed database stops it without an error', async () => {
    const third = Lab.open(dbFile, { host: { env }, outsideChangesMs: 50 });
    const got: LabEvent[] = [];
    const off = third.subscribe((e) => got.push(e));
    const run = (await other.listRuns())[0]!;
    await other.setNotes(run.id, 'while watched');
    await until('the change', () => got.find((e) => e.type === 'run' && e.run.notes === 'while watched'));
    off();
    await other.setNotes(run.id, 'while nobody listens');
    await new Promise((r) => setTimeout(r, 300));
    expect(got.some((e) => e.type === 'run' && e.run.notes === 'while nobody listens')).toBe(false);
    third.subscribe((e) => got.push(e));
    // The database goes away under it: the timer must not throw (an uncaught error would fail the run).
    third.store.close();
    await other.setNotes(run.id, 'after close');
    await new Promise((r) => setTimeout(r, 300));
    await third.close();
  });
});
