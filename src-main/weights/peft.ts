/**
 * Adapters in the Hugging Face PEFT layout: a folder with `adapter_config.json` (a
 * `LoraConfig`) and `adapter_model.safetensors` holding, per target module,
 * `base_model.model.<layer>.lora_A.weight` [r, in] and `….lora_B.weight` [out, r],
 * and for DoRA (`use_dora: true`) `….lora_magnitude_vector` [out] — the keys PEFT's
 * `save_pretrained` writes for a model without a task type (the adapter name is stripped). PEFT recomputes scaling from the config (`lora_alpha / r`,
 * or `lora_alpha / √r` with `use_rslora`), so an adapter whose stored scaling
 * disagrees with its alpha and r is refused rather than exported wrong.
 * Pure functions: the caller writes and reads the two files.
 */
import type { AdapterInfo } from '../contract/protocol.ts';
import type { HostTensor, NamedTensors } from '../contract/named.ts';
import { MAX_SCALING, checkFinite } from './finite.ts';
import { brief, parseJsonText, utf8Offset } from './json-text.ts';
import { SafetensorsError, readSafetensors, writeSafetensors, type SafetensorsReadOptions } from './safetensors.ts';

export class PeftError extends Error {
  override name = 'PeftError';
}

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';
const LAYER = /^linear[1-9][0-9]{0,5}$/;
const KEY = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;
/** DoRA's magnitude, as PEFT's save_pretrained writes it (adapter name and `.weight` stripped). */
const MAGNITUDE_KEY = /^base_model\.model\.(.+)\.lora_magnitude_vector$/;
/** LoRA Lab's provenance in the safetensors metadata (PEFT ignores keys it does not know). */
const INIT_META = 'lora_lab_init';
const FREEZE_A_META = 'lora_lab_freeze_a';

/** The adapter_config.json LoRA Lab writes (field names and values as PEFT's LoraConfig). */
export interface PeftAdapterConfig {
  peft_type: 'LORA';
  task_type: null;
  base_model_name_or_path: string;
  inference_mode: true;
  r: number;
  lora_alpha: number;
  target_modules: string[];
  use_rslora: boolean;
  /**
   * PEFT's default (true) is Kaiming-uniform A; "gaussian" is N(0, 1/r). A PiSSA/OLoRA
   * adapter is written converted to the original base, which PEFT marks `true` too
   * (writing "pissa" would make PEFT re-initialise and rewrite the base on load).
   */
  init_lora_weights: true | 'gaussian';
  bias: 'none';
  lora_dropout: 0;
  fan_in_fan_out: false;
  modules_to_save: null;
  use_dora: boolean;
  rank_pattern: Record<string, never>;
  alpha_pattern: Record<string, never>;
}

export interface PeftFiles {
  config: PeftAdapterConfig;
  safetensors: Uint8Array;
}

const layerIndex = (name: string) => Number(name.slice('linear'.length));
const byLayer = (a: string, b: string) => layerIndex(a) - layerIndex(b);

export function expectedScaling(r: number, alpha: number, rule: AdapterInfo['scalingRule']): number {
  return rule === 'rslora' ? alpha / Math.sqrt(r) : alpha / r;
}

