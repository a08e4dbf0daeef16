/**
 * The issue-16 experiment, as a new user would run it: the classic base (784→1000→
 * 2000→10, one epoch), then the classic fine-tune on digit 7 (100 steps, Adam, lr 1e-3,
 * quick evaluations every 25 steps) at LoRA ranks 1, 8 and 64 and as a full fine-tune,
 * each over 3 seeds (one sweep cloned from each configuration), and what the papers
 * measure, read off it: learning against forgetting (Biderman et al. 2024), the
 * spectrum and ranks of ΔW, the amplification factor and φ between ranks 8 and 64
 * (Hu et al. 2021, §7), intruder dimensions (Shuttleworth et al. 2024). Prints n,
 * mean ± std per configuration. With SCREENSHOTS=1 (and UPDATE_SCREENSHOTS=1 for the
 * README's copies) it also saves the Adapter, update, forgetting, Compare and playground pages.
 *
 * Run: node scripts/build.mjs && npx tsx test/bench/lora-vs-full.ts   (the UI build serves the pages;
 * about 8 minutes on 2 cores, wasm)
 */
import type { AdapterAnalysis } from '../../src-main/contract/analysis.ts';
import { DEFAULT_SIZES, type RunConfig, defaultConfig, defaultLora, layerNames } from '../../src-main/contract/config.ts';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';

const SEEDS = 3;
const methods = [
  { key: 'LoRA r1', r: 1 },
  { key: 'LoRA r8', r: 8 },
  { key: 'LoRA r64', r: 64 },
  { key: 'full', r: null },
] as const;

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const ms = (xs: number[], digits = 2, scale = 1) => `${(mean(xs) * scale).toFixed(digits)} ± ${(std(xs) * scale).toFixed(digits)}`;

function config(r: number | null, seed: number): RunConfig {
  const c = defaultConfig(r === null ? 'full' : 'lora');
  c.seed = seed;
  // Rank 64 cannot adapt linear3 (10 outputs): r ≤ min(in, out). Ranks 1 and 8 adapt every layer.
  if (c.lora && r !== null) c.lora = { ...defaultLora(DEFAULT_SIZES), r, alpha: r, targets: r > 10 ? ['linear1', 'linear2'] : layerNames(DEFAULT_SIZES) };
  return c;
}

