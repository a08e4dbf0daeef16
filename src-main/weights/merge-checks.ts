/**
 * What a merge checks before it computes (merge.ts): that each adapter fits the base
 * (layers, shapes, finite values, DoRA's magnitude where it belongs), and that the
 * method can apply to these adapters with these options; a MergeError says why not.
 */
import { layerNames } from '../contract/config.ts';
import { MAJORITY_SIGN_METHODS, MERGE_METHODS } from '../contract/api.ts';
import type { NamedTensors } from '../contract/named.ts';
import type { AdapterInfo } from '../contract/protocol.ts';
import { MAX_MERGE_WEIGHT, MAX_SCALING, countNonFinite } from './finite.ts';
import { MergeError } from './merge-error.ts';
import { MAGNITUDE, checkDoraUse, isDora } from './merge-dora.ts';
import { isFactorWise, usesDensity } from './merge-request.ts';
import type { MergeOptions, WeightedAdapter } from './merge.ts';

/** Throw a MergeError unless the adapter's layers and shapes fit a base of `sizes`. */
export function checkAdapterFits(sizes: readonly number[], info: AdapterInfo, tensors: NamedTensors, label = 'the adapter'): void {
  const layers = layerNames(sizes);
  const bad = (msg: string): never => {
    throw new MergeError(`${label}: ${msg}`);
  };
  if (!Number.isInteger(info.r) || info.r < 1) bad(`rank r must be a positive integer, got ${info.r}`);
  if (!Number.isFinite(info.scaling)) bad(`scaling must be a finite number, got ${info.scaling}`);
  // Stored by an older LoRA Lab (lora_alpha 1e308 was accepted): any merge would overflow.
  if (Math.abs(info.scaling) > MAX_SCALING) bad(`scaling ${info.scaling.toPrecision(3)} is larger than ${MAX_SCALING.toLocaleString('en-US')}: merging it would overflow`);
  if (!Array.isArray(info.targets) || info.targets.length === 0) bad('targets no layer');
  if (new Set(info.targets).size !== info.targets.length) bad('lists a target layer twice');
  const dora = isDora(info);
  const expected = new Set<string>();
  for (const t of info.targets) {
    const i = layers.indexOf(t);
    if (i < 0) bad(`targets ${t}, which this base (${layers.join(', ')}) does not have: it belongs to another base`);
    const inF = sizes[i] as number;
    const outF = sizes[i + 1] as number;
    const a = tensors[`${t}.lora_A`];
    const b = tensors[`${t}.lora_B`];
    if (!a || !b) return bad(`${t}.${!a ? 'lora_A' : 'lora_B'} is missing`);
    if (a.shape.join() !== `${info.r},${inF}`) bad(`${t}.lora_A has shape [${a.shape}], this base needs [${info.r}, ${inF}]: other shapes, another base`);
    if (b.shape.join() !== `${outF},${info.r}`) bad(`${t}.lora_B has shape [${b.shape}], this base needs [${outF}, ${info.r}]: other shapes, another base`);
    const named: [string, { shape: number[]; data: Float32Array }][] = [[`${t}.lora_A`, a], [`${t}.lora_B`, b]];
    const mName = `${t}.${MAGNITUDE}`;
    const m = tensors[mName];
    if (dora) {
      if (!m) return bad(`${mName} is missing: a DoRA adapter has a magnitude per output of every target`);
      if (m.shape.join() !== `${outF}`) bad(`${mName} has shape [${m.shape}], this base needs [${outF}]: other shapes, another base`);
      named.push([mName, m]);
    } else if (m) {
      bad(`holds ${mName}, a DoRA magnitude, but is a plain LoRA adapter (variant ${JSON.stringify(info.variant ?? 'lora')})`);
    }
    for (const [name, x] of named) {
      if (x.data.length !== x.shape.reduce((p, q) => p * q, 1)) bad(`${name} holds ${x.data.length} values for shape [${x.shape}]`);
      const nonFinite = countNonFinite(x.data);
      if (nonFinite > 0) bad(`${name} holds ${nonFinite.toLocaleString('en-US')} NaN or infinite values`);
      expected.add(name);
    }
  }
  for (const name of Object.keys(tensors)) if (!expected.has(name)) bad(`tensor ${name} belongs to no target layer`);
}

export const labelOf = (a: WeightedAdapter, i: number) => (a.name ? `adapter ${JSON.stringify(a.name)}` : `adapter ${i + 1}`);

export function checkInputs(sizes: readonly number[], adapters: readonly WeightedAdapter[], opts: MergeOptions, output: 'model' | 'adapter', base: NamedTensors | null): void {
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s >= 1)) {
    throw new MergeError(`bad base layer sizes [${sizes}]`);
  }
  const m = opts.method;
  if (!MERGE_METHODS.includes(m)) throw new MergeError(`unknown method ${JSON.stringify(m)} (choose ${MERGE_METHODS.join(', ')})`);
  if (!Array.isArray(adapters) || adapters.length === 0) throw new MergeError('choose at least one adapter to combine');
  const labels = adapters.map(labelOf);
  adapters.forEach((a, i) => {
    if (typeof a.weight !== 'number' || !(Math.abs(a.weight) <= MAX_MERGE_WEIGHT)) {
      throw new MergeError(`${labels[i]}: weight must be a number from -${MAX_MERGE_WEIGHT} to ${MAX_MERGE_WEIGHT}, got ${a.weight}`);
    }
    checkAdapterFits(sizes, a.info, a.tensors, labels[i]);
  });
  if (opts.rank !== undefined && (!Number.isInteger(opts.rank) || opts.rank < 1 || opts.rank > 65536)) {
    throw new MergeError(`rank must be a positive integer, got ${opts.rank}`);
  }
  if (usesDensity(m) && !(typeof opts.density === 'number' && opts.density >= 0 && opts.density <= 1)) {
    throw new MergeError(`${m} needs a density in [0, 1] (the fraction of values kept; 0 prunes everything), got ${opts.density}`);
  }
  if (opts.majoritySign !== undefined && !MAJORITY_SIGN_METHODS.includes(opts.majoritySign)) {
    throw new MergeError(`the majority sign method is total or frequency, got ${JSON.stringify(opts.majoritySign)}`);
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new MergeError(`seed must be an integer in [0, 2^32-1], got ${seed}`);
  checkDoraUse(adapters, labels, m, output, base);
  if (isFactorWise(m)) {
    const ranks = [...new Set(adapters.map((a) => a.info.r))];
    if (ranks.length > 1) {
      throw new MergeError(
        `${m} combines the adapters' A's and B's separately (as PEFT), which needs one rank, but ${adapters.map((a, i) => `${labels[i]} has r ${a.info.r}`).join(', ')}: use ${m}_svd, which combines the full ΔW's of any ranks`,
      );
    }
    if (opts.rank !== undefined && opts.rank !== ranks[0]) {
      throw new MergeError(`${m} keeps the adapters' rank r = ${ranks[0]}, so rank ${opts.rank} cannot apply: use ${m}_svd for a rank of your choice`);
    }
  }
}
