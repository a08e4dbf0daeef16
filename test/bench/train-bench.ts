/**
 * Training and inference throughput of the MLP 784→1000→2000→10, on every backend
 * available here and, when Debian's python3-torch is installed, PyTorch in the same run.
 * Each backend runs in its own process (a backend is chosen once per process), the
 * step timed is the trainer's own (`createStepper`), and each figure is the median of
 * many steps after warm-up. Prints a table, the ratios the project targets, and JSON.
 *
 *   npx tsx test/bench/train-bench.ts [--quick] [--backends wasm,cpu]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { findTorchPython } from './torch-python.ts';

const SIZES = [784, 1000, 2000, 10];
const WORKLOADS = ['lora-b10', 'lora-b64', 'lora-b256', 'full-b10', 'full-b64', 'full-b256', 'infer-b256'] as const;
type Workload = (typeof WORKLOADS)[number];

/** Where one step's time goes, from tf.profile over a few steps (kernel times are the backend's own). */
interface StepProfile {
  stepMs: number;
  matmulMs: number;
  matmulGflops: number;
  /** GFLOP in one step's multiplies. */
  gflop: number;
  transposeMs: number;
  otherKernelMs: number;
  /** The step's time outside any kernel: JavaScript, TF.js's engine, the optimizer's own module. */
  outsideMs: number;
}

interface WorkerResult {
  backend: string;
  device: string;
  workloads: Partial<Record<Workload, number>>;
  stepMs: Partial<Record<Workload, number>>;
  profile: Partial<Record<Workload, StepProfile>>;
  peakRssMb: number;
  cpuSeconds: number;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;

async function worker(backend: string, quick: boolean, profile: boolean): Promise<WorkerResult> {
  const { initBackend } = await import('../../src-main/trainer/backend.ts');
  const { Mlp } = await import('../../src-main/trainer/mlp.ts');
  const { attachLora } = await import('../../src-main/trainer/lora.ts');
  const { createStepper } = await import('../../src-main/trainer/loop.ts');
  const { defaultConfig, defaultLora } = await import('../../src-main/contract/config.ts');
  const { tf } = await import('../../src-main/trainer/tf.ts');
  const { Rng } = await import('../../src-main/util/rng.ts');
  const info = await initBackend(backend);
  // The cpu backend and software GPUs (lavapipe) are 20–60× slower: fewer steps there.
  const slow = backend === 'cpu' || /llvmpipe|lavapipe|swiftshader/i.test(info.device);
  const rng = new Rng(1);
  const result: WorkerResult = { backend: info.name, device: info.device, workloads: {}, stepMs: {}, profile: {}, peakRssMb: 0, cpuSeconds: 0 };
  // A kernel's time as TF.js's profiler reports it; wrappers (customGrad ops, which
  // contain other kernels) are not registered kernels and are left out.
  const profileOf = async (run: () => Promise<unknown>, stepMs: number, reps = 3): Promise<StepProfile> => {
    const p: StepProfile = { stepMs, matmulMs: 0, matmulGflops: 0, gflop: 0, transposeMs: 0, otherKernelMs: 0, outsideMs: 0 };
    for (let r = 0; r < reps; r++) {
      const prof = await tf.profile(run as never);
      for (const k of prof.kernels) {
        if (!tf.getKernel(k.name, tf.getBackend())) continue;
        const ms = (await k.kernelTimeMs) as number;
        if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
          const [a, b] = k.inputShapes as [number[], number[]];
          p.matmulMs += ms / reps;
          p.gflop += (2 * (a.at(-2) as number) * (a.at(-1) as number) * (b.at(-1) as number)) / 1e9 / reps;
        } else if (k.name === 'Transpose') p.transposeMs += ms / reps;
        else p.otherKernelMs += ms / reps;
      }
    }
    p.matmulGflops = p.matmulMs > 0 ? p.gflop / (p.matmulMs / 1000) : 0;
    p.outsideMs = Math.max(0, stepMs - p.matmulMs - p.transposeMs - p.otherKernelMs);
    return p;
  };

