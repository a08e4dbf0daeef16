/**
 * Low-rank adapters on the MLP's layers (the LoRA paper, PEFT's names):
 *   h = x·W0 + b + s·(x·A)·B,   A [in, r], B [r, out] inside the trainer,
 * and the variants (docs/math.md, LoRA variants): DoRA's magnitude (variants.ts),
 * PiSSA / OLoRA's start from the base weight, LoRA-FA's frozen A. The base is frozen
 * while an adapter is attached; `model.merged` says whether it is folded into W.
 */
import { type NamedTensors, getTensor, hostTensor, transpose2d } from '../contract/named.ts';
import { Rng, normalArray, uniformArray } from '../util/rng.ts';
import { type LoraConfig, loraIssues, loraScaling, ConfigError } from '../contract/config.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { type Factors, deltaWeight } from '../adapters/delta.ts';
import { EXACT_SIDE, convertedAlpha, hostOperator, loraFaProjection, oloraFactors, pissaFactors, toOriginalBase } from '../adapters/init.ts';
import { type LinearOperator, type Matrix, matrix } from '../weights/linalg.ts';
import { frozenTranspose, releaseFrozenTranspose } from './linear.ts';
import type { Layer, Mlp } from './mlp.ts';
import { tfOps } from './tf-ops.ts';
import { type AdaptedLayer, doraVariant, variantOf } from './variants.ts';
import { ownedVariable, tf } from './tf.ts';

const f32 = (m: Matrix) => Float32Array.from(m.data);
/** A trainer matrix [rows, cols] (held transposed) as a PyTorch-orientation float64 Matrix [cols, rows]. */
const hostOf = (t: tf.Tensor2D): Matrix => {
  const [rows, cols] = t.shape;
  return matrix(cols, rows, transpose2d(t.dataSync() as Float32Array, rows, cols));
};

/**
 * Speed: W0 for PiSSA's subspace iteration, multiplied on the TF.js backend (float32,
 * XNNPACK on wasm) instead of in float64 JavaScript — ~30 products of [2000, 1000] by
 * [1000, 11] for the classic MLP; the orthonormalisations and the small SVD stay float64.
 */
function backendOperator(l: Layer): LinearOperator {
  const run = (w: tf.Tensor2D, x: Matrix): Matrix => {
    const y = tf.tidy(() => tf.matMul(w, tf.tensor2d(Float32Array.from(x.data), [x.rows, x.cols]))); // [rows, l]
    const out = matrix(w.shape[0], x.cols, y.dataSync());
    y.dispose();
    return out;
  };
  // W0 = Wᵀ, kept once (linear.ts's cache of a frozen W's transpose): a transposed operand costs 2× here.
  return { rows: l.outF, cols: l.inF, mul: (x) => run(frozenTranspose(l), x), mulT: (y) => run(l.W, y) };
}

/**
 * PiSSA's factors: a small layer exactly, in float64 on the host; a large one by
 * subspace iteration with its products on the backend, to what float32 products allow
 * (PISSA_FLOAT32_TOLERANCE, the triplets' residual relative to σ_1).
 */
const PISSA_FLOAT32_TOLERANCE = 2e-5;
function pissa(l: Layer, r: number, scaling: number, rng: Rng): Factors<Matrix> {
  if (Math.min(l.inF, l.outF) <= EXACT_SIDE) return pissaFactors(hostOperator(hostOf(l.W)), r, scaling, rng);
  return pissaFactors(backendOperator(l), r, scaling, rng, PISSA_FLOAT32_TOLERANCE);
}