/** adapter: `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r] for every target. */
/** `extra`: more safetensors metadata (LoRA Lab's data set and class names); PEFT ignores keys it does not know. */
export function peftFiles(adapter: NamedTensors, info: AdapterInfo, baseName: string, extra: Record<string, string> = {}): PeftFiles {
  if (!Number.isInteger(info.r) || info.r < 1) throw new PeftError(`rank r must be a positive integer, got ${info.r}`);
  if (!(Number.isFinite(info.alpha) && info.alpha > 0)) throw new PeftError(`lora_alpha must be a positive number, got ${info.alpha}`);
  const want = expectedScaling(info.r, info.alpha, info.scalingRule);
  if (Math.abs(info.scaling - want) > 1e-6 * Math.abs(want)) {
    throw new PeftError(`scaling ${info.scaling} does not follow from alpha ${info.alpha} and r ${info.r} (${info.scalingRule}: ${want}); PEFT would load it differently`);
  }
  if (info.targets.length === 0) throw new PeftError('the adapter has no target modules');
  const out: NamedTensors = {};
  for (const layer of info.targets) {
    if (!LAYER.test(layer)) throw new PeftError(`target module ${brief(layer)} is not a linearN layer`);
    const a = adapter[`${layer}.lora_A`];
    const b = adapter[`${layer}.lora_B`];
    if (!a || !b) throw new PeftError(`target ${layer} lacks ${!a ? 'lora_A' : 'lora_B'}`);
    checkPair(layer, a, b, info.r);
    out[`${PREFIX}${layer}.lora_A.weight`] = a; // [r, in]
    out[`${PREFIX}${layer}.lora_B.weight`] = b; // [out, r]
    const m = adapter[`${layer}.lora_magnitude_vector`];
    if (info.variant === 'dora') {
      if (!m) throw new PeftError(`DoRA target ${layer} lacks its lora_magnitude_vector`);
      if (m.shape.length !== 1 || m.shape[0] !== b.shape[0]) throw new PeftError(`${layer}.lora_magnitude_vector has shape [${m.shape}], expected [${b.shape[0]}]`);
      out[`${PREFIX}${layer}.lora_magnitude_vector`] = m; // [out]
    } else if (m) throw new PeftError(`${layer} has a lora_magnitude_vector but the adapter is not DoRA`);
  }
  const config: PeftAdapterConfig = {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: baseName,
    inference_mode: true,
    r: info.r,
    lora_alpha: info.alpha,
    target_modules: [...info.targets].sort(byLayer),
    use_rslora: info.scalingRule === 'rslora',
    init_lora_weights: info.init === 'gaussian' ? 'gaussian' : true,
    bias: 'none',
    lora_dropout: 0,
    fan_in_fan_out: false,
    modules_to_save: null,
    use_dora: info.variant === 'dora',
    rank_pattern: {},
    alpha_pattern: {},
  };
  // PEFT's save_pretrained writes the same metadata; LoRA Lab's provenance rides beside it.
  const provenance = { [INIT_META]: info.init, [FREEZE_A_META]: String(info.freezeA) };
  return { config, safetensors: writeSafetensors(out, { ...extra, ...provenance, format: 'pt' }) };
}

function checkPair(layer: string, a: HostTensor, b: HostTensor, r: number): void {
  if (a.shape.length !== 2) throw new PeftError(`${layer}.lora_A must be 2-D [r, in], has shape [${a.shape}]`);
  if (b.shape.length !== 2) throw new PeftError(`${layer}.lora_B must be 2-D [out, r], has shape [${b.shape}]`);
  if (a.shape[0] !== r) throw new PeftError(`rank mismatch: r is ${r} but ${layer}.lora_A has shape [${a.shape}] (expected [${r}, in])`);
  if (b.shape[1] !== r) throw new PeftError(`rank mismatch: r is ${r} but ${layer}.lora_B has shape [${b.shape}] (expected [out, ${r}])`);
}

