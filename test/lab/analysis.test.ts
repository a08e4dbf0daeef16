/**
 * analyzeAdapter through the Lab service on real tiny runs (a base, LoRA at ranks 2 and
 * 6, DoRA), every figure recomputed here densely from the stored tensors in plain JS:
 * ΔW formed (DoRA: m ⊙ (W0 + s·B·A)/‖row‖ − W0), Jacobi SVDs, the ranks, the
 * amplification factor, the intruder recipe and φ by their definitions.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterAnalysis } from '../../src-main/contract/analysis.ts';
import { LabError } from '../../src-main/contract/api.ts';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { validateArgs } from '../../src-main/contract/schemas.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { type Matrix, type Svd, jacobiSvd, matmul, matrix, transpose } from '../../src-main/weights/linalg.ts';
import { tempDir } from '../helpers/tmp.ts';

const sizes = [784, 16, 10];
const tmp = tempDir();
const opts = { host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } };
let lab: Lab;
let baseRun = 0;
const runs: Record<'r2' | 'r6' | 'dora', number> = { r2: 0, r6: 0, dora: 0 };

function lora(r: number, variant: 'lora' | 'dora'): RunConfig {
  const c = { ...defaultConfig('lora'), sizes, batchSize: 16, trainLimit: 320, testLimit: 100, evalEvery: 0, maxSteps: 15, classes: [7], lr: 0.01 };
  c.lora = { ...c.lora!, r, alpha: r, targets: ['linear1', 'linear2'], variant };
  return c;
}

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), opts);
  const base = await lab.waitForRun((await lab.createRun({ name: 'an base', config: { ...defaultConfig('base'), sizes, batchSize: 32, trainLimit: 640, testLimit: 100, evalEvery: 0, maxSteps: 30 } })).id);
  baseRun = base.id;
  for (const [key, r, variant] of [['r2', 2, 'lora'], ['r6', 6, 'lora'], ['dora', 3, 'dora']] as const) {
    const run = await lab.waitForRun((await lab.createRun({ name: `an ${key}`, config: lora(r, variant), baseModelId: base.modelId! })).id);
    expect(run.status).toBe('completed');
    runs[key] = run.id;
  }
});
afterAll(async () => {
  await lab.close();
  tmp.cleanup();
});

/** The stored tensors of a run's layer, and the dense ΔW recomputed from them. */
function dense(runId: number, layer: string): { W0: Matrix; delta: Matrix; r: number } {
  const run = lab.store.runs.get(runId);
  const adapter = lab.store.adapters.get(run.adapterId!);
  const t = lab.store.tensors.get({ adapterId: adapter.id });
  const w = lab.store.tensors.get({ modelId: adapter.baseModelId })[`${layer}.weight`]!;
  const W0 = matrix(w.shape[0]!, w.shape[1]!, w.data);
  const A = t[`${layer}.lora_A`]!;
  const B = t[`${layer}.lora_B`]!;
  const r = A.shape[0]!;
  const BA = matmul(matrix(B.shape[0]!, r, B.data), matrix(r, A.shape[1]!, A.data));
  const s = adapter.info.scaling;
  const out = matrix(W0.rows, W0.cols);
  const m = t[`${layer}.lora_magnitude_vector`];
  for (let i = 0; i < W0.rows; i++) {
    let norm = 0;
    for (let j = 0; j < W0.cols; j++) norm += ((W0.data[i * W0.cols + j] as number) + s * (BA.data[i * W0.cols + j] as number)) ** 2;
    const c = m ? (m.data[i] as number) / Math.sqrt(norm) : 1;
    for (let j = 0; j < W0.cols; j++) {
      const v = (W0.data[i * W0.cols + j] as number) + s * (BA.data[i * W0.cols + j] as number);
      out.data[i * W0.cols + j] = c * v - (W0.data[i * W0.cols + j] as number);
    }
  }
  return { W0, delta: out, r: adapter.info.r };
}

const frob = (m: Matrix) => Math.sqrt(m.data.reduce((a, x) => a + x * x, 0));
const cols = (m: Matrix, k: number) => matrix(m.rows, k, Array.from({ length: m.rows * k }, (_, i) => m.data[Math.floor(i / k) * m.cols + (i % k)] as number));
const plus = (a: Matrix, b: Matrix) => matrix(a.rows, a.cols, a.data.map((x, i) => x + (b.data[i] as number)));

