/**
 * The sweep, side by side in one run: 27 classic LoRA fine-tunes on one base
 * (lora.r = 1, 2, 4 × lr = 1e-3, 3e-3, 1e-2 × 3 seeds; 100 batches of 10 on digit 7; the
 * whole test set after each run) through `lora-lab sweep create` (a real CLI process,
 * from source via tsx: dist/ is not rebuilt here) and as a PyTorch script in one process
 * (test/bench/torch_sweep.py, on the same base exported as safetensors). Prints wall
 * times, the ratio, time per run at 1 and 27 runs (270 with --with-270), concurrency 1
 * and 2, and where each LoRA Lab run's time goes (from the stored timestamps).
 *
 *   npx tsx test/bench/sweep-bench.ts [--base-limit N] [--no-torch] [--with-270] [--torch-efficient] [--in-process]
 *
 * The base is the classic one (784→1000→2000→10, one epoch of batch 10) trained by LoRA
 * Lab once at the start (not timed); --base-limit N trains it on N images (quicker).
 * --in-process drives the sweep through Lab.createSweep / Lab.waitForSweep instead of the CLI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classicPreset } from '../../src-main/contract/config.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { mnistDir } from '../../src-main/data/mnist.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { openStore } from '../../src-main/store/store.ts';
import { TrainerHost } from '../../src-main/trainer/host.ts';
import { labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { findTorchPython } from './torch-python.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const baseLimit = value('base-limit') ? Number(value('base-limit')) : null;
const here = fileURLToPath(new URL('.', import.meta.url));
const tmp = tempDir('lora-lab-sweep-bench-');
const db = join(tmp.dir, 'bench.db');
const env = { LORA_LAB_BACKEND: process.env['LORA_LAB_BACKEND'] ?? 'wasm' };
const mean = (a: number[]) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN);
const s = (ms: number) => (ms / 1000).toFixed(2);

/** safetensors (F32, PyTorch orientation as stored) for the PyTorch side. */
function writeSafetensors(file: string, t: NamedTensors): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const parts: Buffer[] = [];
  for (const [name, v] of Object.entries(t)) {
    const bytes = Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    header[name] = { dtype: 'F32', shape: v.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...parts]));
}

async function trainBase(): Promise<number> {
  const lab = Lab.open(db, { host: { env: { ...process.env, ...env } } });
  try {
    const config = { ...classicPreset('base'), evalEvery: 0, trainLimit: baseLimit };
    const run = await lab.createRun({ name: 'bench base', config });
    const done = await lab.waitForRun(run.id);
    if (done.status !== 'completed' || done.modelId === null) throw new Error(`the base run ${done.status}: ${done.error}`);
    return done.modelId;
  } finally {
    await lab.close();
  }
}

interface LabSweep {
  wallMs: number;
  sweepId: number;
  how: string;
}

/** One sweep through the CLI (or in-process), timed from the process's start to its exit. */
async function labSweep(modelId: number, ranks: string, lrs: string, seeds: number, concurrency: number): Promise<LabSweep> {
  const argv = ['sweep', 'create', '--finetune-from', String(modelId), '--grid', `lora.r=${ranks}`, '--grid', `lr=${lrs}`,
    '--seeds', String(seeds), '--max-steps', '100', '--eval-every', '0', '--concurrency', String(concurrency), '--db', db, '--json'];
  const t0 = performance.now();
  if (flag('in-process')) {
    const lab = Lab.open(db, { host: { env: { ...process.env, ...env } } });
    try {
      const spec = {
        start: { kind: 'finetune' as const, baseModelId: modelId },
        axes: [{ path: 'lora.r', values: ranks.split(',').map(Number) }, { path: 'lr', values: lrs.split(',').map(Number) }],
        seeds, concurrency, overrides: { maxSteps: 100, evalEvery: 0 },
      };
      const view = await lab.createSweep(spec as never);
      const done = await lab.waitForSweep(view.id);
      return { wallMs: performance.now() - t0, sweepId: done.id, how: 'in-process (Lab.createSweep + Lab.waitForSweep)' };
    } finally {
      await lab.close();
    }
  }
  const child = labProcess(argv, env);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`lora-lab ${argv.join(' ')} exited ${code}: ${err.slice(-2000)}`);
  const store = openStore(db);
  const sweepId = store.db.prepare<[], { id: number }>('SELECT max(id) AS id FROM sweeps').get()!.id;
  store.close();
  return { wallMs, sweepId, how: `CLI: lora-lab sweep create (tsx, from source; ${out.length} bytes of --json)` };
}

