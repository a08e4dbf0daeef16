/**
 * `lora-lab export` against what is already at --out, through the real CLI: --force
 * replaces an earlier export of the same kind and nothing else (a folder of someone's
 * files, a folder with an extra file, a link), and an export killed mid-write leaves a
 * PID-named partial that the next export or the next start removes — never while its
 * writer is alive.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
const exportsDir = join(tmp.dir, 'exports'); // the one beside the database
const ids = { small: 0, big: 0 };

function putModel(l: Lab, sizes: number[]): number {
  const m = l.store.models.create({ name: `mlp ${sizes.join('-')}`, kind: 'imported', sizes });
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (let i = 1; i < sizes.length; i++) {
    const [inF, outF] = [sizes[i - 1]!, sizes[i]!];
    tensors[`linear${i}.weight`] = { shape: [outF, inF], data: Float32Array.from({ length: outF * inF }, (_, k) => ((k % 97) - 48) / 480) };
    tensors[`linear${i}.bias`] = { shape: [outF], data: new Float32Array(outF).fill(0.01 * i) };
  }
  l.store.tensors.put({ modelId: m.id }, tensors);
  return m.id;
}

beforeAll(async () => {
  const l = Lab.open(db);
  ids.small = putModel(l, [784, 16, 10]);
  ids.big = putModel(l, [784, 3000, 3000, 10]); // 45 MB of weights: long enough to be caught mid-write
  await l.close();
}, 120_000);
afterAll(() => tmp.cleanup());

const cli = (args: string[]) => lab([...args, '--db', db]);

/** Every path under `dir` with its kind and content hash (or link target). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (e.isSymbolicLink()) out[rel] = `link → ${readlinkSync(p)}`;
      else if (e.isDirectory()) {
        out[rel] = 'folder';
        walk(p);
      } else out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('export --force replaces only an earlier export', () => {
  it('a folder of files and subfolders at --out is refused, every file still there', async () => {
    const precious = join(tmp.dir, 'precious');
    mkdirSync(join(precious, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(precious, 'thesis.txt'), 'three years of work');
    writeFileSync(join(precious, 'sub', 'data.csv'), 'a,b\r\n1,2\r\n');
    writeFileSync(join(precious, 'sub', 'deeper', 'model.json'), '{}');
    const before = snapshot(tmp.dir);
    for (const format of ['safetensors', 'tfjs']) {
      const r = await cli(['export', `m${ids.small}`, '--format', format, '--out', precious, '--force']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/precious (is a folder, and this export is one file|holds "sub", which LoRA Lab does not write there).*will not replace it even when overwriting is allowed: choose another name/);
    }
    expect(snapshot(tmp.dir)).toEqual(before);
  });

  it('an empty --out is refused instead of meaning the current folder', async () => {
    const r = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', '']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out PATH is required/);
  });

  it('a file export onto an earlier export: refused without --force, replaced with it', async () => {
    const out = join(tmp.dir, 'again.safetensors');
    expect((await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', out])).code).toBe(0);
    const first = readFileSync(out);
    const refused = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists; add --force to replace it, or choose another --out/);
    const r = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', out, '--force', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files[0].sha256).toBe(createHash('sha256').update(first).digest('hex'));
    expect(readdirSync(tmp.dir).filter((f) => f.includes('again'))).toEqual(['again.safetensors']);
  });

  it('a folder export onto an earlier one is replaced; onto one with an extra file it is refused', async () => {
    const out = join(tmp.dir, 'tfjs-again');
    expect((await cli(['export', `m${ids.small}`, '--format', 'tfjs', '--out', out])).code).toBe(0);
    const first = snapshot(out);
    const r = await cli(['export', `m${ids.small}`, '--format', 'tfjs', '--out', out, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(snapshot(out)).toEqual(first);
    expect(Object.keys(first).sort()).toEqual(['model.json', 'weights.bin']);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('tfjs-again'))).toEqual(['tfjs-again']);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const before = snapshot(out);
    const refused = await cli(['export', `m${ids.small}`, '--format', 'tfjs', '--out', out, '--force']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/tfjs-again holds "notes\.txt", which LoRA Lab does not write there \(an export of this format holds only model\.json and weights\.bin\)/);
    expect(snapshot(out)).toEqual(before);
  });

  it('a link at --out is refused, and what it points to is unchanged', async () => {
    const real = join(tmp.dir, 'real.safetensors');
    expect((await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', real])).code).toBe(0);
    writeFileSync(real, Buffer.concat([readFileSync(real), Buffer.from('changed')])); // still looks like safetensors
    const link = join(tmp.dir, 'link.safetensors');
    symlinkSync(real, link);
    const folderLink = join(tmp.dir, 'link-tfjs');
    symlinkSync(join(tmp.dir, 'tfjs-again'), folderLink);
    const before = snapshot(tmp.dir);
    const r = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', link, '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/link\.safetensors is a symbolic link, and LoRA Lab neither replaces links nor writes through them/);
    expect((await cli(['export', `m${ids.small}`, '--format', 'tfjs', '--out', folderLink, '--force'])).code).toBe(2);
    expect(snapshot(tmp.dir)).toEqual(before);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });
});

/** Start an export and stop it (SIGSTOP) once it has written its first chunk; returns the child and its partial. */
async function stopMidWrite(args: string[], folder: string, name: string): Promise<{ child: ChildProcess; partial: string }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const child = labProcess([...args, '--db', db]);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d;
        if (/export: \d+%/.test(err)) {
          child.kill('SIGSTOP');
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`the export exited (${code}) before writing: ${err}`)));
    });
    const partial = readdirSync(folder).find((f) => f.startsWith(`.${name}.`) && f.endsWith('.partial'));
    if (partial && !existsSync(join(folder, name))) return { child, partial };
    // It finished between its progress line and the stop: try again from scratch.
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  throw new Error('could not catch the export mid-write');
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('an export killed mid-write', () => {
  it('leaves a partial that a live writer keeps and the next export to that folder removes', async () => {
    const folder = join(tmp.dir, 'elsewhere');
    mkdirSync(folder);
    const out = join(folder, 'big.safetensors');
    const { child, partial } = await stopMidWrite(['export', `m${ids.big}`, '--format', 'safetensors', '--out', out], folder, 'big.safetensors');
    try {
      expect(partial).toContain(`.${child.pid}-`);
      // Its writer is alive (stopped): another export of the same name leaves its partial alone.
      const meanwhile = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', out]);
      expect(meanwhile.code, meanwhile.stderr).toBe(0);
      expect(readdirSync(folder)).toContain(partial);
    } finally {
      await kill9(child);
    }
    expect(readdirSync(folder)).toContain(partial); // nothing cleans up behind a kill -9 by itself
    const next = await cli(['export', `m${ids.small}`, '--format', 'safetensors', '--out', out, '--force']);
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(folder)).toEqual(['big.safetensors']);
  }, 180_000);

  it('a folder export killed in the export folder is cleaned up by the next start', async () => {
    mkdirSync(exportsDir, { recursive: true });
    const { child, partial } = await stopMidWrite(['export', `m${ids.big}`, '--format', 'tfjs', '--out', join(exportsDir, 'big-tfjs')], exportsDir, 'big-tfjs');
    await kill9(child);
    expect(lstatSync(join(exportsDir, partial)).isDirectory()).toBe(true);
    expect(readdirSync(join(exportsDir, partial))).toContain('model.json');
    const r = await cli(['models']); // any command that opens the lab
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(exportsDir)).toEqual([]);
  }, 180_000);
});
