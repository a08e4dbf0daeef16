/**
 * inspectAdapter (issue 12, item 5): which stored model a PEFT folder belongs to, from
 * its config's base_model_name_or_path when that model fits, else from its tensor
 * shapes; a clear reason for every model it does not fit; nothing pre-selected when
 * none fits. Through a real Lab over the validated transport arguments too.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectAdapter, matchBase } from '../../src-main/lab/import-inspect.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { validateArgs } from '../../src-main/contract/schemas.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../../src-main/weights/peft.ts';
import { tempDir } from '../helpers/tmp.ts';
import { randomAdapter } from '../weights/helpers.ts';

const tmp = tempDir('lora-lab-inspect-');
afterAll(() => tmp.cleanup());

const narrow = { id: 1, name: 'narrow', sizes: [784, 16, 10], createdAt: 1000 };
const wide = { id: 2, name: 'wide', sizes: [784, 64, 10], createdAt: 2000 }; // the newest
const twin = { id: 3, name: 'narrow twin', sizes: [784, 16, 10], createdAt: 1500 };

function peftFolder(name: string, sizes: number[], baseName: string, r = 2): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const a = randomAdapter(sizes, { r }, 7);
  const files = peftFiles(a.tensors, a.info, baseName);
  writeFileSync(join(dir, PEFT_CONFIG_FILE), JSON.stringify(files.config));
  writeFileSync(join(dir, PEFT_WEIGHTS_FILE), files.safetensors);
  return name;
}

describe('inspectAdapter', () => {
  it('pre-selects the model the config names, not the newest', () => {
    const name = peftFolder('named', [784, 16, 10], 'lora-lab/model-1');
    const r = inspectAdapter(tmp.dir, name, [narrow, wide, twin]);
    expect(r).toMatchObject({ baseModelName: 'lora-lab/model-1', namedModelId: 1, suggestedModelId: 1, r: 2, problem: null });
    expect(r.layers).toEqual([
      { layer: 'linear1', in: 784, out: 16 },
      { layer: 'linear2', in: 16, out: 10 },
    ]);
    expect(r.models.find((m) => m.modelId === 2)?.mismatch).toBe("its linear1 is 784 → 64, the adapter's is 784 → 16");
    expect(r.models.find((m) => m.modelId === 3)?.mismatch).toBeNull();
  });

  it('a name that is no stored model (or one that does not fit): the newest model whose widths fit', () => {
    const foreign = inspectAdapter(tmp.dir, peftFolder('foreign', [784, 16, 10], 'someone/mnist-mlp'), [narrow, wide, twin]);
    expect(foreign).toMatchObject({ namedModelId: null, suggestedModelId: 3 });
    // Exported from another database: model-2 there was narrow, here it is wide.
    const moved = inspectAdapter(tmp.dir, peftFolder('moved', [784, 16, 10], 'lora-lab/model-2'), [narrow, wide, twin]);
    expect(moved).toMatchObject({ namedModelId: 2, suggestedModelId: 3 });
    // A model named by its name.
    expect(inspectAdapter(tmp.dir, peftFolder('by-name', [784, 16, 10], 'narrow'), [narrow, wide, twin])).toMatchObject({ namedModelId: 1, suggestedModelId: 1 });
  });

  it('none fits: nothing pre-selected, and why for each model', () => {
    const r = inspectAdapter(tmp.dir, peftFolder('deep', [784, 32, 16, 10], 'lora-lab/model-9'), [narrow, wide]);
    expect(r.suggestedModelId).toBeNull();
    expect(r.models.map((m) => m.mismatch)).toEqual(["its linear1 is 784 → 64, the adapter's is 784 → 32", "its linear1 is 784 → 16, the adapter's is 784 → 32"]);
    // The rank: widths that match but cannot hold it.
    expect(matchBase(null, { r: 12, layers: [{ layer: 'linear2', in: 16, out: 10 }] }, [narrow]).models[0]!.mismatch).toBe('rank 12 is more than its linear2 (16 → 10) allows');
    expect(matchBase(null, { r: 1, layers: [{ layer: 'linear3', in: 16, out: 10 }] }, [narrow]).models[0]!.mismatch).toMatch(/no layer linear3/);
  });

  it('an unreadable folder is a problem to show, not a crash; links are refused', () => {
    mkdirSync(join(tmp.dir, 'empty'));
    const r = inspectAdapter(tmp.dir, 'empty', [narrow]);
    expect(r.problem).toMatch(/adapter_config\.json does not exist/);
    expect(r.suggestedModelId).toBeNull();
    const bad = peftFolder('bad-header', [784, 16, 10], 'x');
    writeFileSync(join(tmp.dir, bad, PEFT_WEIGHTS_FILE), Buffer.alloc(16, 0xff));
    expect(inspectAdapter(tmp.dir, bad, [narrow]).problem).toMatch(/header length/);
    symlinkSync(join(tmp.dir, 'named'), join(tmp.dir, 'link'));
    expect(() => inspectAdapter(tmp.dir, 'link', [narrow])).toThrow(/symbolic link/);
  });

  it('is a LabApi call: checked arguments, the stored models, the export folder only', async () => {
    expect(() => validateArgs('inspectAdapter', [])).toThrow(/invalid arguments/);
    expect(validateArgs('inspectAdapter', ['x'])).toEqual(['x']);
    const exportDir = join(tmp.dir, 'exports');
    const lab = Lab.open(join(tmp.dir, 'lab.db'), { exportDir, recover: false });
    try {
      const a = lab.store.models.create({ name: 'a', kind: 'imported', sizes: [784, 16, 10], origin: null });
      lab.store.models.create({ name: 'b', kind: 'imported', sizes: [784, 64, 10], origin: null });
      mkdirSync(exportDir, { recursive: true });
      const dir = join(exportDir, 'peft');
      mkdirSync(dir);
      const ad = randomAdapter([784, 16, 10], { r: 2 }, 3);
      const files = peftFiles(ad.tensors, ad.info, 'unknown');
      writeFileSync(join(dir, PEFT_CONFIG_FILE), JSON.stringify(files.config));
      writeFileSync(join(dir, PEFT_WEIGHTS_FILE), files.safetensors);
      await expect(lab.inspectAdapter('peft')).resolves.toMatchObject({ suggestedModelId: a.id });
      await expect(lab.inspectAdapter('../peft')).rejects.toThrow(/file name/);
      await expect(lab.inspectAdapter('nothing')).rejects.toMatchObject({ status: 404 });
    } finally {
      await lab.close();
    }
  });
});