/** A0 [r, in] and B0 [out, r] for `cfg.init`, in PyTorch orientation; PiSSA/OLoRA also replace W by the residual. */
function initialFactors(l: Layer, cfg: LoraConfig, scaling: number, rng: Rng): Factors<Matrix> {
  const { r } = cfg;
  if (cfg.init === 'kaiming' || cfg.init === 'gaussian') {
    // kaiming: kaiming_uniform_(a=√5) → U(−1/√in, 1/√in); gaussian: N(0, 1/r). B = 0.
    const a = cfg.init === 'kaiming' ? uniformArray(rng, r * l.inF, 1 / Math.sqrt(l.inF)) : normalArray(rng, r * l.inF, 1 / r);
    return { A: matrix(r, l.inF, a), B: matrix(l.outF, r) };
  }
  const W0 = backendOperator(l); // [out, in], multiplied on the backend
  // W0's first r columns are W's first r rows (W is held [in, out]).
  const first = () => {
    const rows = tf.slice(l.W, [0, 0], [r, l.outF]) as tf.Tensor2D; // [r, out]
    const out = hostOf(rows);
    rows.dispose();
    return out;
  };
  const f = cfg.init === 'pissa' ? pissa(l, r, scaling, rng) : oloraFactors(first(), W0);
  // Float32 factors first, so the residual is taken against exactly what trains.
  const A = matrix(r, l.inF, f32(f.A));
  const B = matrix(l.outF, r, f32(f.B));
  tf.tidy(() => {
    const held = { A: tf.tensor2d(transpose2d(f32(A), r, l.inF), [l.inF, r]), B: tf.tensor2d(transpose2d(f32(B), l.outF, r), [r, l.outF]) };
    l.W.assign(tfOps.add(l.W, deltaWeight(tfOps, held, -scaling)) as tf.Tensor2D); // W0 − s·B0·A0
  });
  releaseFrozenTranspose(l); // W0's, not the residual's
  return { A, B };
}

/** Attach fresh adapters to `cfg.targets`; the base layers become non-trainable. */
export function attachLora(model: Mlp, cfg: LoraConfig, rng: Rng): void {
  const issues = loraIssues(cfg, model.sizes);
  if (issues.length) throw new ConfigError(issues);
  model.scaling = loraScaling(cfg);
  for (const l of model.layers) {
    l.W.trainable = false;
    l.b.trainable = false;
    if (!cfg.targets.includes(l.name)) continue;
    const f = initialFactors(l, cfg, model.scaling, rng);
    if (cfg.init === 'pissa' || cfg.init === 'olora') l.initial = f;
    setFactors(model, l, f, { A: !cfg.freezeA, B: true });
    if (cfg.variant === 'dora') doraVariant.init(l as AdaptedLayer, model.scaling, `${model.variablePrefix}/${l.name}.lora_magnitude_vector`);
    if (cfg.freezeA) l.faProjection = tf.tensor2d(f32(loraFaProjection(f.A, model.scaling)), [cfg.r, cfg.r]);
  }
}

/** A [r, in] and B [out, r] (PyTorch orientation) into the layer's variables, laid out [in, r] and [r, out]. */
function setFactors(model: Mlp, l: Layer, f: Factors<Matrix>, trainable: { A: boolean; B: boolean }): void {
  const r = f.A.rows;
  l.A = ownedVariable(tf.tensor2d(transpose2d(f32(f.A), r, l.inF), [l.inF, r]), trainable.A, `${model.variablePrefix}/${l.name}.lora_A`);
  l.B = ownedVariable(tf.tensor2d(transpose2d(f32(f.B), l.outF, r), [r, l.outF]), trainable.B, `${model.variablePrefix}/${l.name}.lora_B`);
}

/** Load a stored adapter (PEFT orientation: `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r], DoRA's `<layer>.lora_magnitude_vector` [out]). */
export function loadLora(model: Mlp, info: Pick<AdapterInfo, 'targets' | 'scaling' | 'variant'>, tensors: NamedTensors, trainable = false): void {
  model.scaling = info.scaling;
  for (const l of model.layers) {
    l.W.trainable = false;
    l.b.trainable = false;
    if (!info.targets.includes(l.name)) continue;
    const a = getTensor(tensors, `${l.name}.lora_A`);
    const b = getTensor(tensors, `${l.name}.lora_B`);
    const r = a.shape[0] as number;
    if (a.shape.join() !== `${r},${l.inF}`) throw new Error(`${l.name}.lora_A has shape [${a.shape}], expected [r, ${l.inF}]`);
    if (b.shape.join() !== `${l.outF},${r}`) throw new Error(`${l.name}.lora_B has shape [${b.shape}], expected [${l.outF}, ${r}]`);
    setFactors(model, l, { A: matrix(r, l.inF, a.data), B: matrix(l.outF, r, b.data) }, { A: trainable, B: trainable });
    if (info.variant === 'dora') {
      const m = getTensor(tensors, `${l.name}.lora_magnitude_vector`);
      if (m.shape.join() !== `${l.outF}`) throw new Error(`${l.name}.lora_magnitude_vector has shape [${m.shape}], expected [${l.outF}]`);
      l.m = ownedVariable(tf.tensor1d(m.data), trainable, `${model.variablePrefix}/${l.name}.lora_magnitude_vector`);
    }
  }
}

