/**
 * The classic experiment end to end, timed against its PyTorch reference in the same
 * run: `lora-lab demo` (one epoch of base training at batch 10, rank-1 LoRA on digit 7
 * for 100 batches, evaluations) and test/bench/torch_demo.py (the same work in
 * PyTorch, 2 threads). While the demo runs, the trainer processes' memory is sampled
 * from /proc: peak (VmHWM) and growth of the resident set over the base training.
 *
 *   npx tsx test/bench/demo-bench.ts [--seed N] [--no-torch]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTorchPython } from './torch-python.ts';
import { mnistDir } from '../../src-main/data/mnist.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const seedArg = process.argv.indexOf('--seed');
const seed = seedArg >= 0 ? Number(process.argv[seedArg + 1]) : 0;

/** pid → parent pid, for every process (Linux). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      out.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return out;
}

function statusKb(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface TrainerMemory {
  pid: number;
  peakMb: number;
  /** Resident MB sampled once a second over the process's life. */
  rssMb: number[];
}

async function runDemo(): Promise<{ json: Record<string, unknown>; wall: number; trainers: TrainerMemory[] }> {
  const home = mkdtempSync(join(tmpdir(), 'lora-lab-demo-bench-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/lora-lab.js'), 'demo', '--seed', String(seed), '--json'], {
    env: { ...process.env, LORA_LAB_DB: join(home, 'lab.db') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  const trainers = new Map<number, TrainerMemory>();
  const sample = () => {
    const pp = parents();
    for (const [pid] of pp) {
      let p = pp.get(pid);
      while (p && p !== child.pid && p > 1) p = pp.get(p);
      if (p !== child.pid) continue;
      const rss = statusKb(pid, 'VmRSS');
      const hwm = statusKb(pid, 'VmHWM');
      if (rss === null || hwm === null) continue;
      const t = trainers.get(pid) ?? { pid, peakMb: 0, rssMb: [] };
      t.peakMb = Math.max(t.peakMb, hwm / 1024);
      t.rssMb.push(rss / 1024);
      trainers.set(pid, t);
    }
  };
  const timer = setInterval(sample, 1000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const wall = (performance.now() - t0) / 1000;
  rmSync(home, { recursive: true, force: true });
  if (code !== 0) throw new Error(`lora-lab demo exited with ${code}`);
  return { json: JSON.parse(stdout.trim().split('\n').at(-1) as string), wall, trainers: [...trainers.values()] };
}

const demo = await runDemo();
const wrong7 = (e: unknown) => ((e as { wrongPerClass: number[] }).wrongPerClass[7] as number);
const main = demo.trainers.sort((a, b) => b.rssMb.length - a.rssMb.length)[0];
// Growth: the resident set at four fifths of the longest trainer's life against one
// fifth (both mid-training: data and weights loaded, the final evaluation not begun).
const at = (t: TrainerMemory, f: number) => {
  const i = Math.floor(t.rssMb.length * f);
  return [...t.rssMb.slice(Math.max(0, i - 2), i + 3)].sort((a, b) => a - b)[2] as number; // median of 5
};
const growth = main && main.rssMb.length >= 20 ? at(main, 0.8) - at(main, 0.2) : null;
const peak = Math.max(0, ...demo.trainers.map((t) => t.peakMb));

let torch: { wallSeconds: number; base: unknown; finetuned: unknown } | null = null;
const py = process.argv.includes('--no-torch') ? null : findTorchPython();
if (py) {
  const out = execFileSync(py, [fileURLToPath(new URL('./torch_demo.py', import.meta.url)), mnistDir(), String(seed)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  torch = JSON.parse(out.trim().split('\n').at(-1) as string);
}

const j = demo.json as { base: unknown; finetuned: unknown; wallSeconds: number; backend: string; device: string };
console.log(`| classic experiment, seed ${seed} | lora-lab demo (${j.backend}) | PyTorch reference |`);
console.log('|---|---|---|');
console.log(`| wall time (s) | ${demo.wall.toFixed(0)} | ${torch ? torch.wallSeconds.toFixed(0) : '—'} |`);
console.log(`| digit-7 wrong, base → LoRA | ${wrong7(j.base)} → ${wrong7(j.finetuned)} | ${torch ? `${wrong7(torch.base)} → ${wrong7(torch.finetuned)}` : '—'} |`);
console.log(`| trainer peak memory (MB) | ${peak.toFixed(0)} | — |`);
console.log(`| trainer resident-set growth, 20% → 80% of base training (MB) | ${growth === null ? '—' : growth.toFixed(1)} | — |`);
const ratio = torch ? demo.wall / torch.wallSeconds : null;
console.log(`\nlora-lab demo / PyTorch wall time (target ≤ 1.0): ${ratio === null ? 'not measured (no python3 with torch)' : ratio.toFixed(2)}`);
console.log(`trainer peak memory ≤ 1 GB: ${peak <= 1024 ? 'yes' : 'no'} (${peak.toFixed(0)} MB)`);
console.log(JSON.stringify({ bench: 'demo', seed, wallSeconds: demo.wall, torchWallSeconds: torch?.wallSeconds ?? null, ratio, trainerPeakMb: peak, rssGrowthMb: growth, trainers: demo.trainers.map((t) => ({ pid: t.pid, peakMb: t.peakMb, samples: t.rssMb.length })) }));