function referenceLayer(W0: Matrix, delta: Matrix, r: number, k: number, eps: number) {
  const svd = jacobiSvd(delta);
  const sigma = Array.from(svd.S).filter((x) => x > 1e-9 * (svd.S[0] as number));
  const sum = sigma.reduce((a, x) => a + x, 0);
  const energy = sigma.reduce((a, x) => a + x * x, 0);
  let rank90 = 0;
  for (let acc = 0; acc < 0.9 * energy; rank90++) acc += (sigma[rank90] as number) ** 2;
  const q = Math.min(r, sigma.length);
  const projected = matmul(matmul(transpose(cols(svd.U, q)), W0), cols(svd.V, q));
  const base = jacobiSvd(W0);
  const tuned = jacobiSvd(plus(W0, delta));
  const maxCosine = Array.from({ length: k }, (_, i) => {
    let best = 0;
    for (let j = 0; j < base.S.length; j++) {
      let dot = 0;
      for (let row = 0; row < W0.rows; row++) dot += (tuned.U.data[row * tuned.U.cols + i] as number) * (base.U.data[row * base.U.cols + j] as number);
      best = Math.max(best, Math.abs(dot));
    }
    return best;
  });
  return {
    sigma,
    effectiveRank: Math.exp(-sigma.reduce((a, x) => a + (x / sum) * Math.log(x / sum), 0)),
    stableRank: energy / (sigma[0] as number) ** 2,
    rank90,
    relativeNorm: Math.sqrt(energy) / frob(W0),
    amplification: Math.sqrt(energy) / frob(projected),
    maxCosine,
    count: maxCosine.filter((c) => c < eps).length,
    svd,
  };
}

function expectLayerMatches(a: AdapterAnalysis, runId: number, k: number, eps: number, sigmaTol: number) {
  for (const layer of ['linear1', 'linear2']) {
    const got = a.layers.find((l) => l.layer === layer)!;
    const { W0, delta, r } = dense(runId, layer);
    const ref = referenceLayer(W0, delta, r, Math.min(k, W0.rows), eps);
    expect(got.shape).toEqual([W0.rows, W0.cols]);
    for (let i = 0; i < Math.min(got.singularValues.length, ref.sigma.length); i++) {
      if ((ref.sigma[i] as number) < 1e-4 * (ref.sigma[0] as number)) break;
      expect(Math.abs((got.singularValues[i] as number) - (ref.sigma[i] as number)) / (ref.sigma[i] as number)).toBeLessThan(sigmaTol);
    }
    expect(got.effectiveRank).toBeCloseTo(ref.effectiveRank, 4);
    expect(got.stableRank).toBeCloseTo(ref.stableRank, 6);
    expect(got.rank90).toBe(ref.rank90);
    expect(got.relativeNorm).toBeCloseTo(ref.relativeNorm, 8);
    expect(got.amplification.factor / ref.amplification).toBeCloseTo(1, 6);
    expect(got.intruders!.count).toBe(ref.count);
    got.intruders!.maxCosine.forEach((c, i) => expect(c).toBeCloseTo(ref.maxCosine[i] as number, 5));
  }
}