interface Profile {
  n: number;
  /** ms from one run's end (or the sweep's first run's creation) to the next run's start. */
  startMs: number;
  /** start → first training step: data set, model, base weights, before evaluation. */
  prepareMs: number;
  trainMs: number;
  afterEvalMs: number;
  /** after evaluation → run stored as completed (weights message, adapter + evaluations written). */
  storeMs: number;
  totalMs: number;
}

/** Where each run of a sweep spent its time, from its stored timestamps and metric times. */
function profile(sweepId: number): Profile {
  const store = openStore(db);
  try {
    const rows = store.db
      .prepare<[number], { id: number; created_at: number; started_at: number; finished_at: number; status: string }>(
        'SELECT id, created_at, started_at, finished_at, status FROM runs WHERE sweep_id = ? ORDER BY started_at',
      )
      .all(sweepId);
    const times = store.db.prepare<[number], { key: string; first: number; last: number }>(
      `SELECT key, min(time) AS first, max(time) AS last FROM metrics WHERE run_id = ? AND key IN ('train/loss', 'test/accuracy') GROUP BY key`,
    );
    const p = { start: [] as number[], prepare: [] as number[], train: [] as number[], after: [] as number[], store: [] as number[], total: [] as number[] };
    let prevEnd = rows[0]?.created_at ?? 0;
    for (const r of rows) {
      if (r.status !== 'completed') throw new Error(`run ${r.id} of the sweep is ${r.status}`);
      const t = Object.fromEntries(times.all(r.id).map((x) => [x.key, x])) as Record<string, { first: number; last: number }>;
      const loss = t['train/loss'];
      const acc = t['test/accuracy'];
      if (!loss || !acc) throw new Error(`run ${r.id} has no metrics (metrics table layout changed?)`);
      p.start.push(Math.max(0, r.started_at - prevEnd));
      p.prepare.push(loss.first - r.started_at);
      p.train.push(loss.last - loss.first);
      p.after.push(acc.first - loss.last);
      p.store.push(r.finished_at - acc.first);
      p.total.push(r.finished_at - r.started_at);
      prevEnd = r.finished_at;
    }
    return { n: rows.length, startMs: mean(p.start), prepareMs: mean(p.prepare), trainMs: mean(p.train), afterEvalMs: mean(p.after), storeMs: mean(p.store), totalMs: mean(p.total) };
  } finally {
    store.close();
  }
}

/** A cold trainer's start: spawn → backend ready (what each run paid before warm trainers). */
async function coldStartMs(): Promise<number> {
  const t0 = performance.now();
  const h = new TrainerHost({ env: { ...process.env, ...env } });
  await h.whenReady();
  const ms = performance.now() - t0;
  await h.close();
  return ms;
}

