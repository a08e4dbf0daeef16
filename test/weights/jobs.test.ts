/**
 * The weights jobs (jobs.ts) directly and on their worker thread: bounded reads that
 * never hang or over-read, merges whose result is checked for overflow by every
 * method, and tensors that cross to the worker and back by transfer.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightsFileError, readFileBounded } from '../../src-main/weights/bounded-read.ts';
import { type MergeResult, importAdapterFolder, importModelFile, mergeJob } from '../../src-main/weights/jobs.ts';
import { MERGE_METHODS, MergeError } from '../../src-main/weights/merge.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, peftFiles } from '../../src-main/weights/peft.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { WeightsJobError, runWeightsJob } from '../../src-main/weights/worker-client.ts';
import { tempDir } from '../helpers/tmp.ts';
import { randomAdapter, randomBase } from './helpers.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('bounded reads', () => {
  it('refuse a pipe, a folder, a missing file and an oversized one without reading them', () => {
    const fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO for reading blocks until a writer comes; this must return at once.
    expect(() => readFileBounded(fifo, 100, 'a test file')).toThrow(/fifo is not a regular file/);
    expect(() => readFileBounded(tmp.dir, 100, 'a test file')).toThrow(/is not a regular file/);
    const missing = (() => {
      try {
        readFileBounded(join(tmp.dir, 'nope'), 100, 'x');
        return null;
      } catch (err) {
        return err as WeightsFileError;
      }
    })();
    expect(missing).toBeInstanceOf(WeightsFileError);
    expect(missing).toMatchObject({ notFound: true, message: expect.stringMatching(/nope does not exist$/) });
    writeFileSync(join(tmp.dir, 'ten'), '0123456789');
    expect(() => readFileBounded(join(tmp.dir, 'ten'), 9, 'a test file')).toThrow(/ten is 10 bytes, more than the 9 bytes a test file may be/);
    expect(Buffer.from(readFileBounded(join(tmp.dir, 'ten'), 10, 'a test file')).toString()).toBe('0123456789');
  });

  it('an adapter folder whose config is a pipe is refused, not waited on', () => {
    const dir = join(tmp.dir, 'piped');
    mkdirSync(dir);
    const a = randomAdapter(sizes, { r: 2 }, 1);
    writeFileSync(join(dir, PEFT_WEIGHTS_FILE), peftFiles(a.tensors, a.info, 'b').safetensors);
    execFileSync('mkfifo', [join(dir, PEFT_CONFIG_FILE)]);
    expect(() => importAdapterFolder(dir, sizes)).toThrow(/adapter_config\.json is not a regular file/);
  });

  it('a config with a byte-order mark is read (as Python tools may write it)', () => {
    const dir = join(tmp.dir, 'bom');
    mkdirSync(dir);
    const a = randomAdapter(sizes, { r: 2 }, 1);
    const files = peftFiles(a.tensors, a.info, 'b');
    writeFileSync(join(dir, PEFT_WEIGHTS_FILE), files.safetensors);
    writeFileSync(join(dir, PEFT_CONFIG_FILE), `\ufeff${JSON.stringify(files.config)}`);
    expect(importAdapterFolder(dir, sizes).info.r).toBe(2);
  });

  it('with noFollow (imports through the API), a link at any file read is refused however late it was swapped in', () => {
    const real = join(tmp.dir, 'real-adapter');
    mkdirSync(real);
    const a = randomAdapter(sizes, { r: 2 }, 1);
    const files = peftFiles(a.tensors, a.info, 'b');
    writeFileSync(join(real, PEFT_WEIGHTS_FILE), files.safetensors);
    writeFileSync(join(real, PEFT_CONFIG_FILE), JSON.stringify(files.config));
    const linked = join(tmp.dir, 'linked-adapter');
    mkdirSync(linked);
    writeFileSync(join(linked, PEFT_CONFIG_FILE), JSON.stringify(files.config));
    symlinkSync(join(real, PEFT_WEIGHTS_FILE), join(linked, PEFT_WEIGHTS_FILE));
    // The CLI (the local user's own paths) follows links; the API's imports do not.
    expect(importAdapterFolder(linked, sizes).info.r).toBe(2);
    expect(() => importAdapterFolder(linked, sizes, true)).toThrow(/adapter_model\.safetensors is a symbolic link, which is not followed here/);
    symlinkSync(real, join(tmp.dir, 'folder-link'));
    expect(() => importAdapterFolder(join(tmp.dir, 'folder-link'), sizes, true)).toThrow(/folder-link is a symbolic link/);
    const model = join(tmp.dir, 'model.safetensors');
    writeFileSync(model, writeSafetensors(randomBase(sizes, 1)));
    symlinkSync(model, join(tmp.dir, 'model-link.safetensors'));
    expect(importModelFile(join(tmp.dir, 'model-link.safetensors')).sizes).toEqual(sizes);
    expect(() => importModelFile(join(tmp.dir, 'model-link.safetensors'), true)).toThrow(/model-link\.safetensors is a symbolic link/);
  });
});

describe('merge results are checked for overflow', () => {
  // Finite factors of 3e38 with weight 100 × scaling 2: every method's ΔW leaves float32.
  const loud = randomAdapter(sizes, { r: 2 }, 2);
  for (const t of Object.values(loud.tensors)) t.data.fill(3e38);

  for (const method of MERGE_METHODS) {
    for (const output of ['model', 'adapter'] as const) {
      it(`${method} as ${output}`, () => {
        const job = { kind: 'merge' as const, output, sizes, base: randomBase(sizes, 3), baseLabel: 'model 1', adapters: [{ ...loud, weight: 100, name: 'a1 loud' }], options: { method, density: 0.5, dropRate: 0.1 } };
        expect(() => mergeJob(job)).toThrow(MergeError);
        expect(() => mergeJob(job)).toThrow(/the merge overflows float32: .* would be infinite or NaN; .*\(a1 loud: weight 100 × scaling 2\)/);
      });
    }
  }

  it('a base with NaN is refused before merging', () => {
    const base = randomBase(sizes, 3);
    base['linear2.bias']!.data[0] = NaN;
    expect(() => mergeJob({ kind: 'merge', output: 'model', sizes, base, baseLabel: 'model 7', adapters: [{ ...randomAdapter(sizes, { r: 2 }, 4), weight: 1 }], options: { method: 'linear' } })).toThrow(
      /model 7: tensor linear2\.bias holds 1 NaN or infinite value/,
    );
  });
});

describe('on a worker thread', () => {
  it('transfers the inputs to the worker and hands them back with the result', async () => {
    const base = randomBase(sizes, 5);
    const adapter = randomAdapter(sizes, { r: 2 }, 6);
    const copy = base['linear1.weight']!.data.slice();
    const expected = mergeJob({ kind: 'merge', output: 'model', sizes, base: structuredClone(base), baseLabel: 'm', adapters: [{ ...structuredClone(adapter), weight: 0.5 }], options: { method: 'linear' } });
    const job = { kind: 'merge' as const, output: 'model' as const, sizes, base, baseLabel: 'm', adapters: [{ ...adapter, weight: 0.5 }], options: { method: 'linear' as const } };
    const r = (await runWeightsJob(job)) as MergeResult;
    // Moved, not copied: the caller's arrays are detached.
    expect(base['linear1.weight']!.data.length).toBe(0);
    expect(adapter.tensors['linear1.lora_A']!.data.length).toBe(0);
    expect(r.base['linear1.weight']!.data).toEqual(copy);
    expect(r.adapters[0]!['linear1.lora_A']!.data.length).toBe(2 * 784);
    expect(r.tensors['linear1.weight']!.data).toEqual(expected.tensors['linear1.weight']!.data);
  });

  it('reports a job failure by kind, and runs many jobs (a few at a time) to the end', async () => {
    const bad = join(tmp.dir, 'bad.safetensors');
    writeFileSync(bad, 'not a safetensors file');
    await expect(runWeightsJob({ kind: 'import-model', path: bad })).rejects.toMatchObject({ kind: 'SafetensorsError', notFound: false });
    await expect(runWeightsJob({ kind: 'import-model', path: join(tmp.dir, 'none.safetensors') })).rejects.toBeInstanceOf(WeightsJobError);
    const good = join(tmp.dir, 'good.safetensors');
    writeFileSync(good, writeSafetensors(randomBase(sizes, 7)));
    const all = await Promise.all(Array.from({ length: 6 }, () => runWeightsJob({ kind: 'import-model', path: good })));
    expect(all.map((r) => r.kind === 'import-model' && r.sizes.join())).toEqual(Array(6).fill('784,16,10'));
    const first = all[0]!;
    expect(importModelFile(good).bytes).toBe(first.kind === 'import-model' ? first.bytes : -1);
  });
});
