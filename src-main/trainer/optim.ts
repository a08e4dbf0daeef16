/**
 * Optimizers: Adam (PyTorch's formulation and defaults: β1 0.9, β2 0.999, ε 1e-8) and
 * plain SGD, with per-variable learning rates (LoRA+ gives B `ratio × lr`).
 *
 * On wasm the update is one JS pass per variable over zero-copy heap views of the
 * weight and its gradient (see wasm-heap.ts) instead of ~14 kernels, written to a new
 * tensor that the variable takes over. Not in place on purpose: XNNPACK caches packed
 * weights per tensor id, so a matrix changed under the same id would be multiplied
 * stale. Elsewhere (cpu, native TensorFlow, WebGPU) TF.js's
 * own optimizers do the work, configured to the same formulation.
 */
import { heapAccess, type HeapAccess } from './wasm-heap.ts';
import { tf } from './tf.ts';

export interface OptimizerSpec {
  kind: 'adam' | 'sgd';
  /** Learning rate per variable. */
  lrs: Map<tf.Variable, number>;
}

export interface Optimizer {
  /** Apply one step of updates. `grads` maps variable name → gradient. */
  apply(grads: tf.NamedTensorMap): void;
  /** 'heap' (in-place wasm) or 'tfjs'. */
  readonly impl: 'heap' | 'tfjs';
  dispose(): void;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

export function createOptimizer(spec: OptimizerSpec, forceTfjs = process.env['LORA_LAB_TFJS_OPTIMIZER'] === '1'): Optimizer {
  const heap = forceTfjs ? null : heapAccess();
  return heap ? new HeapOptimizer(spec, heap) : new TfjsOptimizer(spec);
}

class HeapOptimizer implements Optimizer {
  readonly impl = 'heap' as const;
  readonly #vars: { v: tf.Variable; lr: number; m: Float32Array | null; s: Float32Array | null }[];
  #t = 0;

  constructor(readonly spec: OptimizerSpec, readonly heap: HeapAccess) {
    this.#vars = [...spec.lrs].map(([v, lr]) => ({
      v,
      lr,
      m: spec.kind === 'adam' ? new Float32Array(v.size) : null,
      s: spec.kind === 'adam' ? new Float32Array(v.size) : null,
    }));
  }

  apply(grads: tf.NamedTensorMap): void {
    this.#t++;
    const bc1 = 1 - BETA1 ** this.#t;
    // Multiplying by 1/√bc2 instead of dividing inside the loop halves its cost.
    const invBc2Sqrt = 1 / Math.sqrt(1 - BETA2 ** this.#t);
    for (const p of this.#vars) {
      const g = grads[p.v.name];
      if (!g) throw new Error(`no gradient for ${p.v.name}`);
      // The new weights are written straight into a fresh heap tensor. Views are taken
      // after that allocation (which may grow the heap) and before anything else allocates.
      const next = this.heap.alloc(p.v.shape);
      const out = this.heap.view(next);
      const w = this.heap.view(p.v);
      const gv = this.heap.view(g);
      const n = w.length;
      if (p.m && p.s) {
        const m = p.m;
        const s = p.s;
        const stepSize = p.lr / bc1;
        for (let i = 0; i < n; i++) {
          const gi = gv[i] as number;
          const mi = BETA1 * (m[i] as number) + (1 - BETA1) * gi;
          const si = BETA2 * (s[i] as number) + (1 - BETA2) * gi * gi;
          m[i] = mi;
          s[i] = si;
          out[i] = (w[i] as number) - (stepSize * mi) / (Math.sqrt(si) * invBc2Sqrt + EPS);
        }
      } else {
        const lr = p.lr;
        for (let i = 0; i < n; i++) out[i] = (w[i] as number) - lr * (gv[i] as number);
      }
      p.v.assign(next);
      next.dispose();
    }
  }

  dispose(): void {
    this.#vars.length = 0;
  }
}

class TfjsOptimizer implements Optimizer {
  readonly impl = 'tfjs' as const;
  readonly #groups: { opt: tf.Optimizer; names: string[] }[] = [];

  constructor(spec: OptimizerSpec) {
    const byLr = new Map<number, string[]>();
    for (const [v, lr] of spec.lrs) byLr.set(lr, [...(byLr.get(lr) ?? []), v.name]);
    for (const [lr, names] of byLr) {
      const opt = spec.kind === 'adam' ? tf.train.adam(lr, BETA1, BETA2, EPS) : tf.train.sgd(lr);
      this.#groups.push({ opt, names });
    }
  }

  apply(grads: tf.NamedTensorMap): void {
    for (const g of this.#groups) {
      const sub: tf.NamedTensorMap = {};
      for (const name of g.names) sub[name] = grads[name] as tf.Tensor;
      g.opt.applyGradients(sub);
    }
  }

  dispose(): void {
    for (const g of this.#groups) g.opt.dispose();
  }
}
