/**
 * Hostile and absurd weight files, and work that must not block the event loop, made
 * real: sparse multi-gigabyte files (truncate: nothing is written to disk), configs
 * that are not JSON and hold someone's secrets, NaN and Inf tensors, lora_alpha 1e308,
 * merge weights of 1e308, merges whose finite inputs overflow float32. Each is a
 * clean 4xx through the Lab and exit code 2 through the CLI, nothing is stored, the
 * process's memory stays small, and no message quotes a file's content.
 */
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import type { AdapterInfo } from '../../src-main/contract/protocol.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../../src-main/weights/peft.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { lab as cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { randomAdapter, randomBase } from '../weights/helpers.ts';

const sizes = [784, 16, 10];
const SECRET = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon';
const GIB = 1024 ** 3;

function writeModel(path: string, tensors: NamedTensors): void {
  writeFileSync(path, writeSafetensors(tensors, { format: 'pt' }));
}

/** A PEFT folder as Python's save_pretrained would write it. */
function writePeft(dir: string, adapter: { info: AdapterInfo; tensors: NamedTensors }, config: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  const files = peftFiles(adapter.tensors, adapter.info, 'some/base');
  writeFileSync(join(dir, PEFT_CONFIG_FILE), JSON.stringify({ ...files.config, ...config }));
  writeFileSync(join(dir, PEFT_WEIGHTS_FILE), files.safetensors);
  return dir;
}

/** The peak resident memory of this process so far, in MB (a high-water mark: it never falls). */
const peakMb = () => process.resourceUsage().maxRSS / 1024;

