/**
 * Tensors as they cross process and storage boundaries: float32 data with a shape,
 * always in PyTorch orientation (`linearN.weight` [out, in], `linearN.bias` [out],
 * `linearN.lora_A` [r, in], `linearN.lora_B` [out, r]).
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type NamedTensors = Record<string, HostTensor>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function hostTensor(shape: number[], data: Float32Array): HostTensor {
  if (numel(shape) !== data.length) throw new Error(`shape [${shape}] needs ${numel(shape)} values, got ${data.length}`);
  return { shape, data };
}

/** [rows, cols] → [cols, rows], as a new array. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c] as number;
  }
  return out;
}

export function getTensor(t: NamedTensors, name: string): HostTensor {
  const x = t[name];
  if (!x) throw new Error(`missing tensor ${name}`);
  return x;
}