describe('analyzeAdapter', () => {
  it('gives a LoRA run’s spectrum, ranks, amplification and intruders as a dense recomputation does', async () => {
    const a = await lab.analyzeAdapter({ target: { kind: 'run', id: runs.r6 }, intruders: { k: 8, epsilon: 0.6 } });
    expect(a.update).toMatchObject({ runId: runs.r6, variant: 'lora', r: 6 });
    expect(a.layers.map((l) => [l.layer, l.method, l.singularValues.length])).toEqual([
      ['linear1', 'factors', 6],
      ['linear2', 'factors', 6],
    ]);
    expect(a.dataset?.classes).toHaveLength(10);
    expectLayerMatches(a, runs.r6, 8, 0.6, 1e-9);
    // The first layer's input is the 28×28 image: pictures of its directions and largest rows.
    expect(a.pictures?.layer).toBe('linear1');
    expect(a.pictures?.shape.reduce((x, y) => x * y, 1)).toBe(784);
    expect(a.pictures?.directions).toHaveLength(6);
    for (const d of a.pictures!.directions) expect(Math.hypot(...d.values)).toBeCloseTo(1, 9);
    expect(a.pictures?.directions[0]?.sigma).toBeCloseTo(a.layers[0]!.singularValues[0]!, 9);
    const row = a.pictures!.rows[0]!;
    const { delta } = dense(runs.r6, 'linear1');
    expect(row.values[5]).toBeCloseTo(delta.data[row.unit! * 784 + 5]!, 9);
  });

  it('takes a DoRA update densely (W′ − W0), to the same figures', async () => {
    const a = await lab.analyzeAdapter({ target: { kind: 'run', id: runs.dora } });
    expect(a.layers.every((l) => l.method === 'dense')).toBe(true);
    expect(a.layers[0]!.intruders).toMatchObject({ k: 10, epsilon: 0.5 }); // PEFT's defaults
    expectLayerMatches(a, runs.dora, 10, 0.5, 1e-6);
  });

  it('caches W0’s spectrum per base, and skips intruders on request', async () => {
    const first = await lab.analyzeAdapter({ target: { kind: 'run', id: runs.r2 } });
    expect(first.baseSpectrumCached).toBe(true); // the earlier analyses computed it
    const none = await lab.analyzeAdapter({ target: { kind: 'run', id: runs.r2 }, intruders: false });
    expect(none.layers.every((l) => l.intruders === null)).toBe(true);
    expect(none.layers.map((l) => l.singularValues)).toEqual(first.layers.map((l) => l.singularValues));
  });

  it('gives φ between two adapters as its definition over dense SVDs', async () => {
    const a = await lab.analyzeAdapter({ target: { kind: 'run', id: runs.r2 }, vs: { kind: 'run', id: runs.r6 }, intruders: false });
    expect(a.similarity?.other).toMatchObject({ runId: runs.r6, r: 6 });
    for (const layer of ['linear1', 'linear2']) {
      const refs = [runs.r2, runs.r6].map((id) => {
        const { delta } = dense(id, layer);
        return jacobiSvd(delta);
      }) as [Svd, Svd];
      for (const side of ['input', 'output'] as const) {
        const phi = a.similarity!.layers.find((p) => p.layer === layer && p.side === side)!.phi;
        expect([phi.length, phi[0]!.length]).toEqual([2, 6]);
        const [X, Y] = refs.map((s) => (side === 'input' ? s.V : s.U)) as [Matrix, Matrix];
        for (let i = 1; i <= 2; i++) {
          for (let j = 1; j <= 6; j++) {
            let sum = 0;
            for (let p = 0; p < i; p++) {
              for (let q = 0; q < j; q++) {
                let dot = 0;
                for (let row = 0; row < X.rows; row++) dot += (X.data[row * X.cols + p] as number) * (Y.data[row * Y.cols + q] as number);
                sum += dot * dot;
              }
            }
            expect(phi[i - 1]![j - 1]).toBeCloseTo(sum / Math.min(i, j), 8);
          }
        }
      }
    }
  });

  it('says clearly what cannot be analysed', async () => {
    await expect(lab.analyzeAdapter({ target: { kind: 'run', id: baseRun } })).rejects.toThrow(/base run: it trained a model from scratch/);
    await expect(lab.analyzeAdapter({ target: { kind: 'adapter', id: 999 } })).rejects.toMatchObject({ status: 404 });
    await expect(lab.analyzeAdapter({ target: { kind: 'run', id: runs.r2 }, vs: { kind: 'run', id: runs.r2 } })).rejects.toThrow(/same update/);
    expect(() => validateArgs('analyzeAdapter', [{ target: { kind: 'run', id: 1 }, intruders: { k: 0, epsilon: 0.5 } }])).toThrow(LabError);
    expect(() => validateArgs('analyzeAdapter', [{ target: { kind: 'run', id: 1 }, intruders: { k: 10, epsilon: 2 } }])).toThrow(/intruders/);
    expect(() => validateArgs('analyzeAdapter', [{ target: { kind: 'sweep', id: 1 } }])).toThrow(/target/);
  });
});
