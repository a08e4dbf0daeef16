/**
 * Low-rank adapters on the MLP's layers (the LoRA paper, PEFT's names):
 *   h = x·W0 + b + scaling · (x·A)·B,   A [in, r], B [r, out] inside the trainer,
 * B = 0 at start so the adapted model equals the base. The base is frozen while an
 * adapter is attached. Merge folds ΔW = scaling·A·B into W0; unmerge takes it out.
 */
import { type NamedTensors, getTensor, hostTensor, transpose2d } from '../contract/named.ts';
import { Rng, normalArray, uniformArray } from '../util/rng.ts';
import { type LoraConfig, loraIssues, loraScaling, ConfigError } from '../contract/config.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import type { Mlp } from './mlp.ts';
import { ownedVariable, tf } from './tf.ts';

/** Attach fresh adapters to `cfg.targets`; the base layers become non-trainable. */
export function attachLora(model: Mlp, cfg: LoraConfig, rng: Rng): void {
  const issues = loraIssues(cfg, model.sizes);
  if (issues.length) throw new ConfigError(issues);
  model.scaling = loraScaling(cfg);
  for (const l of model.layers) {
    l.W.trainable = false;
    l.b.trainable = false;
    if (!cfg.targets.includes(l.name)) continue;
    // Drawn as PEFT's lora_A [r, in], then laid out [in, r].
    // kaiming: kaiming_uniform_(a=√5) → U(−1/√in, 1/√in); gaussian: N(0, 1/r).
    const aRin =
      cfg.init === 'kaiming' ? uniformArray(rng, cfg.r * l.inF, 1 / Math.sqrt(l.inF)) : normalArray(rng, cfg.r * l.inF, 1 / cfg.r);
    l.A = ownedVariable(tf.tensor2d(transpose2d(aRin, cfg.r, l.inF), [l.inF, cfg.r]), true, `${model.variablePrefix}/${l.name}.lora_A`);
    l.B = ownedVariable(tf.zeros([cfg.r, l.outF]), true, `${model.variablePrefix}/${l.name}.lora_B`);
  }
}

/** Load a stored adapter (PEFT orientation: `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r]). */
export function loadLora(model: Mlp, info: Pick<AdapterInfo, 'targets' | 'scaling'>, tensors: NamedTensors, trainable = false): void {
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
    l.A = ownedVariable(tf.tensor2d(transpose2d(a.data, r, l.inF), [l.inF, r]), trainable, `${model.variablePrefix}/${l.name}.lora_A`);
    l.B = ownedVariable(tf.tensor2d(transpose2d(b.data, l.outF, r), [r, l.outF]), trainable, `${model.variablePrefix}/${l.name}.lora_B`);
  }
}

function foldDelta(model: Mlp, sign: 1 | -1): void {
  for (const l of model.layers) {
    if (!l.A || !l.B) continue;
    const { A, B } = l;
    tf.tidy(() => l.W.assign(tf.add(l.W, tf.mul(tf.matMul(A, B), sign * model.scaling)))); // [in, out]
  }
}

/** W ← W0 + scaling·A·B on every adapted layer. */
export function mergeLora(model: Mlp): void {
  if (model.merged) throw new Error('the adapter is already merged');
  foldDelta(model, 1);
  model.merged = true;
}

/** W ← W − scaling·A·B: the inverse of mergeLora (exact up to float rounding). */
export function unmergeLora(model: Mlp): void {
  if (!model.merged) throw new Error('the adapter is not merged');
  foldDelta(model, -1);
  model.merged = false;
}

/** The adapter's tensors in PEFT orientation: `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r]. */
export async function loraToNamed(model: Mlp): Promise<NamedTensors> {
  const out: NamedTensors = {};
  for (const l of model.layers) {
    if (!l.A || !l.B) continue;
    const r = l.A.shape[1];
    const a = (await l.A.data()) as Float32Array; // [in, r]
    const b = (await l.B.data()) as Float32Array; // [r, out]
    out[`${l.name}.lora_A`] = hostTensor([r, l.inF], transpose2d(a, l.inF, r));
    out[`${l.name}.lora_B`] = hostTensor([l.outF, r], transpose2d(b, r, l.outF));
  }
  return out;
}

export function adapterInfo(cfg: LoraConfig): AdapterInfo {
  return { r: cfg.r, alpha: cfg.alpha, scaling: loraScaling(cfg), scalingRule: cfg.scaling, targets: [...cfg.targets], init: cfg.init };
}
