/**
 * Which stored model a PEFT adapter folder in the export folder belongs to, before it is
 * imported: the model its adapter_config.json names (`base_model_name_or_path`, which
 * LoRA Lab writes as "lora-lab/model-<id>"; or a stored model of that name) when the
 * adapter's shapes fit it, else the newest model whose layer widths fit the shapes of
 * its lora_A [r, in] and lora_B [out, r] tensors. For every stored model it says why the
 * adapter does not fit, so the app can explain a mismatch instead of importing to fail.
 *
 * Cheap and on this thread: it reads the config (at most MAX_CONFIG_BYTES) and only the
 * header of adapter_model.safetensors, never the tensor data. The import itself checks
 * everything again, values included (weights/jobs.ts).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { layerNames } from '../contract/config.ts';
import { WeightsFileError, fileProblem, readFileBounded } from '../weights/bounded-read.ts';
import { MAX_CONFIG_BYTES } from '../weights/jobs.ts';
import { brief, parseJsonText } from '../weights/json-text.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../weights/peft.ts';
import type { AdapterInspection } from '../contract/api.ts';
import { checkImportEntry } from './export-folder.ts';

/** A PEFT safetensors header of a few dozen tensors is a few KB. */
const MAX_HEADER_BYTES = 1_000_000;
const KEY = /^base_model\.model\.(linear[1-9][0-9]{0,5})\.lora_([AB])\.weight$/;

export interface AdapterShape {
  r: number;
  /** Per target layer, the widths its tensors imply. */
  layers: { layer: string; in: number; out: number }[];
}

interface StoredModelLike {
  id: number;
  name: string;
  sizes: number[];
  createdAt: number;
}

/** Why an adapter of this shape does not fit a model of `sizes`, or null when it does. */
export function fitProblem(sizes: readonly number[], shape: AdapterShape): string | null {
  const names = layerNames(sizes);
  for (const l of shape.layers) {
    const i = names.indexOf(l.layer);
    if (i < 0) return `it has no layer ${l.layer} (its layers: ${names.join(', ')})`;
    const [inp, out] = [sizes[i] as number, sizes[i + 1] as number];
    if (inp !== l.in || out !== l.out) return `its ${l.layer} is ${inp} → ${out}, the adapter's is ${l.in} → ${l.out}`;
    if (shape.r > Math.min(inp, out)) return `rank ${shape.r} is more than its ${l.layer} (${inp} → ${out}) allows`;
  }
  return null;
}

/** The stored model `name` refers to: "lora-lab/model-<id>" (LoRA Lab's exports), else the newest model of that name. */
export function namedModel(name: string | null, models: readonly StoredModelLike[]): StoredModelLike | null {
  if (name === null) return null;
  const m = /^lora-lab\/model-([1-9][0-9]{0,15})$/.exec(name);
  if (m) return models.find((x) => x.id === Number(m[1])) ?? null;
  return newestFirst(models).find((x) => x.name === name) ?? null;
}

const newestFirst = (models: readonly StoredModelLike[]) => [...models].sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);

/** The inspection of an adapter already read: which stored model fits, and which to pre-select. */
export function matchBase(baseModelName: string | null, shape: AdapterShape | null, models: readonly StoredModelLike[], problem: string | null = null): AdapterInspection {
  const named = namedModel(baseModelName, models);
  const fits = newestFirst(models).map((m) => ({ modelId: m.id, mismatch: shape ? fitProblem(m.sizes, shape) : (problem ?? 'the adapter could not be read') }));
  const fitting = fits.filter((f) => f.mismatch === null).map((f) => f.modelId);
  const suggested = named && fitting.includes(named.id) ? named.id : (fitting[0] ?? null);
  return {
    baseModelName,
    namedModelId: named?.id ?? null,
    r: shape?.r ?? null,
    layers: shape?.layers ?? [],
    models: fits,
    suggestedModelId: suggested,
    problem,
  };
}

/** Inspect `fileName` (a PEFT folder in `folder`, the export folder) against the stored `models`. */
export function inspectAdapter(folder: string, fileName: string, models: readonly StoredModelLike[]): AdapterInspection {
  // The same confinement as an import: no links, pipes or devices (a LabError otherwise).
  checkImportEntry(folder, fileName, 'adapter', [PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE]);
  const dir = join(folder, fileName);
  let baseModelName: string | null = null;
  try {
    const cfg = readConfig(join(dir, PEFT_CONFIG_FILE));
    baseModelName = cfg.baseModelName;
    const shape = readShape(join(dir, PEFT_WEIGHTS_FILE), cfg.r);
    return matchBase(baseModelName, shape, models);
  } catch (err) {
    if (!(err instanceof WeightsFileError || err instanceof InspectError)) throw err;
    return matchBase(baseModelName, null, models, err.message);
  }
}