  for (const w of WORKLOADS) {
    const batch = Number(w.split('-b')[1]);
    const x = Float32Array.from({ length: batch * 784 }, () => rng.normal());
    const y = Int32Array.from({ length: batch }, () => rng.int(10));
    const model = Mlp.init(SIZES, new Rng(2));
    const n = slow || quick ? 4 : batch <= 10 ? 60 : batch <= 64 ? 30 : 15;
    const warm = slow || quick ? 1 : 5;
    const times: number[] = [];
    if (w.startsWith('infer')) {
      const xs = tf.tensor2d(x, [batch, 784]);
      for (let i = 0; i < warm + n; i++) {
        const t0 = performance.now();
        const pred = tf.tidy(() => tf.argMax(model.forward(xs), 1));
        await pred.data();
        pred.dispose();
        if (i >= warm) times.push(performance.now() - t0);
      }
      if (profile) {
        result.profile[w] = await profileOf(async () => {
          const pred = tf.tidy(() => tf.argMax(model.forward(xs), 1));
          await pred.data();
          pred.dispose();
        }, median(times));
      }
      xs.dispose();
    } else {
      const kind = w.startsWith('lora') ? 'lora' : 'base';
      if (kind === 'lora') attachLora(model, { ...defaultLora(SIZES), init: 'gaussian' }, new Rng(3));
      const stepper = createStepper(model, defaultConfig(kind));
      for (let i = 0; i < warm + n; i++) {
        const t0 = performance.now();
        await stepper.step(x, y, batch);
        if (i >= warm) times.push(performance.now() - t0);
      }
      if (profile) result.profile[w] = await profileOf(() => stepper.step(x, y, batch), median(times));
      stepper.dispose();
    }
    model.dispose();
    const ms = median(times);
    result.stepMs[w] = ms;
    result.workloads[w] = (batch / ms) * 1000;
  }
  result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage();
  result.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return result;
}

/** Busy and total jiffies over all cores, from /proc/stat (Linux). */
function cpuTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

interface Measured {
  name: string;
  device: string;
  workloads: Partial<Record<Workload, number>>;
  profile: Partial<Record<Workload, StepProfile>>;
  peakRssMb: number | null;
  /** Share of the machine's CPU used by other processes while this one ran (0–1). */
  otherLoad: number | null;
}