describe('hostile weight files through the Lab', () => {
  const tmp = tempDir();
  let lab: Lab;
  let base = 0;
  const folder = (name: string) => join(lab.exportDir, name);
  const counts = () => ({ models: lab.store.models.list().length, adapters: lab.store.adapters.list().length });

  beforeAll(async () => {
    lab = Lab.open(join(tmp.dir, 'lab.db'));
    mkdirSync(lab.exportDir, { recursive: true });
    writeModel(folder('base.safetensors'), randomBase(sizes, 1));
    base = (await lab.importWeights({ fileName: 'base.safetensors', kind: 'model', name: 'base' })).id;
  });
  afterAll(async () => {
    await lab.close();
    tmp.cleanup();
  });

  /** The import is refused with `status` and a message matching `message`; nothing is stored. */
  async function refused(req: Parameters<Lab['importWeights']>[0], message: RegExp, status = 400): Promise<string> {
    const before = counts();
    const err = (await lab.importWeights(req).then(
      () => null,
      (e: unknown) => e,
    )) as { status?: number; message: string; name: string } | null;
    expect(err, 'the import should have been refused').not.toBeNull();
    expect(err!.name).toBe('LabError');
    expect(err!.status).toBe(status);
    expect(err!.message).toMatch(message);
    expect(counts()).toEqual(before);
    return err!.message;
  }

  it('sparse multi-gigabyte files are refused by their size before a byte is read', async () => {
    const peak = peakMb();
    // 2 GiB of adapter weights beside a valid config (Node cannot even read it whole).
    const big = writePeft(folder('big-adapter'), randomAdapter(sizes, { r: 2 }, 2));
    truncateSync(join(big, PEFT_WEIGHTS_FILE), 2 * GIB);
    await refused({ fileName: 'big-adapter', kind: 'adapter', baseModelId: base }, /adapter_model\.safetensors is 2,147\.5 MB, more than the 1,073\.7 MB an adapter's weights may be/);
    // A 600 MB "config" (zeros): once a 1 GB string and ERR_STRING_TOO_LONG.
    const cfg = writePeft(folder('big-config'), randomAdapter(sizes, { r: 2 }, 2));
    truncateSync(join(cfg, PEFT_CONFIG_FILE), 600e6);
    await refused({ fileName: 'big-config', kind: 'adapter', baseModelId: base }, /adapter_config\.json is 600 MB, more than the 1 MB an adapter config may be/);
    // 1.9 GB of model: refused by size, not after reading it.
    writeModel(folder('huge.safetensors'), randomBase(sizes, 3));
    truncateSync(folder('huge.safetensors'), 1.9e9);
    await refused({ fileName: 'huge.safetensors', kind: 'model' }, /huge\.safetensors is 1,900 MB, more than the 1,073\.7 MB a safetensors file may be/);
    // Reading any of them would have raised the high-water mark by hundreds of MB.
    expect(peakMb() - peak).toBeLessThan(150);
  });

  it('NaN and Inf in a base model are refused with the tensor and the count', async () => {
    const t = randomBase(sizes, 4);
    t['linear1.weight']!.data.fill(NaN, 0, 5_000);
    t['linear2.bias']!.data[3] = -Infinity;
    writeModel(folder('nan.safetensors'), t);
    await refused({ fileName: 'nan.safetensors', kind: 'model' }, /tensor linear1\.weight holds 5,000 NaN or infinite values \(and 1 more tensor does too\)/);
    const inf = randomBase(sizes, 4);
    inf['linear2.weight']!.data.fill(Infinity);
    writeModel(folder('inf.safetensors'), inf);
    await refused({ fileName: 'inf.safetensors', kind: 'model' }, /tensor linear2\.weight holds 160 NaN or infinite values/);
  });

  it('an adapter with NaN values, an absurd alpha or an absurd rank is refused', async () => {
    const nan = randomAdapter(sizes, { r: 2 }, 5);
    nan.tensors['linear2.lora_B']!.data[0] = NaN;
    writePeft(folder('nan-adapter'), nan);
    await refused({ fileName: 'nan-adapter', kind: 'adapter', baseModelId: base }, /tensor base_model\.model\.linear2\.lora_B\.weight holds 1 NaN or infinite value\b/);
    // lora_alpha 1e308 is finite, and once made a merge store 25,408 infinite weights.
    writePeft(folder('alpha'), randomAdapter(sizes, { r: 2 }, 6), { lora_alpha: 1e308 });
    await refused({ fileName: 'alpha', kind: 'adapter', baseModelId: base }, /lora_alpha 1e\+308 with r 2 gives a scaling of 5\.00e\+307, more than 10,000/);
    // r 17 on linear1 (784 → 16): more than min(in, out).
    writePeft(folder('rank'), randomAdapter(sizes, { r: 17, targets: ['linear1'] }, 7));
    await refused({ fileName: 'rank', kind: 'adapter', baseModelId: base }, /rank r 17 is larger than layer linear1 allows \(min\(in, out\) = 16\)/);
  });

  it('a file that is not JSON is refused by position, and its content is never echoed', async () => {
    const dir = writePeft(folder('secret-config'), randomAdapter(sizes, { r: 2 }, 8));
    writeFileSync(join(dir, PEFT_CONFIG_FILE), SECRET);
    const m1 = await refused({ fileName: 'secret-config', kind: 'adapter', baseModelId: base }, /adapter_config\.json is not valid JSON \(at byte 0\)/);
    const header = Buffer.from(`{"a": ${SECRET}}`);
    const file = Buffer.concat([Buffer.alloc(8), header]);
    file.writeUInt32LE(header.length, 0);
    writeFileSync(folder('secret.safetensors'), file);
    const m2 = await refused({ fileName: 'secret.safetensors', kind: 'model' }, /header is not valid JSON \(at byte 14\)/);
    for (const m of [m1, m2]) expect(m).not.toMatch(/root|daemon|bash/);
  });

  it('merge weights of 1e308 and merges that overflow float32 are refused; nothing is stored', async () => {
    writePeft(folder('ok-adapter'), randomAdapter(sizes, { r: 2 }, 9));
    const ok = (await lab.importWeights({ fileName: 'ok-adapter', kind: 'adapter', baseModelId: base })).id;
    const before = counts();
    for (const output of ['model', 'adapter'] as const) {
      await expect(lab.saveMerge({ baseModelId: base, adapters: [{ adapterId: ok, weight: 1e308 }], method: 'linear', name: 'x', output })).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/weight must be a number from -100 to 100, got 1e\+308/),
      });
    }
    // Finite inputs, each acceptable alone, whose product leaves float32.
    const loud = randomAdapter(sizes, { r: 2 }, 10);
    for (const t of Object.values(loud.tensors)) t.data.fill(3e38);
    writePeft(folder('loud'), loud);
    const big = (await lab.importWeights({ fileName: 'loud', kind: 'adapter', baseModelId: base })).id;
    const stored = counts();
    for (const method of ['linear', 'cat', 'svd', 'ties', 'dare'] as const) {
      const req = { baseModelId: base, adapters: [{ adapterId: big, weight: 100 }], method, density: 0.5, dropRate: 0.1, name: method };
      await expect(lab.saveMerge({ ...req, output: 'model' }), method).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/the merge overflows float32: .* values of linear\d\.weight .*would be infinite or NaN; an adapter weight × scaling is too large .*weight 100 × scaling 2/),
      });
      if (method === 'cat' || method === 'linear') {
        await expect(lab.saveMerge({ ...req, output: 'adapter' }), method).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/the merge overflows float32/) });
      }
    }
    // A preview is checked before any evaluation starts.
    await expect(lab.previewMerge({ baseModelId: base, adapters: [{ adapterId: big, weight: 100 }], method: 'linear' })).rejects.toMatchObject({ status: 400 });
    expect(counts()).toEqual(stored);
    expect(stored.models).toBe(before.models);
  });

  it('a non-finite model stored by an older version is refused for export and evaluation', async () => {
    const t = randomBase(sizes, 11);
    t['linear1.weight']!.data.fill(Infinity, 0, 100);
    const m = lab.store.models.create({ name: 'old merge', kind: 'merged', sizes });
    lab.store.tensors.put({ modelId: m.id }, t);
    const a = lab.store.adapters.create({ name: 'old alpha', baseModelId: base, info: { ...randomAdapter(sizes, { r: 2 }, 12).info, alpha: 1e308, scaling: 5e307 } });
    lab.store.tensors.put({ adapterId: a.id }, randomAdapter(sizes, { r: 2 }, 12).tensors);
    const unusable = new RegExp(`model ${m.id} is unusable: tensor linear1\\.weight holds 100 NaN or infinite values`);
    await expect(lab.exportWeights({ target: { kind: 'model', id: m.id }, format: 'safetensors', fileName: 'old.safetensors' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(unusable) });
    await expect(lab.exportWeights({ target: { kind: 'model', id: m.id }, format: 'tfjs', fileName: 'old-tfjs' })).rejects.toMatchObject({ status: 400 });
    await expect(lab.evaluateModel(m.id, 100)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(unusable) });
    await expect(lab.exportWeights({ target: { kind: 'adapter', id: a.id }, format: 'peft', fileName: 'old-peft' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/scaling 5e\+307 is larger than 10000/) });
    await expect(lab.exportWeights({ target: { kind: 'adapter', id: a.id }, merged: true, format: 'safetensors', fileName: 'old-merged.safetensors' })).rejects.toMatchObject({ status: 400 });
    await expect(lab.saveMerge({ baseModelId: base, adapters: [{ adapterId: a.id, weight: 1 }], method: 'linear', name: 'y', output: 'model' })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/scaling 5\.00e\+307 is larger than 10,000/),
    });
  });

  it('the event loop stays free while a large file is imported and a large merge is computed', async () => {
    // [784, 16000, 10]: 50 MB of float32 weights.
    const wide = [784, 16_000, 10];
    const t: NamedTensors = {
      'linear1.weight': { shape: [16_000, 784], data: new Float32Array(16_000 * 784).fill(0.01) },
      'linear1.bias': { shape: [16_000], data: new Float32Array(16_000) },
      'linear2.weight': { shape: [10, 16_000], data: new Float32Array(160_000).fill(0.01) },
      'linear2.bias': { shape: [10], data: new Float32Array(10) },
    };
    writeModel(folder('wide.safetensors'), t);
    /** How many times a 1 ms timer fired while `work` was pending: 0 if it held the loop the whole time. */
    const ticksDuring = async (work: () => Promise<unknown>) => {
      let ticks = 0;
      let pending = true;
      const timer = setInterval(() => pending && ticks++, 1);
      try {
        await work();
      } finally {
        pending = false;
        clearInterval(timer);
      }
      return ticks;
    };
    let wideId = 0;
    expect(await ticksDuring(async () => (wideId = (await lab.importWeights({ fileName: 'wide.safetensors', kind: 'model', name: 'wide' })).id))).toBeGreaterThan(2);
    expect(lab.store.models.get(wideId).sizes).toEqual(wide);
    writePeft(folder('wide-adapter'), randomAdapter(wide, { r: 8, targets: ['linear1'] }, 13));
    const adapterId = (await lab.importWeights({ fileName: 'wide-adapter', kind: 'adapter', baseModelId: wideId })).id;
    let merged = 0;
    expect(await ticksDuring(async () => (merged = (await lab.saveMerge({ baseModelId: wideId, adapters: [{ adapterId, weight: 0.5 }], method: 'linear', name: 'wide linear', output: 'model' })).id))).toBeGreaterThan(2);
    expect(lab.store.tensors.get({ modelId: merged })['linear1.weight']!.shape).toEqual([16_000, 784]);
  });
});