class InspectError extends Error {}

function readConfig(path: string): { r: number; baseModelName: string | null } {
  const bytes = readFileBounded(path, MAX_CONFIG_BYTES, 'an adapter config', true);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InspectError(`${PEFT_CONFIG_FILE} is not UTF-8 text`);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
    throw new InspectError(`${PEFT_CONFIG_FILE} is not a JSON object`);
  }
  const c = parsed.value as Record<string, unknown>;
  const base = c['base_model_name_or_path'];
  const baseModelName = typeof base === 'string' && base !== '' && base.length <= 500 ? base : null;
  const r = c['r'];
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new InspectError(`${PEFT_CONFIG_FILE}: r must be a positive integer, got ${brief(r)}`);
  return { r, baseModelName };
}

/** The layers and widths the lora_A / lora_B shapes in the safetensors header imply. */
function readShape(path: string, r: number): AdapterShape {
  const header = readHeader(path);
  const pairs = new Map<string, { A?: number[]; B?: number[] }>();
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const m = KEY.exec(key);
    if (!m) throw new InspectError(`${PEFT_WEIGHTS_FILE}: unexpected tensor ${brief(key)} (expected base_model.model.<layer>.lora_A.weight / lora_B.weight)`);
    const shape = (entry as { shape?: unknown } | null)?.shape;
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new InspectError(`${PEFT_WEIGHTS_FILE}: ${brief(key)} is not a 2-D matrix`);
    }
    const [, layer, which] = m as unknown as [string, string, 'A' | 'B'];
    const p = pairs.get(layer) ?? {};
    p[which] = shape as number[];
    pairs.set(layer, p);
  }
  if (pairs.size === 0) throw new InspectError(`${PEFT_WEIGHTS_FILE} holds no LoRA tensors`);
  const layers = [...pairs].map(([layer, p]) => {
    if (!p.A || !p.B) throw new InspectError(`${PEFT_WEIGHTS_FILE}: ${layer} lacks ${!p.A ? 'lora_A' : 'lora_B'}`);
    const [ra, inp] = p.A as [number, number];
    const [out, rb] = p.B as [number, number];
    if (ra !== r || rb !== r) throw new InspectError(`rank mismatch: r is ${r} in ${PEFT_CONFIG_FILE}, but ${layer}'s lora_A is [${p.A}] and lora_B [${p.B}]`);
    return { layer, in: inp, out };
  });
  layers.sort((a, b) => Number(a.layer.slice(6)) - Number(b.layer.slice(6)));
  return { r, layers };
}

/** The JSON header of a safetensors file, read without its data (no link followed, no pipe waited on). */
function readHeader(path: string): Record<string, unknown> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new WeightsFileError(`${path} is a symbolic link, which is not followed here`);
    throw fileProblem(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WeightsFileError(`${path} is not a regular file`);
    const read = (at: number, n: number): Uint8Array => {
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const k = readSync(fd, buf, got, n - got, at + got);
        if (k === 0) break;
        got += k;
      }
      if (got < n) throw new InspectError(`${PEFT_WEIGHTS_FILE} ends inside its header (truncated?)`);
      return buf;
    };
    if (st.size < 10) throw new InspectError(`${PEFT_WEIGHTS_FILE} is ${st.size} bytes, too short for a safetensors file`);
    const len = Number(Buffer.from(read(0, 8)).readBigUInt64LE(0));
    if (len < 2 || len > MAX_HEADER_BYTES || len > st.size - 8) throw new InspectError(`${PEFT_WEIGHTS_FILE} has a header length of ${len} bytes, which does not fit the ${st.size}-byte file`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(read(8, len));
    } catch (err) {
      if (err instanceof InspectError) throw err;
      throw new InspectError(`${PEFT_WEIGHTS_FILE}: the header is not valid UTF-8`);
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
      throw new InspectError(`${PEFT_WEIGHTS_FILE}: the header is not a JSON object`);
    }
    return parsed.value as Record<string, unknown>;
  } catch (err) {
    if (err instanceof InspectError || err instanceof WeightsFileError) throw err;
    throw fileProblem(path, err);
  } finally {
    closeSync(fd);
  }
}