function measure(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measured | { name: string; error: string } {
  const before = cpuTimes();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const wall = (performance.now() - t0) / 1000;
  const after = cpuTimes();
  if (r.status !== 0) {
    // The worker's own error line (e.g. "Error: the tensorflow backend is not installed"), not the stack under it.
    const lines = (r.stderr || r.stdout || '').split('\n').map((l) => l.trim());
    return { name, error: lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.filter(Boolean).at(-1) ?? `exit ${r.status}` };
  }
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Partial<WorkerResult> & { workloads: Measured['workloads']; torch?: string };
  // The other load: the machine's busy share over the run minus this process's own
  // (its CPU time, every thread, reported by the process itself).
  let otherLoad: number | null = null;
  if (before && after && typeof out.cpuSeconds === 'number') {
    const busy = (after.busy - before.busy) / (after.total - before.total);
    const own = out.cpuSeconds / (wall * cpus().length);
    otherLoad = Math.max(0, busy - own);
  }
  return { name, device: out.device ?? out.torch ?? '', workloads: out.workloads, profile: out.profile ?? {}, peakRssMb: out.peakRssMb ?? null, otherLoad };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') {
    const r = await worker(argv[1] as string, argv.includes('--quick'), !argv.includes('--no-profile'));
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const bi = argv.indexOf('--backends');
  const backends = bi >= 0 ? (argv[bi + 1] as string).split(',') : ['wasm', 'cpu', 'tensorflow', 'cuda', 'webgpu'];
  const self = fileURLToPath(import.meta.url);
  const results: Measured[] = [];
  const skipped: string[] = [];
  for (const b of backends) {
    const r = measure(b, process.execPath, ['--import', 'tsx', self, '--worker', b, ...(quick ? ['--quick'] : [])], { ...process.env, LORA_LAB_BACKEND: b });
    if ('error' in r) skipped.push(`${b}: ${r.error.slice(0, 160)}`);
    else results.push(r);
  }
  const py = findTorchPython();
  const torchScript = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
  if (py) {
    const r = measure('pytorch', py, [torchScript]);
    if ('error' in r) skipped.push(`pytorch: ${r.error}`);
    else results.push(r);
  } else skipped.push('pytorch: no python3 with torch (apt-get install python3-torch libopenblas0-pthread)');

  const fmt = (v: number | undefined) => (v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
  console.log(`| workload (samples/s) | ${results.map((r) => r.name).join(' | ')} |`);
  console.log(`|---|${results.map(() => '---').join('|')}|`);
  for (const w of WORKLOADS) console.log(`| ${w} | ${results.map((r) => fmt(r.workloads[w])).join(' | ')} |`);
  console.log(`| peak RSS (MB) | ${results.map((r) => (r.peakRssMb ? Math.round(r.peakRssMb) : '—')).join(' | ')} |`);
  console.log(`| other load during run | ${results.map((r) => (r.otherLoad === null ? '—' : `${Math.round(r.otherLoad * 100)}%`)).join(' | ')} |`);

  const torch = results.find((r) => r.name === 'pytorch');
  const best = results.filter((r) => r.name !== 'pytorch').sort((a, b) => (b.workloads['lora-b64'] ?? 0) - (a.workloads['lora-b64'] ?? 0))[0];
  const ratios: Record<string, number | null> = {};
  if (best) {
    const ratio = (w: Workload) => (torch?.workloads[w] && best.workloads[w] ? (best.workloads[w] as number) / (torch.workloads[w] as number) : null);
    ratios['lora-b64 vs pytorch (target ≥ 1.0)'] = ratio('lora-b64');
    ratios['lora-b256 vs pytorch (target ≥ 1.0)'] = ratio('lora-b256');
    ratios['infer-b256 vs pytorch (target ≥ 1.0)'] = ratio('infer-b256');
    ratios['full-b256 vs pytorch (target ≥ 0.75)'] = ratio('full-b256');
    for (const b of [10, 64, 256]) {
      const l = best.workloads[`lora-b${b}` as Workload];
      const f = best.workloads[`full-b${b}` as Workload];
      ratios[`LoRA step / full step, batch ${b} (target ≤ 0.6)`] = l && f ? f / l : null;
    }
    console.log(`\nratios (${best.name}${torch ? ' vs PyTorch, measured in this run' : ''}):`);
    for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v === null ? 'not measured' : v.toFixed(2)}`);
  }
  if (best && Object.keys(best.profile).length) {
    // Where the time goes, and the multiply rate PyTorch's whole step implies on the
    // same arithmetic: when that exceeds our multiplies' own rate, no cut in overhead
    // can close the gap.
    console.log(`\nprofile (${best.name}, ms per step; GFLOP/s = the multiplies' own rate):`);
    console.log('| workload | step | multiplies | GFLOP/s | transposes | other kernels | outside kernels | PyTorch step | PyTorch implied GFLOP/s |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const w of WORKLOADS) {
      const p = best.profile[w];
      if (!p) continue;
      const batch = Number(w.split('-b')[1]);
      const tw = torch?.workloads[w];
      const tStep = tw ? (batch / tw) * 1000 : null;
      const f = (v: number) => v.toFixed(1);
      console.log(`| ${w} | ${f(p.stepMs)} | ${f(p.matmulMs)} | ${f(p.matmulGflops)} | ${f(p.transposeMs)} | ${f(p.otherKernelMs)} | ${f(p.outsideMs)} | ${tStep ? f(tStep) : '—'} | ${tStep ? f(p.gflop / (tStep / 1000)) : '—'} |`);
    }
  }
  if (skipped.length) console.log(`\nnot measured: ${skipped.join('; ')}`);
  console.log(JSON.stringify({ bench: 'train', cores: cpus().length, cpu: cpus()[0]?.model, results, ratios, skipped }));
}

await main();
