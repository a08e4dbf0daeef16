/**
 * Step for step against PyTorch: every LoRA variant the trainer has, trained by LoRA Lab
 * and by the same method written plainly in PyTorch from PEFT's formulas
 * (test/trainer/torch_variants.py, which imports nothing from LoRA Lab), from the same
 * initial tensors over the same MNIST batches, must give the same loss at every step and
 * the same final adapter. The script also computes PiSSA's and OLoRA's initialisation
 * from the base with torch.linalg.svd / torch.linalg.qr, which LoRA Lab's (randomized
 * subspace iteration, Householder QR) must match.
 *
 * Tolerances are set from what float32 rounding gives: the script runs each variant in
 * float64 as well, and LoRA Lab's distance from PyTorch's float32 run is of the size of
 * PyTorch float32's own distance from float64 (see the table this test prints).
 *
 * Needs a python3 that imports torch (Debian's python3-torch, which CI installs); skipped
 * with the reason printed where there is none.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoraConfig, type RunConfig, defaultConfig, loraScaling } from '../../src-main/contract/config.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { normaliseInto } from '../../src-main/data/dataset.ts';
import { IMAGE_SIZE, mnistSamples } from '../../src-main/data/mnist.ts';
import { attachLora, trainingState } from '../../src-main/trainer/lora.ts';
import { createStepper } from '../../src-main/trainer/loop.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { findTorchPython } from '../bench/torch-python.ts';
import { useTestBackend } from '../helpers/backend.ts';
import { tempDir } from '../helpers/tmp.ts';

const SCRIPT = fileURLToPath(new URL('./torch_variants.py', import.meta.url));
const sizes = [784, 64, 32, 10];
const targets = ['linear1', 'linear2', 'linear3'];
const STEPS = 20;
const BATCH = 10;
const LR = 1e-3;

/**
 * Tolerances (float32 on both sides; the test prints what it measured). Measured on
 * wasm against torch 1.13 (Debian), with PyTorch float32's own distance from float64 in
 * brackets:
 * - loss per step, |Δ| / |loss|: ≤ 3.2e-7 for every variant (1.3e-7 – 2.1e-7);
 * - final A, B, m, max |Δ| / max |x| per tensor: ≤ 2.3e-6, OLoRA 5.4e-6 (≤ 1.5e-6);
 * - what training changed, x − x0, the same measure (A and m start far from 0, so this
 *   is the stricter one): ≤ 8.4e-6, OLoRA 6.1e-5 (≤ 2.4e-5). OLoRA's is one element of
 *   linear1's A whose step-1 gradient cancels to 1.66e-7 (its terms are ~1e-2): Adam's
 *   first update g/(|g| + 1e-8) is steep there, and the wasm backend's float32 gradient
 *   (1.629e-7, TF.js cpu: 1.661e-7, float64: 1.664e-7) moves that update by 1e-6 —
 *   rounding, amplified, not a formula difference;
 * - PiSSA / OLoRA init, s·B0·A0 and the residual, max |Δ| / max |x| per layer: OLoRA
 *   ≤ 1.8e-7 (float32 factors). PiSSA: see its test.
 */
const TOL = { loss: 1e-6, value: 2e-5, change: 1.5e-4, init: 1e-6 };

interface Variant {
  name: string;
  lora: Partial<LoraConfig>;
}

const VARIANTS: Variant[] = [
  { name: 'lora', lora: {} },
  { name: 'lora gaussian + rsLoRA + LoRA+ ×4', lora: { init: 'gaussian', scaling: 'rslora', loraPlusRatio: 4 } },
  { name: 'dora', lora: { variant: 'dora' } },
  { name: 'pissa', lora: { init: 'pissa' } },
  { name: 'olora', lora: { init: 'olora' } },
  { name: 'lora-fa', lora: { freezeA: true } },
  { name: 'dora + pissa + lora-fa', lora: { variant: 'dora', init: 'pissa', freezeA: true } },
];

const loraCfg = (over: Partial<LoraConfig>): LoraConfig => ({
  r: 2, alpha: 4, targets, init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false, ...over,
});

interface TorchRun {
  losses: number[];
  tensors: Record<string, number[]>;
}

interface TorchOutput {
  torch: string;
  variants: Record<string, { float32: TorchRun; float64: TorchRun }>;
  inits: Record<string, Record<string, number[]>>;
}

interface LabRun {
  init: NamedTensors;
  losses: number[];
  final: NamedTensors;
}

const python = findTorchPython();
if (!python) console.warn('torch-variants tests SKIPPED: no python3 that imports torch (LORA_LAB_PYTHON, python3, /usr/bin/python3; apt-get install python3-torch)');