describe('hostile weight files through the CLI', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'lab.db');
  const run = (...args: string[]) => cli([...args, '--db', db]);
  const counts = () => {
    const d = new Database(db, { readonly: true });
    try {
      return d.prepare('SELECT (SELECT count(*) FROM models) AS models, (SELECT count(*) FROM adapters) AS adapters').get();
    } finally {
      d.close();
    }
  };
  afterAll(() => tmp.cleanup());

  /** Exit code 2 with one clean line matching `message` on stderr (no stack trace), and nothing stored. */
  async function refused(args: string[], message: RegExp): Promise<void> {
    const before = counts();
    const r = await run(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at |ERR_|root:x/);
    expect(counts()).toEqual(before);
  }

  it('refuses each hostile file with exit code 2 and one sentence, storing nothing', async () => {
    // The base and a sound adapter are stored in-process (fewer CLI starts); the CLI refuses the rest.
    const setup = Lab.open(db);
    writeModel(join(tmp.dir, 'base.safetensors'), randomBase(sizes, 1));
    const base = String(await setup.weights.importModel(join(tmp.dir, 'base.safetensors'), 'base'));
    const adapter = await setup.weights.importAdapter(writePeft(join(tmp.dir, 'ok'), randomAdapter(sizes, { r: 2 }, 9)), Number(base), 'ok');
    await setup.close();

    const big = writePeft(join(tmp.dir, 'big'), randomAdapter(sizes, { r: 2 }, 2));
    truncateSync(join(big, PEFT_WEIGHTS_FILE), 2 * GIB);
    await refused(['import', big, '--base', base], /^lora-lab: .*adapter_model\.safetensors is 2,147\.5 MB, more than the 1,073\.7 MB/);
    const cfg = writePeft(join(tmp.dir, 'cfg'), randomAdapter(sizes, { r: 2 }, 2));
    truncateSync(join(cfg, PEFT_CONFIG_FILE), 600e6);
    await refused(['import', cfg, '--base', base], /adapter_config\.json is 600 MB, more than the 1 MB an adapter config may be/);
    const secret = writePeft(join(tmp.dir, 'secret'), randomAdapter(sizes, { r: 2 }, 2));
    writeFileSync(join(secret, PEFT_CONFIG_FILE), SECRET);
    await refused(['import', secret, '--base', base], /adapter_config\.json is not valid JSON \(at byte 0\)/);
    const nan = randomBase(sizes, 4);
    nan['linear1.weight']!.data.fill(NaN);
    writeModel(join(tmp.dir, 'nan.safetensors'), nan);
    await refused(['import', join(tmp.dir, 'nan.safetensors')], /tensor linear1\.weight holds 12,544 NaN or infinite values/);
    await refused(['import', writePeft(join(tmp.dir, 'alpha'), randomAdapter(sizes, { r: 2 }, 6), { lora_alpha: 1e308 }), '--base', base], /lora_alpha 1e\+308 with r 2/);
    await refused(['import', join(tmp.dir, 'missing'), '--base', base], /missing does not exist/);
    await refused(['merge', '--adapter', `a${adapter}:1e308`, '--no-preview', '--save', 'boom'], /a weight is a number from -100 to 100/);
  });
});
