/**
 * Non-finite weights (NaN, ±Infinity) and absurd scales. A model holding either
 * evaluates as noise (8.5% on MNIST) and poisons every merge it takes part in, so
 * imports refuse them, merges check what they produce before it is stored or
 * previewed, and the error names the tensor and how many of its values are bad.
 */
import type { NamedTensors } from '../contract/named.ts';

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

export { MAX_MERGE_WEIGHT, MAX_SCALING } from '../contract/limits.ts';

/** How many values of `data` are NaN or infinite. */
export function countNonFinite(data: Float32Array): number {
  let bad = 0;
  // x - x is 0 for every finite x and NaN for NaN and ±Infinity: one comparison per value.
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    if (x - x !== 0) bad++;
  }
  return bad;
}

/** Each tensor holding NaN or infinite values, with how many, in name order. */
export function nonFiniteTensors(tensors: NamedTensors): { name: string; count: number }[] {
  const out: { name: string; count: number }[] = [];
  for (const name of Object.keys(tensors).sort()) {
    const count = countNonFinite((tensors[name] as { data: Float32Array }).data);
    if (count > 0) out.push({ name, count });
  }
  return out;
}

/** "tensor linear1.weight holds 25,408 NaN or infinite values (and 2 more tensors do too)". */
export function describeNonFinite(bad: readonly { name: string; count: number }[]): string {
  const first = bad[0];
  if (!first) return 'no tensor holds NaN or infinite values';
  const more = bad.length > 1 ? ` (and ${bad.length - 1} more tensor${bad.length > 2 ? 's' : ''} do${bad.length > 2 ? '' : 'es'} too)` : '';
  return `tensor ${first.name} holds ${first.count.toLocaleString('en-US')} NaN or infinite value${first.count === 1 ? '' : 's'}${more}`;
}

/** Throw a NonFiniteError, prefixed with `label`, when any tensor holds NaN or infinite values. */
export function checkFinite(tensors: NamedTensors, label: string): void {
  const bad = nonFiniteTensors(tensors);
  if (bad.length > 0) throw new NonFiniteError(`${label}: ${describeNonFinite(bad)}`);
}
