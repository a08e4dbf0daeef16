/**
 * The heavy half of importing, merging and analysing, as plain functions of plain data: read and
 * check a file, or compute a merge or an analysis, and return the result. worker.ts runs them on a
 * worker thread (worker-client.ts) so the main process's event loop stays free for
 * requests and trainer heartbeats while a 280 MB file is parsed or a merge of big
 * models is computed; only the SQLite write stays on the main thread.
 */
import { lstatSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { layerNames } from '../contract/config.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { mlpSizes } from './architecture.ts';
import { type AnalyzeJob, type AnalyzeResult, analyzeJob } from './analyze-job.ts';
import { WeightsFileError, fileProblem, readFileBounded } from './bounded-read.ts';
import { checkFinite } from './finite.ts';
import { parseJsonText, utf8Offset } from './json-text.ts';
import { type MergeOptions, type WeightedAdapter, checkAdapterFits, checkMergeResult, combineDeltas, combineToAdapter, mergeIntoBase } from './merge.ts';
import type { NamedTensors } from '../contract/named.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, PeftError, parsePeft } from './peft.ts';
import { SAFETENSORS_DEFAULTS, SafetensorsError, readSafetensors } from './safetensors.ts';

/** An adapter_config.json is a few hundred bytes; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1_000_000;
export const MAX_WEIGHTS_BYTES = SAFETENSORS_DEFAULTS.maxTotalBytes;

export class ImportError extends Error {
  override name = 'ImportError';
}

export type WeightsJob =
  // noFollow: a link at any file read is refused, not followed (imports through the API,
  // confined to the export folder: a link swapped in after the Lab's check stays refused).
  | { kind: 'import-model'; path: string; noFollow?: boolean }
  | { kind: 'import-adapter'; path: string; baseSizes: number[]; noFollow?: boolean }
  | { kind: 'merge'; output: 'model' | 'adapter'; sizes: number[]; base: NamedTensors; baseLabel: string; adapters: WeightedAdapter[]; options: MergeOptions }
  | AnalyzeJob;

export interface ImportedModel {
  kind: 'import-model';
  sizes: number[];
  tensors: NamedTensors;
  metadata: Record<string, string>;
  bytes: number;
}

export interface ImportedAdapter {
  kind: 'import-adapter';
  folder: string;
  info: AdapterInfo;
  tensors: NamedTensors;
  baseModel: string | null;
}

export interface MergeResult {
  kind: 'merge';
  /** The merged model's weights, or the combined adapter's factors. */
  tensors: NamedTensors;
  /** The combined adapter's info (output 'adapter'). */
  info: AdapterInfo | null;
  /** The inputs, handed back: they were transferred to the worker, not copied. */
  base: NamedTensors;
  adapters: NamedTensors[];
}

export type WeightsJobResult = ImportedModel | ImportedAdapter | MergeResult | AnalyzeResult;

export function runJob(job: WeightsJob): WeightsJobResult {
  switch (job.kind) {
    case 'import-model':
      return importModelFile(job.path, job.noFollow ?? false);
    case 'import-adapter':
      return importAdapterFolder(job.path, job.baseSizes, job.noFollow ?? false);
    case 'merge':
      return mergeJob(job);
    case 'analyze':
      return analyzeJob(job);
  }
}

/** Base weights from a PyTorch-layout safetensors file; the architecture is read from the tensors. */
export function importModelFile(path: string, noFollow = false): ImportedModel {
  const bytes = readFileBounded(path, MAX_WEIGHTS_BYTES, 'a safetensors file', noFollow);
  let file;
  try {
    file = readSafetensors(bytes);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new SafetensorsError(`${path}: ${err.message}`);
    throw err;
  }
  let sizes: number[];
  try {
    sizes = mlpSizes(file.tensors);
  } catch (err) {
    throw new ImportError(`${path}: ${(err as Error).message}`);
  }
  checkFinite(file.tensors, path);
  return { kind: 'import-model', sizes, tensors: file.tensors, metadata: file.metadata, bytes: bytes.length };
}