/** max |a − b| / max |b|. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    m = Math.max(m, Math.abs(b[i] as number));
  }
  return d / m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}
const minus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from({ length: a.length }, (_, i) => (a[i] as number) - (b[i] as number));
const lossRel = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number)) / Math.abs(b[i] as number)));

/** s·B·A [out, in] in float64 from float32 factors A [r, in], B [out, r]. */
function product(A: { shape: number[]; data: Float32Array }, B: { shape: number[]; data: Float32Array }, s: number): Float64Array {
  const [r, inF] = A.shape as [number, number];
  const outF = B.shape[0] as number;
  const out = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let k = 0; k < r; k++) {
      const b = s * (B.data[o * r + k] as number);
      for (let i = 0; i < inF; i++) out[o * inF + i] = (out[o * inF + i] as number) + b * (A.data[k * inF + i] as number);
    }
  }
  return out;
}

/** The adapter's tensors to compare: A (not when frozen), B, DoRA's m. */
function adapterKeys(v: Variant): string[] {
  const kinds = [...(v.lora.freezeA ? [] : ['lora_A']), 'lora_B', ...(v.lora.variant === 'dora' ? ['lora_magnitude_vector'] : [])];
  return targets.flatMap((t) => kinds.map((k) => `${t}.${k}`));
}