export interface ParsedPeft {
  info: AdapterInfo;
  /** `<layer>.lora_A` [r, in], `<layer>.lora_B` [out, r] (and DoRA's `<layer>.lora_magnitude_vector` [out]). */
  tensors: NamedTensors;
  /** `base_model_name_or_path`, when the config names one. */
  baseModel: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isEmpty = (v: unknown) => v === undefined || v === null || (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);

/**
 * Read a PEFT LoRA or DoRA adapter back (`linearN` layers). Per-layer rank/alpha
 * patterns, trained biases, extra saved modules and initialisations whose base is not
 * in the folder (unconverted PiSSA, OLoRA, LoftQ …) are refused by name.
 */
export function parsePeft(configJson: unknown, safetensorsBytes: Uint8Array, opts: SafetensorsReadOptions = {}): ParsedPeft {
  let cfg = configJson;
  if (typeof cfg === 'string') {
    // By position only: the parser's own message would quote the file.
    const parsed = parseJsonText(cfg);
    if (!parsed.ok) throw new PeftError(`${PEFT_CONFIG_FILE} is not valid JSON (at byte ${utf8Offset(cfg, parsed.at)})`);
    cfg = parsed.value;
  }
  if (!isObject(cfg)) throw new PeftError(`${PEFT_CONFIG_FILE} must be a JSON object`);
  const c = cfg;
  if (c['peft_type'] !== 'LORA') throw new PeftError(`peft_type ${brief(c['peft_type'])} is not supported (only "LORA")`);
  const r = c['r'];
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new PeftError(`r must be a positive integer, got ${brief(r)}`);
  const alpha = c['lora_alpha'];
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw new PeftError(`lora_alpha must be a positive number, got ${brief(alpha)}`);
  const rslora = c['use_rslora'] ?? false;
  if (typeof rslora !== 'boolean') throw new PeftError(`use_rslora must be true or false, got ${brief(rslora)}`);
  const scaling = expectedScaling(r, alpha, rslora ? 'rslora' : 'standard');
  // alpha 1e308 is a finite number, but scaling × B·A then leaves float32 in any merge.
  if (!(scaling <= MAX_SCALING)) {
    throw new PeftError(`lora_alpha ${alpha} with r ${r} gives a scaling of ${scaling.toPrecision(3)}, more than ${MAX_SCALING.toLocaleString('en-US')}: not a usable adapter`);
  }
  const dora = c['use_dora'] ?? false;
  if (typeof dora !== 'boolean') throw new PeftError(`use_dora must be true or false, got ${brief(dora)}`);
  if ((c['bias'] ?? 'none') !== 'none') throw new PeftError(`bias ${brief(c['bias'])} trains biases too; only bias "none" is supported`);
  if (c['fan_in_fan_out'] === true) throw new PeftError('fan_in_fan_out: true (Conv1D layout) is not supported');
  for (const k of ['rank_pattern', 'alpha_pattern', 'modules_to_save', 'layers_to_transform']) {
    if (!isEmpty(c[k])) throw new PeftError(`${k} is set; LoRA Lab supports one rank and alpha for all layers and no extra modules`);
  }
  const init = c['init_lora_weights'] ?? true;
  // false (B not zeroed) only changes how training starts, not what the adapter means.
  if (typeof init === 'string' && /^(pissa|olora)/.test(init)) {
    throw new PeftError(
      `init_lora_weights ${brief(init)}: this adapter trained against a rewritten base (the residual of ${init.startsWith('olora') ? 'QR' : 'SVD'}), which the folder does not hold; ` +
        'save it from PEFT converted to the original base (save_pretrained with path_initial_model_for_weight_conversion), then import that',
    );
  }
  if (init !== true && init !== false && init !== 'gaussian') {
    throw new PeftError(`init_lora_weights ${brief(init)} is not supported (true, false or "gaussian"; LoftQ, EVA and other inits change or need more than the adapter)`);
  }

  let file;
  try {
    file = readSafetensors(safetensorsBytes, opts);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new PeftError(`${PEFT_WEIGHTS_FILE}: ${err.message}`);
    throw err;
  }
  try {
    checkFinite(file.tensors, PEFT_WEIGHTS_FILE);
  } catch (err) {
    throw new PeftError((err as Error).message);
  }
  const pairs = new Map<string, { A?: HostTensor; B?: HostTensor }>();
  const magnitudes = new Map<string, HostTensor>();
  for (const [key, t] of Object.entries(file.tensors)) {
    const mag = MAGNITUDE_KEY.exec(key);
    if (mag) {
      if (!dora) throw new PeftError(`${PEFT_WEIGHTS_FILE} holds DoRA magnitudes (${brief(key)}) but use_dora is not true`);
      magnitudes.set(mag[1] as string, t);
      continue;
    }
    const m = KEY.exec(key);
    if (!m) throw new PeftError(`${PEFT_WEIGHTS_FILE}: unexpected tensor ${brief(key)} (expected base_model.model.<layer>.lora_A.weight / lora_B.weight)`);
    const [, layer, which] = m as unknown as [string, string, 'A' | 'B'];
    if (!LAYER.test(layer)) throw new PeftError(`${PEFT_WEIGHTS_FILE}: module ${brief(layer)} is not a linearN layer`);
    const p = pairs.get(layer) ?? {};
    p[which] = t;
    pairs.set(layer, p);
  }
  const targets = readTargets(c['target_modules'], [...pairs.keys()]);
  const tensors: NamedTensors = {};
  for (const layer of targets) {
    const p = pairs.get(layer);
    if (!p?.A || !p.B) throw new PeftError(`target module ${layer} lacks ${!p?.A ? 'lora_A' : 'lora_B'} in ${PEFT_WEIGHTS_FILE}`);
    checkPair(layer, p.A, p.B, r);
    tensors[`${layer}.lora_A`] = p.A;
    tensors[`${layer}.lora_B`] = p.B;
    if (dora) {
      const m = magnitudes.get(layer);
      if (!m) throw new PeftError(`use_dora is true but ${PEFT_WEIGHTS_FILE} has no lora_magnitude_vector for ${layer}`);
      if (m.shape.length !== 1 || m.shape[0] !== p.B.shape[0]) throw new PeftError(`${layer}.lora_magnitude_vector has shape [${m.shape}], expected [${p.B.shape[0]}] (one per output)`);
      tensors[`${layer}.lora_magnitude_vector`] = m;
    }
  }
  for (const layer of magnitudes.keys()) {
    if (!targets.includes(layer)) throw new PeftError(`${PEFT_WEIGHTS_FILE} holds a magnitude for ${layer}, which target_modules does not list`);
  }
  for (const layer of pairs.keys()) {
    if (!targets.includes(layer)) throw new PeftError(`${PEFT_WEIGHTS_FILE} holds weights for ${layer}, which target_modules does not list`);
  }
  const scalingRule = rslora ? 'rslora' : 'standard';
  // Provenance LoRA Lab wrote (a converted PiSSA/OLoRA adapter says true in the config).
  const meta = file.metadata[INIT_META];
  const recorded = meta === 'pissa' || meta === 'olora' || meta === 'kaiming' || meta === 'gaussian' ? meta : null;
  const info: AdapterInfo = {
    r,
    alpha,
    scaling,
    scalingRule,
    targets,
    init: recorded ?? (init === 'gaussian' ? 'gaussian' : 'kaiming'),
    variant: dora ? 'dora' : 'lora',
    freezeA: file.metadata[FREEZE_A_META] === 'true',
  };
  const base = c['base_model_name_or_path'];
  return { info, tensors, baseModel: typeof base === 'string' && base !== '' ? base : null };
}

/** target_modules as a list of linearN names, a single name, or PEFT's "all-linear". */
function readTargets(raw: unknown, present: string[]): string[] {
  let names: unknown[];
  if (raw === 'all-linear') names = present;
  else if (typeof raw === 'string') names = [raw];
  else if (Array.isArray(raw)) names = raw;
  else throw new PeftError(`target_modules must be a list of layer names, got ${brief(raw)}`);
  if (names.length === 0) throw new PeftError('target_modules is empty');
  for (const n of names) {
    if (typeof n !== 'string' || !LAYER.test(n)) {
      throw new PeftError(`target module ${brief(n)} is not a linearN layer of LoRA Lab's MLP (regular expressions are not supported)`);
    }
  }
  const unique = [...new Set(names as string[])];
  if (unique.length !== names.length) throw new PeftError('target_modules lists a layer twice');
  return unique.sort(byLayer);
}
