/**
 * A database written by the previous release (schema 2, made with that release's own CLI:
 * a base run, two LoRA runs on digits 7 and 3+8, a merged model, tags, notes, a kept
 * merge preview) opens after migrations 0003–0006 with everything intact and its runs on MNIST.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { useTempDirs } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/release-schema2.db', import.meta.url));
const temp = useTempDirs();

/** Every row of the tables the old release had, as plain values (BLOBs as hex). */
function snapshot(file: string, tables: string[]) {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(
      tables.map((t) => [
        t,
        db
          .prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`)
          .all()
          .map((r) => Object.fromEntries(Object.entries(r as object).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v]))),
      ]),
    );
  } finally {
    db.close();
  }
}

describe('upgrade from the previous release', () => {
  it('keeps every run, model, adapter, tag, note, metric and evaluation, and puts the runs on MNIST', async () => {
    const file = join(temp.dir(), 'lab.db');
    copyFileSync(FIXTURE, file);
    const untouched = ['tensors', 'metrics', 'evaluations', 'merge_previews'];
    const before = snapshot(file, [...untouched, 'adapters', 'runs', 'models']);
    expect(before['runs']).toHaveLength(3);

    const lab = Lab.open(file, { recover: false });
    try {
      expect(lab.store.db.pragma('user_version', { simple: true })).toBe(6);
      const after = snapshot(file, [...untouched, 'adapters', 'runs', 'models']);
      for (const t of untouched) expect(after[t], t).toEqual(before[t]);
      // 0005 rebuilt the adapters table (foreign keys off around it): same ids and values,
      // every old adapter plain LoRA; nothing that references an adapter lost it.
      expect(before['adapters']!.length).toBeGreaterThan(0);
      after['adapters']!.forEach((a, i) => expect(a).toEqual({ ...before['adapters']![i], variant: 'lora', freeze_a: 0 }));
      expect(lab.store.db.pragma('foreign_key_check')).toEqual([]);
      expect(lab.store.db.pragma('foreign_keys', { simple: true })).toBe(1);

      // Runs: every column as it was, but for the config's `digits` → `classes` and its data set.
      after['runs']!.forEach((r, i) => {
        const old = before['runs']![i]!;
        const { config: oldConfig, ...oldRest } = old as { config: string };
        const { config, dataset_id, exit_reason, sweep_id, sweep_point, sweep_seed_index, attempt, ...rest } = r as {
          config: string; dataset_id: number; exit_reason: string | null; sweep_id: number | null; sweep_point: number | null; sweep_seed_index: number | null; attempt: number;
        };
        expect(rest).toEqual(oldRest);
        // 0004: no run of the old release belongs to a sweep, and each is its first attempt.
        expect([sweep_id, sweep_point, sweep_seed_index, attempt]).toEqual([null, null, null, 1]);
        expect(dataset_id).toBe(1);
        expect(exit_reason).toBeNull(); // how their trainers ended was not recorded before 0003
        const { digits, ...kept } = JSON.parse(oldConfig) as { digits: number[] | null };
        expect(JSON.parse(config)).toEqual({ ...kept, data: 1, classes: digits });
      });
      after['models']!.forEach((m, i) => expect(m).toEqual({ ...before['models']![i], dataset_id: 1 }));

      const runs = await lab.listRuns();
      expect(runs.map((r) => [r.name, r.config.classes, r.dataset?.name, r.focusClasses])).toEqual([
        [expect.stringMatching(/^LoRA r1/), [3, 8], 'mnist', ['3', '8']],
        ['lora on 7', [7], 'mnist', ['7']],
        ['tiny base', null, 'mnist', null],
      ]);
      const seven = runs.find((r) => r.name === 'lora on 7')!;
      expect(seven.tags).toEqual(['keep', 'seven']);
      expect(seven.notes).toBe('fine-tuned on sevens');
      expect(seven.focusWrong).not.toBeNull();
      expect(seven.dataset?.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      const detail = await lab.getRun(seven.id);
      expect(detail.evaluations.before?.total).toBe(500);
      expect(detail.evaluations.after?.predictions).toHaveLength(500);

      const models = await lab.listModels();
      expect(models.map((m) => [m.name, m.dataset?.name])).toEqual([
        ['merged 7+38', 'mnist'],
        ['tiny base', 'mnist'],
      ]);
      expect((await lab.listAdapters()).map((a) => a.name).sort()).toEqual([expect.stringMatching(/^LoRA r1/), 'lora on 7'].sort());
      const [preview] = await lab.listMergePreviews();
      expect(preview!.combined.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      const { datasets } = await lab.listDatasets();
      expect(datasets.map((d) => [d.id, d.name, d.usedBy.runs.length, d.usedBy.models.length])).toEqual([[1, 'mnist', 3, 2]]);
      // The data set cannot go while runs use it (and MNIST never can).
      await expect(lab.deleteDataset(1)).rejects.toMatchObject({ status: 409 });
    } finally {
      await lab.close();
    }
  });
});
