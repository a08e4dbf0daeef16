/**
 * Kept merge previews through the Lab service, on real tiny runs: a kept preview is the
 * preview the service computes, outlives closing the Lab, records what it was saved as,
 * says when what it names was deleted, and can be deleted.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergeRequest } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { validateArgs } from '../../src-main/contract/schemas.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
const file = join(tmp.dir, 'lab.db');
const opts = { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } };
let lab: Lab;
let baseModel = 0;
const adapters: number[] = [];

function lora(digit: number): RunConfig {
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, trainLimit: 320, testLimit: 200, evalEvery: 0, maxSteps: 10, classes: [digit], seed: digit };
  c.lora = { ...c.lora!, r: 2, alpha: 2, targets: ['linear1', 'linear2'] };
  return c;
}

beforeAll(async () => {
  lab = Lab.open(file, opts);
  const base = await lab.waitForRun((await lab.createRun({ name: 'pv base', config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 640, testLimit: 200, evalEvery: 0, maxSteps: 20 } })).id);
  baseModel = base.modelId!;
  for (const d of [7, 3]) adapters.push((await lab.waitForRun((await lab.createRun({ name: `pv on ${d}`, config: lora(d), baseModelId: baseModel })).id)).adapterId!);
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

describe('kept merge previews', () => {
  const req = (): MergeRequest => ({ baseModelId: baseModel, adapters: [{ adapterId: adapters[0]!, weight: 1 }, { adapterId: adapters[1]!, weight: 0.5 }], method: 'linear', testLimit: 200 });

  it('keeps what previewMerge computes, with the names, newest first, and still after a restart', async () => {
    expect(await lab.listMergePreviews()).toEqual([]);
    const kept = await lab.keepMergePreview(req());
    const fresh = await lab.previewMerge(req());
    expect(kept).toMatchObject({ request: req(), baseName: 'pv base', adapterNames: ['pv on 7', 'pv on 3'], baseDeleted: false, deletedAdapters: [], saved: null });
    expect(kept.combined.wrongPerClass).toEqual(fresh.combined.wrongPerClass);
    expect(kept.adapters.map((a) => a.wrongPerClass)).toEqual(fresh.adapters.map((a) => a.wrongPerClass));
    const second = await lab.keepMergePreview({ ...req(), method: 'svd', rank: 1 });
    expect((await lab.listMergePreviews()).map((p) => p.id)).toEqual([second.id, kept.id]);

    await lab.close();
    lab = Lab.open(file, opts);
    expect(await lab.listMergePreviews()).toEqual([second, kept]);
  });

  it('saves a kept preview and records what it was saved as; deleting that is noted, not hidden', async () => {
    const [, first] = await lab.listMergePreviews();
    const { preview, saved } = await lab.saveMergePreview(first!.id, 'kept 7+3', 'adapter');
    expect(saved).toMatchObject({ name: 'kept 7+3', baseModelId: baseModel });
    expect(preview.saved).toEqual({ kind: 'adapter', id: saved.id, name: 'kept 7+3', at: expect.any(Number) as number, deleted: false });
    expect((await lab.listMergePreviews()).find((p) => p.id === first!.id)?.saved?.id).toBe(saved.id);
    // What was saved evaluates as previewed (the preview's testLimit is not part of the save).
    expect(lab.store.adapters.get(saved.id).origin).toMatchObject({ merge: { method: 'linear', adapters: req().adapters } });

    await lab.deleteAdapter(saved.id);
    expect((await lab.listMergePreviews()).find((p) => p.id === first!.id)?.saved).toMatchObject({ id: null, name: 'kept 7+3', deleted: true });
  });

  it('says which adapters were deleted since, and refuses to save such a preview', async () => {
    // An imported-like adapter (no run) on the same base, kept in a preview, then deleted.
    const copy = lab.store.transaction(() => {
      const a = lab.store.adapters.get(adapters[0]!);
      const c = lab.store.adapters.create({ name: 'pv copy', baseModelId: baseModel, info: a.info });
      lab.store.tensors.put({ adapterId: c.id }, lab.store.tensors.get({ adapterId: a.id }));
      return c;
    });
    const p = await lab.keepMergePreview({ ...req(), adapters: [{ adapterId: copy.id, weight: 1 }] });
    await lab.deleteAdapter(copy.id);
    const listed = (await lab.listMergePreviews()).find((x) => x.id === p.id);
    expect(listed).toMatchObject({ deletedAdapters: [copy.id], adapterNames: ['pv copy'], baseDeleted: false });
    await expect(lab.saveMergePreview(p.id, 'nope', 'model')).rejects.toThrow(/adapter “pv copy” was deleted/);
  });

  it('deletes a kept preview; a missing one is a 404; payloads are checked', async () => {
    const [newest] = await lab.listMergePreviews();
    await lab.deleteMergePreview(newest!.id);
    expect((await lab.listMergePreviews()).some((p) => p.id === newest!.id)).toBe(false);
    await expect(lab.deleteMergePreview(newest!.id)).rejects.toMatchObject({ status: 404 });
    await expect(lab.saveMergePreview(newest!.id, 'x', 'model')).rejects.toMatchObject({ status: 404 });
    expect(() => validateArgs('saveMergePreview', [1, 'x', 'elsewhere'])).toThrow(/invalid arguments/);
    expect(() => validateArgs('deleteMergePreview', [0])).toThrow(/invalid arguments/);
  });
});
