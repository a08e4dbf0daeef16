/**
 * The CLI goes through LabApi like Electron IPC and HTTP do: the Lab's checks and its
 * LabErrors (message and exit code) reach the terminal. The one difference is where
 * files may be: the CLI (the local user) hands the Lab absolute paths, which the Lab
 * takes as they are, while the transports' schemas accept names in the export folder only.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_NAME_RULE, type LabError } from '../../src-main/contract/api.ts';
import { validateArgs } from '../../src-main/contract/schemas.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { lab as cliProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { randomBase } from '../weights/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sizes = [784, 16, 10];

describe('the CLI source', () => {
  it('reaches the Lab only through LabApi: never its store, weights service or run manager', () => {
    const dir = join(root, 'src-main/cli');
    const files = [...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)), join(root, 'src-main/cli.ts')];
    expect(files.length).toBeGreaterThan(10);
    const reachThrough = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\.(store|weights|manager)\b(?!\/)/.test(line) ? [`${f.slice(root.length)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(reachThrough).toEqual([]);
  });
});

describe('the transports and the Lab on file names and paths', () => {
  const tmp = tempDir();
  let lab: Lab;
  let model = 0;
  const outside = (name: string) => join(tmp.dir, 'elsewhere', name);

  beforeAll(async () => {
    lab = Lab.open(join(tmp.dir, 'lab.db'));
    mkdirSync(join(tmp.dir, 'elsewhere'));
    writeFileSync(outside('base.safetensors'), writeSafetensors(randomBase(sizes, 1), { format: 'pt' }));
    model = (await lab.importWeights({ fileName: outside('base.safetensors'), kind: 'model' })).id;
  });
  afterAll(async () => {
    await lab.close();
    tmp.cleanup();
  });

  it('the IPC and HTTP schemas refuse paths: absolute, .., separators, a leading dot', () => {
    const target = { kind: 'model', id: 1 };
    for (const fileName of [outside('x.safetensors'), '../x.safetensors', 'sub/x.safetensors', 'sub\\x.safetensors', '.hidden', '..', 'x'.repeat(129)]) {
      for (const [call, args] of [
        ['exportWeights', [{ target, format: 'safetensors', fileName }]],
        ['importWeights', [{ fileName, kind: 'model' }]],
        ['inspectAdapter', [fileName]],
      ] as const) {
        let err: LabError | null = null;
        try {
          validateArgs(call, args);
        } catch (e) {
          err = e as LabError;
        }
        expect(err, `${call} ${fileName}`).toMatchObject({ status: 400, message: expect.stringContaining(FILE_NAME_RULE) });
      }
    }
    expect(validateArgs('exportWeights', [{ target, format: 'safetensors', fileName: 'base (1).safetensors' }])).toHaveLength(1);
  });

  it('takes an absolute path as is, a relative one with folders not at all', async () => {
    const out = await lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName: outside('copy.safetensors') });
    expect(out.path).toBe(outside('copy.safetensors'));
    expect(out.files.map((f) => f.path)).toEqual([outside('copy.safetensors')]);
    // A path is written to its folder, not the export folder (which nothing created).
    expect(existsSync(lab.exportDir)).toBe(false);
    for (const fileName of ['elsewhere/copy2.safetensors', '../copy2.safetensors']) {
      await expect(lab.exportWeights({ target: { kind: 'model', id: model }, format: 'safetensors', fileName })).rejects.toMatchObject({ status: 400, message: FILE_NAME_RULE });
      await expect(lab.importWeights({ fileName, kind: 'model' })).rejects.toMatchObject({ status: 400, message: FILE_NAME_RULE });
    }
    // The imported model is named after the file, not the path.
    expect((await lab.listModels()).find((m) => m.id === model)?.name).toBe('base.safetensors');
  });

  it('keeps every export safety rule for a path: no silent overwrite, only an earlier LoRA Lab export replaced', async () => {
    const req = { target: { kind: 'model' as const, id: model }, format: 'safetensors' as const, fileName: outside('again.safetensors') };
    await lab.exportWeights(req);
    await expect(lab.exportWeights(req)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/again\.safetensors already exists/) });
    await lab.exportWeights({ ...req, overwrite: true });
    writeFileSync(outside('thesis.safetensors'), 'chapter one, in which nothing is a tensor');
    await expect(lab.exportWeights({ ...req, fileName: outside('thesis.safetensors'), overwrite: true })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/thesis\.safetensors does not look like a safetensors file LoRA Lab wrote.*even when overwriting is allowed/),
    });
    expect(readFileSync(outside('thesis.safetensors'), 'utf8')).toMatch(/^chapter one/);
    await expect(lab.exportWeights({ ...req, fileName: join(tmp.dir, 'no-such-folder', 'x.safetensors') })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/the folder for .*x\.safetensors does not exist/) });
    expect(readdirSync(join(tmp.dir, 'elsewhere')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('reads a link the local user names by path, and refuses the same link in the export folder', async () => {
    symlinkSync(outside('base.safetensors'), outside('link.safetensors'));
    const viaPath = await lab.importWeights({ fileName: outside('link.safetensors'), kind: 'model', name: 'by path' });
    expect(viaPath.name).toBe('by path');
    mkdirSync(lab.exportDir, { recursive: true });
    symlinkSync(outside('base.safetensors'), join(lab.exportDir, 'link.safetensors'));
    await expect(lab.importWeights({ fileName: 'link.safetensors', kind: 'model' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/symbolic link/) });
  });
});

describe('lora-lab commands answer with the Lab\'s own errors', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'lab.db');
  const cli = (...args: string[]) => cliProcess([...args, '--db', db]);
  const file = (name: string) => join(tmp.dir, name);
  const modelCount = async () => {
    const l = Lab.open(db);
    try {
      return (await l.listModels()).length;
    } finally {
      await l.close();
    }
  };

  beforeAll(async () => {
    writeFileSync(file('base.safetensors'), writeSafetensors(randomBase(sizes, 2), { format: 'pt' }));
    const l = Lab.open(db);
    await l.importWeights({ fileName: file('base.safetensors'), kind: 'model', name: 'base' });
    await l.close();
  });
  afterAll(() => tmp.cleanup());

  it('export of a missing model or run: the Lab\'s message, exit code 2, nothing written', async () => {
    for (const [ref, message] of [
      ['m99', 'model 99 does not exist'],
      ['a99', 'adapter 99 does not exist'],
      ['99', 'run 99 does not exist'],
    ]) {
      const r = await cli('export', ref as string, '--format', 'safetensors', '--out', file(`missing-${ref}.safetensors`));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`lora-lab: ${message}\n`);
      expect(existsSync(file(`missing-${ref}.safetensors`))).toBe(false);
    }
  }, 120_000);

  it('import checks the name as the Lab does for every transport, storing nothing when refused', async () => {
    const before = await modelCount();
    const esc = await cli('import', file('base.safetensors'), '--name', 'base\u001b[31m red');
    expect(esc.code, esc.stderr).toBe(2);
    expect(esc.stderr).toBe('lora-lab: a name cannot contain control characters (line breaks, tabs, NUL or escape codes)\n');
    const long = await cli('import', file('base.safetensors'), '--name', 'n'.repeat(201));
    expect(long.code, long.stderr).toBe(2);
    expect(long.stderr).toMatch(/^lora-lab: a run name is at most 200 characters$/m);
    expect(await modelCount()).toBe(before);
  }, 120_000);

  it('export to any path with progress, import it back, and --force named on a 409', async () => {
    const out = file('round.safetensors');
    const r = await cli('export', 'm1', '--format', 'safetensors', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/export: \d+%/); // progress from the Lab's task events
    expect(r.stdout).toMatch(new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  [\\d,]+ bytes  sha256 [0-9a-f]{64}$`, 'm'));
    expect(existsSync(join(tmp.dir, 'exports'))).toBe(false);
    const again = await cli('export', 'm1', '--format', 'safetensors', '--out', out, '-q');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/round\.safetensors already exists; add --force to replace it, or choose another --out/);
    const back = await cli('import', out, '--json');
    expect(back.code, back.stderr).toBe(0);
    const { model } = JSON.parse(back.stdout) as { model: number };
    const shown = await cli('models', '--json');
    expect((JSON.parse(shown.stdout) as { id: number; name: string }[]).find((m) => m.id === model)?.name).toBe('round.safetensors');
  }, 120_000);

  it('model and adapter references resolve through the Lab\'s lists', async () => {
    const evaluate = await cli('evaluate', 'm99');
    expect(evaluate.code).toBe(2);
    expect(evaluate.stderr).toBe('lora-lab: model 99 does not exist (lora-lab models lists them)\n');
    const merge = await cli('merge', '--adapter', 'a99', '--no-preview');
    expect(merge.code).toBe(2);
    expect(merge.stderr).toBe('lora-lab: adapter 99 does not exist\n');
    const adapter = await cli('import', file('base.safetensors'), '--as', 'adapter', '--base', 'm99');
    expect(adapter.code).toBe(2);
    expect(adapter.stderr).toMatch(/model 99 does not exist \(lora-lab models lists them\)/);
  }, 120_000);
});
