import { beforeAll, describe, expect, it } from 'vitest';
import { attachLora, loadLora, loraToNamed, mergeLora, unmergeLora } from '../../src-main/trainer/lora.ts';
import { Mlp } from '../../src-main/trainer/mlp.ts';
import { tf } from '../../src-main/trainer/tf.ts';
import { Rng } from '../../src-main/util/rng.ts';
import type { LoraConfig } from '../../src-main/contract/config.ts';
import { useTestBackend } from '../helpers/backend.ts';

const sizes = [784, 64, 32, 10];
const loraCfg = (over: Partial<LoraConfig> = {}): LoraConfig => ({
  r: 4, alpha: 8, targets: ['linear1', 'linear2', 'linear3'], init: 'kaiming', scaling: 'standard', loraPlusRatio: 1, variant: 'lora', freezeA: false, ...over,
});

function randomInput(n = 16, seed = 5): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: n * 784 }, () => rng.normal()), [n, 784]);
}

async function logits(m: Mlp, x: tf.Tensor2D): Promise<Float32Array> {
  const y = tf.tidy(() => m.forward(x));
  const d = (await y.data()) as Float32Array;
  y.dispose();
  return d;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Give B random values so the adapter actually changes the output. */
function randomiseB(m: Mlp, seed = 9): void {
  const rng = new Rng(seed);
  for (const l of m.layers) {
    if (!l.B) continue;
    const t = tf.tensor2d(Float32Array.from({ length: l.B.size }, () => rng.normal() * 0.05), l.B.shape);
    l.B.assign(t);
    t.dispose();
  }
}

describe('LoRA math', () => {
  beforeAll(useTestBackend);

  it('with B = 0 the adapted model gives exactly the base output', async () => {
    const base = Mlp.init(sizes, new Rng(1));
    const adapted = Mlp.init(sizes, new Rng(1));
    attachLora(adapted, loraCfg(), new Rng(2));
    const x = randomInput();
    expect(await logits(adapted, x)).toEqual(await logits(base, x));
    base.dispose();
    adapted.dispose();
    x.dispose();
  });

  it('merged and unmerged outputs agree to 1e-5, and unmerge restores the base weights', async () => {
    const m = Mlp.init(sizes, new Rng(1));
    const w0 = await m.toNamed();
    attachLora(m, loraCfg(), new Rng(2));
    randomiseB(m);
    const x = randomInput();
    const unmerged = await logits(m, x);
    mergeLora(m);
    const merged = await logits(m, x);
    expect(maxAbsDiff(merged, unmerged)).toBeLessThan(1e-5);
    expect(maxAbsDiff(merged, await logits(Mlp.fromNamed(sizes, w0, false), x))).toBeGreaterThan(1e-3); // the adapter does something
    unmergeLora(m);
    const w1 = await m.toNamed();
    for (const k of Object.keys(w0)) expect(maxAbsDiff(w1[k]!.data, w0[k]!.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(await logits(m, x), unmerged)).toBeLessThan(1e-5);
    expect(() => unmergeLora(m)).toThrow(/not merged/);
    m.dispose();
    x.dispose();
  });

  it('rsLoRA scales by alpha/√r and the forward pass uses it', async () => {
    const std = Mlp.init(sizes, new Rng(1));
    const rs = Mlp.init(sizes, new Rng(1));
    attachLora(std, loraCfg({ r: 4, alpha: 8 }), new Rng(2));
    attachLora(rs, loraCfg({ r: 4, alpha: 8, scaling: 'rslora' }), new Rng(2));
    expect(std.scaling).toBe(2);
    expect(rs.scaling).toBe(4);
    randomiseB(std);
    randomiseB(rs);
    const x = randomInput();
    const base = Mlp.init(sizes, new Rng(1));
    // Only linear3's delta differs linearly; check via a single-layer adapter instead.
    const one = (scaling: 'standard' | 'rslora') => {
      const m = Mlp.init(sizes, new Rng(1));
      attachLora(m, loraCfg({ targets: ['linear3'], scaling }), new Rng(2));
      randomiseB(m);
      return m;
    };
    const [a, b] = [one('standard'), one('rslora')];
    const y0 = await logits(base, x);
    const ya = await logits(a, x);
    const yb = await logits(b, x);
    for (let i = 0; i < 20; i++) expect((yb[i]! - y0[i]!)).toBeCloseTo(2 * (ya[i]! - y0[i]!), 4);
    for (const m of [std, rs, base, a, b]) m.dispose();
    x.dispose();
  });

  it('exports PEFT-orientation tensors and loads them back identically', async () => {
    const m = Mlp.init(sizes, new Rng(1));
    attachLora(m, loraCfg({ r: 3 }), new Rng(2));
    randomiseB(m);
    const named = await loraToNamed(m);
    expect(named['linear1.lora_A']!.shape).toEqual([3, 784]);
    expect(named['linear1.lora_B']!.shape).toEqual([64, 3]);
    expect(named['linear3.lora_B']!.shape).toEqual([10, 3]);
    const m2 = Mlp.fromNamed(sizes, await m.toNamed(), false);
    loadLora(m2, { targets: ['linear1', 'linear2', 'linear3'], scaling: m.scaling, variant: 'lora' }, named);
    const x = randomInput();
    expect(await logits(m2, x)).toEqual(await logits(m, x));
    m.dispose();
    m2.dispose();
    x.dispose();
  });

  it('draws A from U(±1/√in) for kaiming and N(0, 1/r) for gaussian', async () => {
    const k = Mlp.init(sizes, new Rng(1));
    attachLora(k, loraCfg({ r: 2, init: 'kaiming' }), new Rng(2));
    const a = (await loraToNamed(k))['linear1.lora_A']!.data;
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(784));
    const g = Mlp.init(sizes, new Rng(1));
    attachLora(g, loraCfg({ r: 2, init: 'gaussian' }), new Rng(2));
    const ga = (await loraToNamed(g))['linear1.lora_A']!.data;
    const std = Math.sqrt(ga.reduce((s, v) => s + v * v, 0) / ga.length);
    expect(std).toBeGreaterThan(0.45);
    expect(std).toBeLessThan(0.55);
    k.dispose();
    g.dispose();
  });
});