const e2e: E2E = await startE2E({ prefix: 'lora-lab-findings-', concurrency: 2 });
const { lab, page } = e2e;
try {
  const t0 = performance.now();
  const base = await lab.waitForRun((await lab.createRun({ name: 'classic base', config: defaultConfig('base') })).id);
  console.log(`base: ${(base.accuracy! * 100).toFixed(2)}% test accuracy, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const runs: Record<string, number[]> = {};
  for (const m of methods) {
    const made = await Promise.all(Array.from({ length: SEEDS }, (_, seed) => lab.createRun({ name: `${m.key} seed ${seed}`, config: config(m.r, seed), baseModelId: base.modelId! })));
    runs[m.key] = [];
    for (const r of made) runs[m.key]!.push((await lab.waitForRun(r.id)).id);
  }
  console.log(`fine-tunes: ${methods.length} × ${SEEDS} seeds, ${((performance.now() - t0) / 1000).toFixed(0)} s in all\n`);

  // ── learning against forgetting ──────────────────────────────────────────────
  const all = Object.values(runs).flat();
  const view = await lab.forgetting({ runIds: all });
  console.log(`learning against forgetting on digit ${view.focusClasses.join(',')} (pp against the base; n = ${view.runs[0]!.after.focus.n} sevens, ${view.runs[0]!.after.other.n} others):`);
  console.log('method     n  learned (pp)    forgotten (pp)   accuracy after   on the Pareto front');
  for (const m of methods) {
    const rs = view.runs.filter((r) => runs[m.key]!.includes(r.runId));
    const acc = await Promise.all(rs.map(async (r) => (await lab.getRun(r.runId)).accuracy!));
    console.log(`${m.key.padEnd(9)} ${rs.length}  ${ms(rs.map((r) => r.learned), 1, 100).padEnd(14)}  ${ms(rs.map((r) => r.forgotten), 1, 100).padEnd(15)}  ${ms(acc, 1, 100).padEnd(15)}  ${rs.filter((r) => r.pareto).length} of ${rs.length}`);
  }

  // ── what the updates look like ───────────────────────────────────────────────
  const analyses: Record<string, AdapterAnalysis[]> = {};
  for (const m of methods) {
    analyses[m.key] = [];
    for (const id of runs[m.key]!) analyses[m.key]!.push(await lab.analyzeAdapter({ target: { kind: 'run', id } }));
  }
  for (const layer of ['linear1', 'linear2']) {
    console.log(`\n${layer}: mean ± std over ${SEEDS} seeds`);
    console.log('method     effective rank   stable rank   rank for 90%   ‖ΔW‖/‖W0‖ (%)   amplification   intruders (of 10, ε 0.5)');
    for (const m of methods) {
      const ls = analyses[m.key]!.map((a) => a.layers.find((l) => l.layer === layer)!);
      console.log(
        `${m.key.padEnd(9)}  ${ms(ls.map((l) => l.effectiveRank)).padEnd(15)}  ${ms(ls.map((l) => l.stableRank)).padEnd(12)}  ${ms(ls.map((l) => l.rank90), 1).padEnd(13)}  ${ms(ls.map((l) => l.relativeNorm), 2, 100).padEnd(14)}  ${ms(ls.map((l) => l.amplification.factor)).padEnd(14)}  ${ms(ls.map((l) => l.intruders!.count), 1)}`,
      );
    }
  }

  // ── φ between ranks 8 and 64, and between two seeds of rank 8 ────────────────
  const phiOf = async (a: number, b: number) => (await lab.analyzeAdapter({ target: { kind: 'run', id: a }, vs: { kind: 'run', id: b }, intruders: false })).similarity!.layers;
  const pairs = [
    ['rank 8 vs rank 64 (same seed)', runs['LoRA r8']!.map((id, i) => [id, runs['LoRA r64']![i]!] as const)],
    ['rank 8, seed 0 vs seed 1', [[runs['LoRA r8']![0]!, runs['LoRA r8']![1]!] as const]],
    ['rank 8 vs full (same seed)', runs['LoRA r8']!.map((id, i) => [id, runs['full']![i]!] as const)],
  ] as const;
  console.log('\nsubspace similarity φ(i, j), input side (ΔW’s right singular vectors):');
  for (const [what, list] of pairs) {
    const sims = await Promise.all(list.map(([a, b]) => phiOf(a, b)));
    for (const layer of ['linear1', 'linear2']) {
      const at = (i: number, j: number) => sims.map((s) => s.find((p) => p.layer === layer && p.side === 'input')!.phi[i - 1]![j - 1]!);
      console.log(`  ${what}, ${layer}: φ(1, 1) = ${ms(at(1, 1))}, φ(8, 8) = ${ms(at(8, 8))} (n = ${sims.length})`);
    }
  }

  if (process.env['SCREENSHOTS'] === '1') {
    const r8 = (await lab.getRun(runs['LoRA r8']![0]!)).adapterId!;
    const r64 = (await lab.getRun(runs['LoRA r64']![0]!)).adapterId!;
    const full = (await lab.getRun(runs['full']![0]!)).modelId!;
    const shoot = async (hash: string, ready: string, name: string) => {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.locator(ready).first().waitFor({ timeout: 180_000 });
      await saveScreenshot(page, name);
    };
    await shoot(`#/adapters/${r8}?vs=${r64}`, 'figure.phi', 'classic-adapter-r8-vs-r64');
    await shoot(`#/models/${full}/update`, 'section.layer[data-layer="linear2"]', 'classic-full-update');
    await shoot(`#/forgetting?ids=${all.join(',')}`, 'table[aria-label="runs"] tbody tr', 'classic-forgetting');
    await shoot(`#/compare?ids=${[runs['LoRA r8']![0]!, runs['LoRA r64']![0]!, runs['full']![0]!].join(',')}`, `td[data-run="${runs['full']![0]!}"][data-figure="rank90"]`, 'classic-compare-geometry');
    // The playground with MNIST's first test image (a 7) picked, as one first uses it.
    await page.evaluate((h) => (location.hash = h), `#/playground/${r8}`);
    await page.getByTestId('panel-base').waitFor({ timeout: 60_000 });
    await page.getByLabel(/^Test image/).fill('0');
    await page.getByRole('button', { name: 'Pick a test image' }).click();
    await page.getByTestId('true-class').waitFor();
    await saveScreenshot(page, 'classic-playground');
  }
} finally {
  await e2e.close();
}