/** A PEFT adapter folder (or a file in it) checked to fit a base of `baseSizes`. */
export function importAdapterFolder(path: string, baseSizes: number[], noFollow = false): ImportedAdapter {
  let dir: string;
  try {
    const st = noFollow ? lstatSync(path) : statSync(path);
    if (st.isSymbolicLink()) throw new WeightsFileError(`${path} is a symbolic link, which is not followed here`);
    dir = st.isDirectory() ? path : dirname(path);
  } catch (err) {
    throw fileProblem(path, err);
  }
  const cfgPath = join(dir, PEFT_CONFIG_FILE);
  const cfgBytes = readFileBounded(cfgPath, MAX_CONFIG_BYTES, 'an adapter config', noFollow);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(cfgBytes);
  } catch {
    throw new PeftError(`${cfgPath} is not UTF-8 text`);
  }
  // By position only: the parser's own message would quote the file.
  const cfg = parseJsonText(text);
  if (!cfg.ok) throw new PeftError(`${cfgPath} is not valid JSON (at byte ${utf8Offset(text, cfg.at)})`);
  const weights = readFileBounded(join(dir, PEFT_WEIGHTS_FILE), MAX_WEIGHTS_BYTES, "an adapter's weights", noFollow);
  const parsed = parsePeft(cfg.value, weights);
  const label = `the adapter in ${dir}`;
  checkAdapterFits(baseSizes, parsed.info, parsed.tensors, label);
  checkRank(baseSizes, parsed.info, label);
  return { kind: 'import-adapter', folder: dir, ...parsed };
}

/**
 * A rank above min(in, out) of a layer adds nothing B·A could not hold at that rank,
 * only size (the trainer refuses it too): an imported adapter with one is refused.
 */
export function checkRank(sizes: readonly number[], info: AdapterInfo, label: string): void {
  const layers = layerNames(sizes);
  for (const t of info.targets) {
    const i = layers.indexOf(t);
    const limit = Math.min(sizes[i] as number, sizes[i + 1] as number);
    if (info.r > limit) throw new ImportError(`${label}: rank r ${info.r} is larger than layer ${t} allows (min(in, out) = ${limit})`);
  }
}

/** A merged model (output 'model') or a combined adapter, checked to hold only finite values. */
export function mergeJob(job: Extract<WeightsJob, { kind: 'merge' }>): MergeResult {
  checkFinite(job.base, job.baseLabel);
  let tensors: NamedTensors;
  let info: AdapterInfo | null = null;
  if (job.output === 'model') {
    // The base goes in too: a DoRA adapter's merge replaces W0 by m ⊙ (W0 + ΔW) / ‖W0 + ΔW‖.
    tensors = mergeIntoBase(job.base, combineDeltas(job.sizes, job.adapters, job.options, job.base));
  } else {
    const c = combineToAdapter(job.sizes, job.adapters, job.options);
    tensors = c.tensors;
    info = c.info;
  }
  checkMergeResult(tensors, job.adapters);
  return { kind: 'merge', tensors, info, base: job.base, adapters: job.adapters.map((a) => a.tensors) };
}

/** Every ArrayBuffer under `value` (tensors), once each: what postMessage may transfer. */
export function buffersOf(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
    } else if (Array.isArray(v)) stack.push(...v);
    else if (typeof v === 'object' && v !== null) stack.push(...Object.values(v));
  }
  return [...out];
}

/** Errors the worker reports by kind, so the caller can answer 400 or 404 rather than 500. */
export const KNOWN_ERRORS = ['SafetensorsError', 'PeftError', 'MergeError', 'NonFiniteError', 'WeightsFileError', 'ImportError', 'ArchitectureError', 'AnalysisError'];

export interface JobFailure {
  name: string;
  message: string;
  notFound: boolean;
}

export function describeFailure(err: unknown): JobFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: KNOWN_ERRORS.includes(e.name) ? e.name : 'Error', message: e.message, notFound: e instanceof WeightsFileError && e.notFound };
}

