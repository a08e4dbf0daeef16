/**
 * Adapter analysis on the classic MLP (issue 16): a base trained briefly, LoRA on
 * digit 7 at ranks 1, 8 and 64 (rank 64 on linear1 and linear2: linear3 has 10 outputs),
 * then, side by side in this one run:
 *   - ΔW's SVD from the rank-r factors (geometry.ts) against a dense SVD of the formed
 *     [out, in] ΔW — LoRA Lab's own (Gram eigen-decomposition, eigen.ts) and numpy's
 *     np.linalg.svd (LAPACK) on the same matrix: time and agreement of σ;
 *   - the whole analyzeAdapter per rank, W0's spectrum computed (first) and cached, with
 *     and without intruder dimensions.
 * Run: npx tsx test/bench/analysis-bench.ts
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gramSvd } from '../../src-main/adapters/eigen.ts';
import { factorSvd } from '../../src-main/adapters/geometry.ts';
import { DEFAULT_SIZES, defaultConfig, defaultLora, layerNames } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { matmul, matrix } from '../../src-main/weights/linalg.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('lora-lab-analysis-bench-');
const lab = Lab.open(join(tmp.dir, 'lab.db'), { host: { env: { ...process.env, LORA_LAB_BACKEND: process.env['LORA_LAB_BACKEND'] || 'wasm' } } });
const secs = (t0: number) => (performance.now() - t0) / 1000;

try {
  const t0 = performance.now();
  const base = await lab.waitForRun((await lab.createRun({ name: 'bench base', config: { ...defaultConfig('base'), maxSteps: 300, evalEvery: 0, testLimit: 500 } })).id);
  const adapters: Record<number, number> = {};
  for (const r of [1, 8, 64]) {
    const targets = r > 10 ? ['linear1', 'linear2'] : layerNames(DEFAULT_SIZES);
    const run = await lab.waitForRun((await lab.createRun({ name: `bench r${r}`, baseModelId: base.modelId!, config: { ...defaultConfig('lora'), classes: [7], maxSteps: 100, evalEvery: 0, testLimit: 500, lora: { ...defaultLora(), r, alpha: r, targets } } })).id);
    adapters[r] = run.adapterId!;
  }
  console.log(`trained a base (300 steps) and LoRA at r = 1, 8, 64 (100 steps each) in ${secs(t0).toFixed(1)} s\n`);

  // ── factor SVD against dense SVDs of the same ΔW ──────────────────────────────
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0) ?? null;
  console.log('ΔW = s·B·A of one layer: SVD from the factors vs dense (σ agreement: max |Δσᵢ| / σᵢ over σᵢ ≥ 1e-6·σ₁)');
  console.log('rank  layer    [out, in]     factors     dense (ours, Gram eigen)   numpy np.linalg.svd   agreement ours · numpy');
  for (const r of [1, 8, 64]) {
    const a = lab.store.adapters.get(adapters[r]!);
    const t = lab.store.tensors.get({ adapterId: a.id });
    for (const layer of ['linear1', 'linear2']) {
      const A = t[`${layer}.lora_A`]!;
      const B = t[`${layer}.lora_B`]!;
      const Am = matrix(A.shape[0]!, A.shape[1]!, A.data);
      const Bm = matrix(B.shape[0]!, B.shape[1]!, B.data);
      let t1 = performance.now();
      const f = factorSvd(Bm, Am, a.info.scaling);
      const factorS = secs(t1);
      const dense = matmul(Bm, Am);
      for (let i = 0; i < dense.data.length; i++) dense.data[i] = (dense.data[i] as number) * a.info.scaling;
      t1 = performance.now();
      const g = gramSvd(dense, 0, 0);
      const gramS = secs(t1);
      let numpy = '—';
      let agreeNp = '—';
      if (python) {
        const file = join(tmp.dir, 'dw.f64');
        writeFileSync(file, Buffer.from(dense.data.buffer));
        const script = `import numpy as np, time, json, sys\nm = np.fromfile(sys.argv[1], dtype=np.float64).reshape(${dense.rows}, ${dense.cols})\nt = time.perf_counter(); s = np.linalg.svd(m, compute_uv=True)[1]; t = time.perf_counter() - t\nprint(json.dumps({"t": t, "s": s[:${f.S.length}].tolist()}))`;
        const out = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
        const res = JSON.parse(out.stdout) as { t: number; s: number[] };
        numpy = `${res.t.toFixed(3)} s`;
        agreeNp = maxRel(f.S, res.s).toExponential(1);
      }
      const agreeGram = maxRel(f.S, g.S).toExponential(1);
      console.log(`${String(r).padStart(4)}  ${layer}  [${dense.rows}, ${dense.cols}]  ${(factorS * 1000).toFixed(2).padStart(7)} ms   ${gramS.toFixed(2).padStart(7)} s (σ ${agreeGram})   ${numpy.padStart(16)}      ${agreeNp}`);
    }
  }

  // ── the whole analysis ────────────────────────────────────────────────────────
  console.log('\nanalyzeAdapter (all target layers; intruders k = 10, ε = 0.5):');
  let t1 = performance.now();
  const first = await lab.analyzeAdapter({ target: { kind: 'adapter', id: adapters[64]! } });
  console.log(`  r = 64, W0's spectrum computed: ${secs(t1).toFixed(2)} s (cached: ${first.baseSpectrumCached})`);
  for (const r of [1, 8, 64]) {
    for (const intruders of [true, false]) {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        t1 = performance.now();
        await lab.analyzeAdapter({ target: { kind: 'adapter', id: adapters[r]! }, ...(intruders ? {} : { intruders: false }) });
        runs.push(secs(t1));
      }
      console.log(`  r = ${String(r).padEnd(2)} ${intruders ? 'with intruders (W0 cached)' : 'without intruders        '}: median ${median(runs).toFixed(2)} s of 3`);
    }
  }
  t1 = performance.now();
  await lab.analyzeAdapter({ target: { kind: 'adapter', id: adapters[8]! }, vs: { kind: 'adapter', id: adapters[64]! }, intruders: false });
  console.log(`  r = 8 vs r = 64 (φ, both spectra): ${secs(t1).toFixed(2)} s`);
} finally {
  await lab.close();
  tmp.cleanup();
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  const top = a[0] as number;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    if (x < 1e-6 * top) break;
    worst = Math.max(worst, Math.abs(x - (b[i] as number)) / x);
  }
  return worst;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)] as number;
}
