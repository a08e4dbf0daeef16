/**
 * The export folder through the Lab API (what the app and web mode use): links are never
 * followed out of it (import refused without echoing the target's bytes, export never
 * writes through one), overwriting replaces only an earlier LoRA Lab export, and what
 * killed writers left behind is swept at the next start while a live writer's stays.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const outside = join(tmp.dir, 'outside');
let lab: Lab;
let model = 0;
let adapter = 0;
const SECRET = 'root:x:0:0:SECRET-BYTES-THAT-MUST-NOT-LEAK';

const fill = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) / 10);

beforeAll(() => {
  mkdirSync(outside);
  lab = Lab.open(join(tmp.dir, 'lab.db'));
  mkdirSync(lab.exportDir, { recursive: true });
  const m = lab.store.models.create({ name: 'm', kind: 'imported', sizes: [784, 16, 10] });
  lab.store.tensors.put({ modelId: m.id }, {
    'linear1.weight': { shape: [16, 784], data: fill(16 * 784, 1) },
    'linear1.bias': { shape: [16], data: fill(16, 2) },
    'linear2.weight': { shape: [10, 16], data: fill(160, 3) },
    'linear2.bias': { shape: [10], data: fill(10, 4) },
  });
  model = m.id;
  const a = lab.store.adapters.create({ name: 'a', baseModelId: model, info: { r: 2, alpha: 4, scaling: 2, scalingRule: 'standard', targets: ['linear1'], init: 'gaussian', variant: 'lora', freezeA: false } });
  lab.store.tensors.put({ adapterId: a.id }, { 'linear1.lora_A': { shape: [2, 784], data: fill(2 * 784, 5) }, 'linear1.lora_B': { shape: [16, 2], data: fill(32, 6) } });
  adapter = a.id;
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

const exported = (name: string) => join(lab.exportDir, name);
const safetensorsModel = () => writeSafetensors(lab.store.tensors.get({ modelId: model }), { format: 'pt' });

describe('links in the export folder are not followed', () => {
  it('a link to a file outside is refused on import, and the message holds none of its bytes', async () => {
    writeFileSync(join(outside, 'passwd'), `${SECRET}\n`);
    symlinkSync(join(outside, 'passwd'), exported('evil.safetensors'));
    const models = lab.store.models.list().length;
    const err = await lab.importWeights({ fileName: 'evil.safetensors', kind: 'model' }).catch((e: Error & { status: number }) => e);
    expect(err).toMatchObject({ status: 400, message: expect.stringMatching(/evil\.safetensors in the export folder is a symbolic link/) });
    expect((err as Error).message).not.toMatch(/root|SECRET|x:0/);
    // Refused because it is a link, not because of what it holds: a valid model behind a link is refused too.
    writeFileSync(join(outside, 'valid.safetensors'), safetensorsModel());
    symlinkSync(join(outside, 'valid.safetensors'), exported('valid-link.safetensors'));
    await expect(lab.importWeights({ fileName: 'valid-link.safetensors', kind: 'model' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/symbolic link/) });
    expect(lab.store.models.list().length).toBe(models);
  });

  it('a link to a folder outside, and a link inside an adapter folder, are refused', async () => {
    const peft = join(outside, 'peft');
    await lab.exportWeights({ target: { kind: 'adapter', id: adapter }, format: 'peft', fileName: 'real-peft' });
    mkdirSync(peft);
    for (const f of readdirSync(exported('real-peft'))) writeFileSync(join(peft, f), readFileSync(join(exported('real-peft'), f)));
    symlinkSync(peft, exported('linked-peft'));
    const adapters = lab.store.adapters.list().length;
    await expect(lab.importWeights({ fileName: 'linked-peft', kind: 'adapter', baseModelId: model })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/linked-peft in the export folder is a symbolic link/) });
    mkdirSync(exported('half-linked'));
    writeFileSync(exported('half-linked/adapter_config.json'), readFileSync(join(peft, 'adapter_config.json')));
    symlinkSync(join(peft, 'adapter_model.safetensors'), exported('half-linked/adapter_model.safetensors'));
    await expect(lab.importWeights({ fileName: 'half-linked', kind: 'adapter', baseModelId: model })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/half-linked\/adapter_model\.safetensors in the export folder is a symbolic link/),
    });
    expect(lab.store.adapters.list().length).toBe(adapters);
    // The real folder still imports.
    await lab.importWeights({ fileName: 'real-peft', kind: 'adapter', baseModelId: model });
    expect(lab.store.adapters.list().length).toBe(adapters + 1);
  });

  it('a pipe in an adapter folder is refused at once instead of hanging the server on a read', async () => {
    mkdirSync(exported('piped-peft'));
    try {
      execFileSync('mkfifo', [exported('piped-peft/adapter_config.json')]);
    } catch {
      return; // no mkfifo on this system
    }
    writeFileSync(exported('piped-peft/adapter_model.safetensors'), readFileSync(exported('real-peft/adapter_model.safetensors')));
    await expect(lab.importWeights({ fileName: 'piped-peft', kind: 'adapter', baseModelId: model })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/piped-peft\/adapter_config\.json in the export folder is not a regular file or folder/),
    });
  });

  it('an export onto a link is refused, with or without overwriting, and its target is unchanged', async () => {
    const victim = join(outside, 'victim.safetensors');
    const before = Buffer.from(safetensorsModel()); // looks like an export: only the link makes it off limits
    writeFileSync(victim, before);
    symlinkSync(victim, exported('link.safetensors'));
    for (const overwrite of [false, true]) {
      // 400, not 409: the app asks "replace it?" on a 409, and replacing would be refused.
      await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'link.safetensors', overwrite })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/link\.safetensors is a symbolic link, and LoRA Lab neither replaces links nor writes through them/),
      });
    }
    expect(readFileSync(victim).equals(before)).toBe(true);
    expect(lstatSync(exported('link.safetensors')).isSymbolicLink()).toBe(true);
    // A dangling link is no different: it is not replaced by the export.
    symlinkSync(join(outside, 'nothing-here'), exported('dangling.json'));
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'dangling.json' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/symbolic link/) });
    expect(readlinkSync(exported('dangling.json'))).toBe(join(outside, 'nothing-here'));
    expect(existsSync(join(outside, 'nothing-here'))).toBe(false);
    // Folder exports: a link to a folder is not replaced either.
    mkdirSync(join(outside, 'tfjs-target'));
    writeFileSync(join(outside, 'tfjs-target', 'model.json'), '{}');
    symlinkSync(join(outside, 'tfjs-target'), exported('linked-tfjs'));
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'tfjs', fileName: 'linked-tfjs', overwrite: true })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/symbolic link/) });
    expect(readdirSync(join(outside, 'tfjs-target'))).toEqual(['model.json']);
    expect(readFileSync(join(outside, 'tfjs-target', 'model.json'), 'utf8')).toBe('{}');
  });
});

describe('overwriting replaces only an earlier export', () => {
  it('a PEFT folder over an earlier one; not over one with a README, a subfolder, or of another format', async () => {
    const req = { target: { kind: 'adapter' as const, id: adapter }, format: 'peft' as const, fileName: 'peft-again' };
    await lab.exportWeights(req);
    await expect(lab.exportWeights(req)).rejects.toMatchObject({ status: 409 });
    const again = await lab.exportWeights({ ...req, overwrite: true });
    expect(readdirSync(exported('peft-again')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(again.files.map((f) => f.sha256)).toEqual((await lab.exportWeights({ ...req, fileName: 'peft-fresh' })).files.map((f) => f.sha256));
    writeFileSync(exported('peft-again/README.md'), 'my notes');
    await expect(lab.exportWeights({ ...req, overwrite: true })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/holds "README\.md", which LoRA Lab does not write there/) });
    expect(readFileSync(exported('peft-again/README.md'), 'utf8')).toBe('my notes');
    mkdirSync(exported('peft-fresh/checkpoint-1'));
    await expect(lab.exportWeights({ ...req, fileName: 'peft-fresh', overwrite: true })).rejects.toMatchObject({ status: 400 });
    expect(existsSync(exported('peft-fresh/checkpoint-1'))).toBe(true);
    // A TF.js export over a PEFT folder: the same two names would not be what it writes.
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'tfjs', fileName: 'real-peft', overwrite: true })).rejects.toMatchObject({ status: 400 });
    expect(readdirSync(exported('real-peft')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(readdirSync(lab.exportDir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a one-file export replaces a file of its own kind only', async () => {
    await lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'm.safetensors' });
    await lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'm.safetensors', overwrite: true });
    writeFileSync(exported('notes.csv'), 'my,own\r\nspreadsheet,1\r\n');
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'notes.csv', overwrite: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/notes\.csv does not look like a safetensors file LoRA Lab wrote \(it reads as CSV\)/),
    });
    expect(readFileSync(exported('notes.csv'), 'utf8')).toBe('my,own\r\nspreadsheet,1\r\n');
    mkdirSync(exported('a-folder.safetensors'));
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'a-folder.safetensors', overwrite: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/is a folder, and this export is one file/),
    });
    expect(lstatSync(exported('a-folder.safetensors')).isDirectory()).toBe(true);
  });

  it('a file of the right format that LoRA Lab did not write is refused (a stranger\'s JSON or safetensors)', async () => {
    const run = lab.store.runs.create({ name: 'r', kind: 'base', config: defaultConfig('base'), baseModelId: null });
    await lab.exportWeights({ target: { kind: 'run', id: run.id }, format: 'json', fileName: 'r.json' });
    await lab.exportWeights({ target: { kind: 'run', id: run.id }, format: 'json', fileName: 'r.json', overwrite: true });
    writeFileSync(exported('package.json'), '{"name": "someone-else", "version": "1.0.0"}\n');
    await expect(lab.exportWeights({ target: { kind: 'run', id: run.id }, format: 'json', fileName: 'package.json', overwrite: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/package\.json is a JSON file, but not one LoRA Lab wrote/),
    });
    expect(readFileSync(exported('package.json'), 'utf8')).toContain('someone-else');
    // A model export names its lineage; a safetensors file without one is somebody else's.
    writeFileSync(exported('theirs.safetensors'), safetensorsModel());
    await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: 'theirs.safetensors', overwrite: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/theirs\.safetensors is a safetensors file, but not one LoRA Lab wrote/),
    });
  });

  it("a TF.js folder whose weights.bin happens to begin like JSON is still an earlier export (raw floats have no kind)", async () => {
    await lab.exportWeights({ target: { kind: 'model', id: model }, format: 'tfjs', fileName: 'tf' });
    const bin = readFileSync(exported('tf/weights.bin'));
    bin[0] = 0x7b; // '{': 0.8% of random float32 files begin so
    writeFileSync(exported('tf/weights.bin'), bin);
    await lab.exportWeights({ target: { kind: 'model', id: model }, format: 'tfjs', fileName: 'tf', overwrite: true });
    expect(readFileSync(exported('tf/weights.bin'))[0]).not.toBe(0x7b);
  });
});

/** The PID of a process that has exited (a real one, so the PID is not in use now). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('leftovers of killed exports', () => {
  it('a start removes dead writers’ partials, restores a folder export set aside, and leaves a live writer’s alone', async () => {
    const t = tempDir();
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const dir = join(t.dir, 'exports');
      mkdirSync(dir);
      const dead = await deadPid();
      writeFileSync(join(dir, `.big.safetensors.${dead}-0123456789ab.partial`), 'half');
      mkdirSync(join(dir, `.big-tfjs.${dead}-0123456789ab.partial`));
      writeFileSync(join(dir, `.big-tfjs.${dead}-0123456789ab.partial`, 'weights.bin'), 'half');
      writeFileSync(join(dir, `.busy.safetensors.${live.pid}-0123456789ab.partial`), 'being written');
      // Killed between "old folder aside" and "new folder in": the old one comes back.
      mkdirSync(join(dir, `.old-peft.${dead}-0123456789ab.replaced`));
      writeFileSync(join(dir, `.old-peft.${dead}-0123456789ab.replaced`, 'adapter_config.json'), '{}');
      // Killed after the new one was in: the old one goes.
      mkdirSync(join(dir, 'done-peft'));
      mkdirSync(join(dir, `.done-peft.${dead}-0123456789ab.replaced`));
      writeFileSync(join(dir, '.not-ours'), 'a file of someone else');
      // Partials of versions that did not name the writer: removed only once clearly abandoned (an hour).
      writeFileSync(join(dir, '.old.safetensors.0123456789ab.partial'), 'abandoned');
      const longAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(join(dir, '.old.safetensors.0123456789ab.partial'), longAgo, longAgo);
      writeFileSync(join(dir, '.recent.safetensors.0123456789ab.partial'), 'maybe still being written');
      const other = Lab.open(join(t.dir, 'lab.db'));
      await other.close();
      expect(readdirSync(dir).sort()).toEqual([`.busy.safetensors.${live.pid}-0123456789ab.partial`, '.not-ours', '.recent.safetensors.0123456789ab.partial', 'done-peft', 'old-peft']);
      expect(readFileSync(join(dir, 'old-peft', 'adapter_config.json'), 'utf8')).toBe('{}');
    } finally {
      live.kill('SIGKILL');
      t.cleanup();
    }
  });
});
