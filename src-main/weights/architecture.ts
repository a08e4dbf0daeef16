/**
 * The MLP's architecture read back from its tensors: `linear1.weight` [out, in],
 * `linear1.bias` [out], … chained so each layer's in is the previous layer's out.
 * Imports (safetensors, TF.js) have nothing else to go on, so every inconsistency is
 * reported by tensor name rather than surfacing later as a matMul shape error.
 */
import type { NamedTensors } from '../contract/named.ts';

export class ArchitectureError extends Error {
  override name = 'ArchitectureError';
}

const PARAM = /^linear([1-9][0-9]{0,5})\.(weight|bias)$/;
const MAX_WIDTH = 65536;

/** Layer widths, input first ([784, 1000, 2000, 10] for the classic MLP). */
export function mlpSizes(tensors: NamedTensors): number[] {
  const layers = new Map<number, { weight?: number[]; bias?: number[] }>();
  for (const [name, t] of Object.entries(tensors)) {
    const m = PARAM.exec(name);
    if (!m) throw new ArchitectureError(`unexpected tensor ${JSON.stringify(name)} (an MLP has only linearN.weight and linearN.bias)`);
    const i = Number(m[1]);
    const entry = layers.get(i) ?? {};
    entry[m[2] as 'weight' | 'bias'] = t.shape;
    layers.set(i, entry);
  }
  const n = layers.size;
  if (n === 0) throw new ArchitectureError('no linearN.weight tensors: not an MLP');
  const sizes: number[] = [];
  for (let i = 1; i <= n; i++) {
    const l = layers.get(i);
    if (!l) throw new ArchitectureError(`layers are not numbered linear1..linear${n}: linear${i} is missing`);
    if (!l.weight) throw new ArchitectureError(`linear${i}.weight is missing`);
    if (!l.bias) throw new ArchitectureError(`linear${i}.bias is missing`);
    const w = l.weight;
    if (w.length !== 2) throw new ArchitectureError(`linear${i}.weight must be 2-D [out, in], has shape [${w}]`);
    const [outF, inF] = w as [number, number];
    for (const d of [outF, inF]) {
      if (!(d >= 1 && d <= MAX_WIDTH)) throw new ArchitectureError(`linear${i}.weight has shape [${w}]; widths must be 1..${MAX_WIDTH}`);
    }
    if (l.bias.length !== 1 || l.bias[0] !== outF) throw new ArchitectureError(`linear${i}.bias has shape [${l.bias}], expected [${outF}]`);
    if (i === 1) sizes.push(inF);
    else if (sizes[i - 1] !== inF) {
      throw new ArchitectureError(`linear${i}.weight takes ${inF} inputs but linear${i - 1} gives ${sizes[i - 1]} outputs`);
    }
    sizes.push(outF);
  }
  return sizes;
}
