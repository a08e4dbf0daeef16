/**
 * What `lora-lab import PATH` was given, sniffed from the path before anything is read
 * in full: a base model (safetensors), a PEFT adapter (its folder or adapter_config.json),
 * or something else — then the message says what the file is and what would import it,
 * instead of asking for a --base that would not help.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { kindOf } from '../lab/export-folder.ts';
import { UsageError } from './options.ts';

const HEAD = 64 * 1024;
const TAKES = 'lora-lab import takes a .safetensors file of base weights, or a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) with --base MODEL';

function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD);
    return buf.subarray(0, readSync(fd, buf, 0, HEAD, 0));
  } finally {
    closeSync(fd);
  }
}

/** Tensor names of a safetensors header that fits in the first bytes (else null). */
function tensorNames(h: Buffer): string[] | null {
  if (h.length < 8) return null;
  const n = Number(h.readBigUInt64LE(0));
  if (8 + n > h.length) return null;
  try {
    return Object.keys(JSON.parse(h.subarray(8, 8 + n).toString('utf8')) as object).filter((k) => k !== '__metadata__');
  } catch {
    return null;
  }
}

/** Whether PATH is a model or an adapter; a UsageError saying what it is otherwise. */
export function importKind(path: string, shown: string): 'model' | 'adapter' {
  if (!existsSync(path)) throw new UsageError(`${shown} does not exist`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'adapter_config.json'))) return 'adapter';
    if (existsSync(join(path, 'model.json'))) throw new UsageError(`${shown} is a TF.js model folder (model.json), which LoRA Lab exports but does not import; import the model's safetensors instead (lora-lab export MODEL --format safetensors writes one)`);
    throw new UsageError(`${shown} is a folder without an adapter_config.json, so not a PEFT adapter; ${TAKES}`);
  }
  const h = head(path);
  const kind = kindOf(h, statSync(path).size);
  const name = basename(path);
  if (kind === 'safetensors' || /\.safetensors$/i.test(name)) {
    const names = tensorNames(h);
    if (names?.some((k) => /lora_[AB]\b/.test(k))) {
      throw new UsageError(`${shown} holds a LoRA adapter's weights (lora_A/lora_B tensors), not a base model: import its PEFT folder instead (adapter_config.json + adapter_model.safetensors; lora-lab export ADAPTER --format peft writes one): lora-lab import FOLDER --base MODEL`);
    }
    return 'model';
  }
  if (kind === 'JSON') {
    const text = h.toString('utf8');
    if (name === 'adapter_config.json' || /"peft_type"\s*:/.test(text)) return 'adapter';
    if (/"format"\s*:\s*"layers-model"|"modelTopology"\s*:/.test(text)) {
      throw new UsageError(`${shown} is a TF.js model (model.json), which LoRA Lab exports but does not import; import the model's safetensors instead (lora-lab export MODEL --format safetensors writes one)`);
    }
    if (/^\s*\{\s*"runs"\s*:/.test(text)) {
      throw new UsageError(`${shown} is a LoRA Lab run export (lora-lab export RUN --format json): configs, metrics and evaluations, no weights, so there is nothing to import; ${TAKES}`);
    }
    throw new UsageError(`${shown} is a JSON file that is neither a PEFT adapter_config.json nor weights; ${TAKES}`);
  }
  if (kind === 'CSV') throw new UsageError(`${shown} is a CSV file (like lora-lab export --format csv writes: parameters and metrics, no weights), so there is nothing to import; ${TAKES}`);
  if (name === 'weights.bin') throw new UsageError(`${shown} is the weights of a TF.js model, which LoRA Lab exports but does not import; import the model's safetensors instead`);
  throw new UsageError(`${shown} is neither a safetensors file nor a PEFT adapter; ${TAKES}`);
}
