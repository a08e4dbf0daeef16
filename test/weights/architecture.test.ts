import { describe, expect, it } from 'vitest';
import { ArchitectureError, mlpSizes } from '../../src-main/weights/architecture.ts';
import type { NamedTensors } from '../../src-main/contract/named.ts';
import { readSafetensors, writeSafetensors } from '../../src-main/weights/safetensors.ts';
import { randomBase } from './helpers.ts';

const t = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe('MLP architecture from tensor names and shapes', () => {
  it('reads the sizes of a base exported and imported as safetensors', () => {
    const base = randomBase([784, 100, 50, 10], 1);
    expect(mlpSizes(readSafetensors(writeSafetensors(base, { format: 'pt' })).tensors)).toEqual([784, 100, 50, 10]);
    expect(mlpSizes({ 'linear1.weight': t(10, 784), 'linear1.bias': t(10) })).toEqual([784, 10]);
  });

  const cases: [string, NamedTensors, RegExp][] = [
    ['no tensors', {}, /not an MLP/],
    ['a foreign name', { 'fc1.weight': t(2, 2) }, /unexpected tensor "fc1.weight"/],
    ['a missing layer', { 'linear1.weight': t(3, 4), 'linear1.bias': t(3), 'linear3.weight': t(2, 3), 'linear3.bias': t(2) }, /linear2 is missing/],
    ['a missing bias', { 'linear1.weight': t(3, 4) }, /linear1.bias is missing/],
    ['a 1-D weight', { 'linear1.weight': t(12), 'linear1.bias': t(3) }, /must be 2-D/],
    ['a wrong bias', { 'linear1.weight': t(3, 4), 'linear1.bias': t(4) }, /bias has shape \[4\], expected \[3\]/],
    ['a broken chain', { 'linear1.weight': t(3, 4), 'linear1.bias': t(3), 'linear2.weight': t(2, 5), 'linear2.bias': t(2) }, /takes 5 inputs but linear1 gives 3/],
    ['a zero width', { 'linear1.weight': t(0, 4), 'linear1.bias': t(0) }, /widths must be/],
  ];
  for (const [what, tensors, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => mlpSizes(tensors)).toThrow(ArchitectureError);
      expect(() => mlpSizes(tensors)).toThrow(message);
    });
  }
});