describe.skipIf(!python)('LoRA variants step for step against PyTorch (PEFT formulas)', () => {
  const { dir, cleanup } = tempDir('lora-lab-torch-variants-');
  const lab = new Map<string, LabRun>();
  let baseNamed: NamedTensors;
  let out: TorchOutput;
  const report: string[] = [];

  beforeAll(async () => {
    await useTestBackend();
    const base = Mlp.init(sizes, new Rng(1));
    baseNamed = await base.toNamed();
    base.dispose();

    // 20 batches of 10 real MNIST training images, normalised as the trainer does.
    const train = mnistSamples('train');
    const idx = Array.from({ length: STEPS * BATCH }, (_, i) => i);
    const x = new Float32Array(STEPS * BATCH * IMAGE_SIZE);
    normaliseInto(train, idx, 0, idx.length, x);
    const y = Int32Array.from(idx, (i) => train.labels[i] as number);
    writeFileSync(join(dir, 'batches.safetensors'), writeSafetensors({ x: { shape: [idx.length, IMAGE_SIZE], data: x }, y: { shape: [idx.length], data: Float32Array.from(y) } }));
    writeFileSync(join(dir, 'base.safetensors'), writeSafetensors(baseNamed));

    const specs = [];
    for (const [n, v] of VARIANTS.entries()) {
      const lora = loraCfg(v.lora);
      const m = Mlp.fromNamed(sizes, baseNamed, false);
      attachLora(m, lora, new Rng(2));
      // Everything the reference starts from: the frozen W it trains against, biases, A0, B0, m0.
      const init: NamedTensors = { ...(await trainingState(m)) };
      const named = await m.toNamed();
      for (const t of targets) init[`${t}.bias`] = named[`${t}.bias`]!;
      const file = `variant${n}.safetensors`;
      writeFileSync(join(dir, file), writeSafetensors(init));
      const cfg: RunConfig = { ...defaultConfig('lora'), sizes, lr: LR, optimizer: 'adam', lora };
      const stepper = createStepper(m, cfg);
      const losses: number[] = [];
      for (let s = 0; s < STEPS; s++) {
        losses.push(await stepper.step(x.subarray(s * BATCH * IMAGE_SIZE, (s + 1) * BATCH * IMAGE_SIZE), y.subarray(s * BATCH, (s + 1) * BATCH), BATCH));
      }
      stepper.dispose();
      lab.set(v.name, { init, losses, final: await trainingState(m) });
      m.dispose();
      specs.push({
        name: v.name, file, layers: targets.length, scaling: loraScaling(lora), dora: lora.variant === 'dora',
        freezeA: lora.freezeA, ratio: lora.loraPlusRatio, lr: LR,
      });
    }
    const inits = (['pissa', 'olora'] as const).map((kind) => ({ name: kind, kind, r: 2, scaling: loraScaling(loraCfg({})), layers: targets }));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ batches: 'batches.safetensors', base: 'base.safetensors', batch: BATCH, steps: STEPS, variants: specs, inits }));

    const r = spawnSync(python as string, [SCRIPT, dir], { encoding: 'utf8', timeout: 90_000 });
    if (r.status !== 0) throw new Error(`torch_variants.py failed (status ${r.status}): ${r.stderr}`);
    out = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8')) as TorchOutput;
  });

  afterAll(() => {
    cleanup();
    if (report.length) console.log(`LoRA Lab vs PyTorch ${out?.torch ?? ''} float32 (in brackets: PyTorch float32 vs float64, LoRA Lab vs float64):\n${report.join('\n')}`);
  });

  for (const v of VARIANTS) {
    it(`${v.name}: the loss at each of ${STEPS} steps and the final adapter agree`, () => {
      const mine = lab.get(v.name)!;
      const ref = out.variants[v.name]!;
      const t32 = ref.float32;
      const t64 = ref.float64;
      const loss = { lab: lossRel(mine.losses, t32.losses), f32: lossRel(t32.losses, t64.losses), labF64: lossRel(mine.losses, t64.losses) };
      let value = { lab: 0, f32: 0, labF64: 0 };
      let change = { lab: 0, f32: 0, labF64: 0 };
      let moved = 0;
      for (const key of adapterKeys(v)) {
        const x = mine.final[key]!.data;
        const x0 = mine.init[key]!.data;
        const [a32, a64] = [t32.tensors[key]!, t64.tensors[key]!];
        const [d, d32, d64] = [minus(x, x0), minus(a32, x0), minus(a64, x0)];
        value = { lab: Math.max(value.lab, relMax(x, a32)), f32: Math.max(value.f32, relMax(a32, a64)), labF64: Math.max(value.labF64, relMax(x, a64)) };
        change = { lab: Math.max(change.lab, relMax(d, d32)), f32: Math.max(change.f32, relMax(d32, d64)), labF64: Math.max(change.labF64, relMax(d, d64)) };
        moved = Math.max(moved, maxAbs(minus(x, x0)) / maxAbs(x));
      }
      // Training moved the adapter, so the agreement below is not that of two idle runs.
      expect(moved).toBeGreaterThan(0.05);
      report.push(
        `  ${v.name.padEnd(36)} loss ${loss.lab.toExponential(1)} (torch f32 vs f64 ${loss.f32.toExponential(1)}, lab vs f64 ${loss.labF64.toExponential(1)})` +
          `  adapter ${value.lab.toExponential(1)} (${value.f32.toExponential(1)}, ${value.labF64.toExponential(1)})` +
          `  change ${change.lab.toExponential(1)} (${change.f32.toExponential(1)}, ${change.labF64.toExponential(1)})`,
      );
      expect(loss.lab, 'loss per step, relative').toBeLessThanOrEqual(TOL.loss);
      expect(value.lab, 'final A, B, m: max |Δ| / max |x|').toBeLessThanOrEqual(TOL.value);
      expect(change.lab, 'what training changed: max |Δ| / max |x − x0|').toBeLessThanOrEqual(TOL.change);
      if (v.lora.freezeA) for (const t of targets) expect(mine.final[`${t}.lora_A`]!.data).toEqual(mine.init[`${t}.lora_A`]!.data);
    });
  }

  // PiSSA fails here as of writing: on this freshly initialised base (a flat spectrum:
  // linear1's σ1..σ3 = 0.736, 0.725, 0.716, σ13 = 0.651) adapters/init.ts's randomized
  // subspace iteration (16 iterations, oversampling 10) has not converged, and its rank-2
  // part is 4.9e-2 (linear1) and 1.3e-5 (linear2) off torch.linalg.svd's; linear3
  // (10 × 32, sketched at full rank) agrees to 1.1e-7. Kept failing on purpose: PEFT's
  // "pissa" is the exact SVD.
  for (const kind of ['pissa', 'olora'] as const) {
    it(`${kind}: s·B0·A0 and the residual base match torch.linalg.${kind === 'pissa' ? 'svd' : 'qr'}'s`, () => {
      const s = loraScaling(loraCfg({}));
      const init = lab.get(kind)!.init;
      const parts: string[] = [];
      const diffs: [string, number, number][] = [];
      for (const t of targets) {
        const ref = out.inits[kind]![t]!;
        const mine = product(init[`${t}.lora_A`]!, init[`${t}.lora_B`]!, s);
        const productDiff = relMax(mine, ref);
        const residual = minus(baseNamed[`${t}.weight`]!.data, ref); // W0 − s·B0·A0, torch's
        const residualDiff = relMax(init[`${t}.weight`]!.data, residual);
        parts.push(`${t} ${productDiff.toExponential(1)} / ${residualDiff.toExponential(1)}`);
        diffs.push([t, productDiff, residualDiff]);
      }
      report.push(`  ${kind} init vs torch.linalg (s·B0·A0 / residual): ${parts.join(', ')}`);
      for (const [t, productDiff, residualDiff] of diffs) {
        expect(productDiff, `${t}: s·B0·A0`).toBeLessThanOrEqual(TOL.init);
        expect(residualDiff, `${t}: residual`).toBeLessThanOrEqual(TOL.init);
      }
    });
  }
});