const adapted = (model: Mlp) => model.layers.filter((l): l is AdaptedLayer => l.A !== null && l.B !== null);

/** Fold every adapter into its W (LoRA: W0 + ΔW; DoRA: m ⊙ (W0 + ΔW) / ‖W0 + ΔW‖). */
export function mergeLora(model: Mlp): void {
  if (model.merged) throw new Error('the adapter is already merged');
  for (const l of adapted(model)) variantOf(l).merge(l, model.scaling);
  model.merged = true;
}

/** The inverse of mergeLora (exact up to float rounding). */
export function unmergeLora(model: Mlp): void {
  if (!model.merged) throw new Error('the adapter is not merged');
  for (const l of adapted(model)) variantOf(l).unmerge(l, model.scaling);
  model.merged = false;
}

/**
 * LoRA-FA (PEFT's LoraFAOptimizer): B's gradient g_B [out, r] becomes g_B·P. Here B is
 * held as Bᵀ [r, out], so its gradient is g_Bᵀ and the projection is Pᵀ·g_Bᵀ. In place on `grads`.
 */
export function projectLoraFaGradients(model: Mlp, grads: tf.NamedTensorMap): void {
  for (const l of model.layers) {
    if (!l.faProjection || !l.B) continue;
    const g = grads[l.B.name];
    if (!g) continue;
    grads[l.B.name] = tf.matMul(l.faProjection, g as tf.Tensor2D, true, false); // [r, out]
    g.dispose();
  }
}

/** The adapter as trained, in PyTorch orientation: A, B, DoRA's m and the frozen W it trained against (tests). */
export async function trainingState(model: Mlp): Promise<NamedTensors> {
  const out: NamedTensors = {};
  for (const l of adapted(model)) {
    const r = l.A.shape[1];
    out[`${l.name}.lora_A`] = hostTensor([r, l.inF], transpose2d((await l.A.data()) as Float32Array, l.inF, r));
    out[`${l.name}.lora_B`] = hostTensor([l.outF, r], transpose2d((await l.B.data()) as Float32Array, r, l.outF));
    if (l.m) out[`${l.name}.lora_magnitude_vector`] = hostTensor([l.outF], ((await l.m.data()) as Float32Array).slice());
    out[`${l.name}.weight`] = hostTensor([l.outF, l.inF], transpose2d((await l.W.data()) as Float32Array, l.inF, l.outF));
  }
  return out;
}

/**
 * The adapter to store, relative to the base the user chose: `<layer>.lora_A` [r, in],
 * `<layer>.lora_B` [out, r] (rank 2r for PiSSA/OLoRA, PEFT's conversion) and DoRA's
 * `<layer>.lora_magnitude_vector` [out].
 */
export async function loraToNamed(model: Mlp): Promise<NamedTensors> {
  const state = await trainingState(model);
  const out: NamedTensors = {};
  for (const l of adapted(model)) {
    const a = state[`${l.name}.lora_A`]!;
    const b = state[`${l.name}.lora_B`]!;
    if (l.initial) {
      const r = a.shape[0] as number;
      const f = toOriginalBase({ A: matrix(r, l.inF, a.data), B: matrix(l.outF, r, b.data) }, l.initial);
      out[`${l.name}.lora_A`] = hostTensor([2 * r, l.inF], f32(f.A));
      out[`${l.name}.lora_B`] = hostTensor([l.outF, 2 * r], f32(f.B));
    } else {
      out[`${l.name}.lora_A`] = a;
      out[`${l.name}.lora_B`] = b;
    }
    const m = state[`${l.name}.lora_magnitude_vector`];
    if (m) out[`${l.name}.lora_magnitude_vector`] = m;
  }
  return out;
}

/** What the stored adapter (loraToNamed) needs to be applied: a converted PiSSA/OLoRA one has rank 2r at the same scaling. */
export function adapterInfo(cfg: LoraConfig): AdapterInfo {
  const converted = cfg.init === 'pissa' || cfg.init === 'olora';
  return {
    r: converted ? 2 * cfg.r : cfg.r,
    alpha: converted ? convertedAlpha(cfg.alpha, cfg.scaling) : cfg.alpha,
    scaling: loraScaling(cfg),
    scalingRule: cfg.scaling,
    targets: [...cfg.targets],
    init: cfg.init,
    variant: cfg.variant,
    freezeA: cfg.freezeA,
  };
}