function torchSweep(py: string, base: string, mode: string, seeds: number, ranks: string): { wallSeconds: number; baseEvalSeconds: number; runs: { trainSeconds: number; evalSeconds: number; wrong7: number }[] } {
  const r = spawnSync(py, [join(here, 'torch_sweep.py'), mnistDir(), base, '--mode', mode, '--seeds', String(seeds), '--ranks', ranks], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`torch_sweep.py --mode ${mode} failed (status ${r.status}, signal ${r.signal}, ${r.error?.message ?? ''}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; backend ${env.LORA_LAB_BACKEND}`);
  const tb = performance.now();
  const modelId = await trainBase();
  console.log(`base trained in ${s(performance.now() - tb)} s (${baseLimit ?? 60000} images, not part of any figure below)`);
  const store = openStore(db);
  const safetensors = join(tmp.dir, 'base.safetensors');
  writeSafetensors(safetensors, store.tensors.get({ modelId }));
  store.close();

  const cold = await coldStartMs();
  const py = flag('no-torch') ? null : findTorchPython();
  const rows: [string, string, string, string][] = [];
  let torch27: number | null = null;
  if (py) {
    const t = torchSweep(py, safetensors, 'classic', 3, '1,2,4');
    torch27 = t.wallSeconds * 1000;
    rows.push(['PyTorch script, classic parametrisation (the anchor)', '27', s(torch27), s(torch27 / 27)]);
    console.log(`PyTorch per run: train ${mean(t.runs.map((x) => x.trainSeconds)).toFixed(2)} s, eval ${mean(t.runs.map((x) => x.evalSeconds)).toFixed(2)} s; base eval ${t.baseEvalSeconds.toFixed(2)} s`);
    if (flag('torch-efficient')) {
      const e = torchSweep(py, safetensors, 'efficient', 3, '1,2,4');
      rows.push(['PyTorch script, efficient parametrisation', '27', s(e.wallSeconds * 1000), s((e.wallSeconds * 1000) / 27)]);
    }
  } else console.log('no python3 with torch: PyTorch side skipped');

  // The first sweep on this base computes its evaluation; every later one copies it.
  const one = await labSweep(modelId, '1', '0.001', 1, 1);
  const oneAgain = await labSweep(modelId, '1', '0.003', 1, 1);
  const c1 = await labSweep(modelId, '1,2,4', '0.001,0.003,0.01', 3, 1);
  const c2 = await labSweep(modelId, '1,2,4', '0.001,0.003,0.01', 3, 2);
  rows.push(['LoRA Lab, 1 run (the first on this base: evaluates the base)', '1', s(one.wallMs), s(one.wallMs)]);
  rows.push(['LoRA Lab, 1 run (base evaluation copied)', '1', s(oneAgain.wallMs), s(oneAgain.wallMs)]);
  rows.push(['LoRA Lab, 27 runs, concurrency 1', '27', s(c1.wallMs), s(c1.wallMs / 27)]);
  rows.push(['LoRA Lab, 27 runs, concurrency 2', '27', s(c2.wallMs), s(c2.wallMs / 27)]);
  let c270: LabSweep | null = null;
  if (flag('with-270')) {
    c270 = await labSweep(modelId, '1,2,4', '0.001,0.003,0.01', 30, 1);
    rows.push(['LoRA Lab, 270 runs, concurrency 1', '270', s(c270.wallMs), s(c270.wallMs / 270)]);
  }

  console.log(`\nmeasured: ${c1.how}; a cold trainer start (spawn → backend ready) takes ${s(cold)} s`);
  console.log('\n| sweep | runs | wall s | s per run |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (torch27 !== null) {
    console.log(`\nratio LoRA Lab / PyTorch, 27 runs: concurrency 1 ${(c1.wallMs / torch27).toFixed(2)}×, concurrency 2 ${(c2.wallMs / torch27).toFixed(2)}× (goal ≤ 0.75×)`);
  }
  console.log('\nper run (ms, mean over the sweep\'s runs; from stored timestamps):');
  console.log('| sweep | n | gap before start | prepare (data, model, base weights, before eval) | training | after eval | weights + store | run total |\n|---|---|---|---|---|---|---|---|');
  for (const [name, sw] of [['27, concurrency 1', c1], ['27, concurrency 2', c2], ...(c270 ? [['270, concurrency 1', c270] as const] : [])] as const) {
    const p = profile(sw.sweepId);
    console.log(`| ${name} | ${p.n} | ${p.startMs.toFixed(0)} | ${p.prepareMs.toFixed(0)} | ${p.trainMs.toFixed(0)} | ${p.afterEvalMs.toFixed(0)} | ${p.storeMs.toFixed(0)} | ${p.totalMs.toFixed(0)} |`);
  }
  console.log(`machine load at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  tmp.cleanup();
  process.exit(1);
});
