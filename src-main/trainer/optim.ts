/**
 * Optimizers: Adam (PyTorch's formulation and defaults: β1 0.9, β2 0.999, ε 1e-8) and
 * plain SGD, with per-variable learning rates (LoRA+ gives B `ratio × lr`).
 *
 * On wasm the update of each variable is one pass over the weight, its gradient and
 * the moments where they lie in the backend's heap (see wasm-heap.ts), instead of ~14
 * TF.js kernels that each allocate a tensor: a wasm SIMD kernel of our own
 * (kernels/simd.wat, 'simd'), or a JS loop over heap views where that module cannot
 * be instantiated ('heap'). The new weights go to a fresh tensor that the variable
 * takes over — not in place on purpose: XNNPACK caches packed weights per tensor id,
 * so a matrix changed under the same id would be multiplied stale. Elsewhere (cpu,
 * native TensorFlow, WebGPU) TF.js's own optimizers do the work, configured to the
 * same formulation.
 */
import { simdKernels, type SimdKernels } from './kernels/simd.ts';
import { heapAccess, type HeapAccess } from './wasm-heap.ts';
import { tf } from './tf.ts';

export interface OptimizerSpec {
  kind: 'adam' | 'sgd';
  /** Learning rate per variable. */
  lrs: Map<tf.Variable, number>;
}

export type OptimizerImpl = 'simd' | 'heap' | 'tfjs';

export interface Optimizer {
  /** Apply one step of updates. `grads` maps variable name → gradient. */
  apply(grads: tf.NamedTensorMap): void;
  readonly impl: OptimizerImpl;
  dispose(): void;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
/** Below these a gradient or moment counts as 0 (see kernels/simd.wat: subnormals are slow). */
const TINY_GRAD = 1e-17;
const TINY_MOMENT = 1e-30;

/**
 * The fastest implementation the backend allows, or `want` when given and possible
 * (tests compare them; LORA_LAB_OPTIMIZER=tfjs|heap forces one for diagnosis).
 */
export function createOptimizer(spec: OptimizerSpec, want = process.env['LORA_LAB_OPTIMIZER'] as OptimizerImpl | undefined): Optimizer {
  const heap = want === 'tfjs' ? null : heapAccess();
  if (!heap) return new TfjsOptimizer(spec);
  const kernels = want !== 'heap' && heap.memory ? simdKernels(heap.memory) : null;
  return new HeapOptimizer(spec, heap, kernels);
}

interface Slot {
  v: tf.Variable;
  lr: number;
  /** Adam's first and second moments, kept in the heap beside the weights. */
  m: tf.Tensor | null;
  s: tf.Tensor | null;
}

class HeapOptimizer implements Optimizer {
  readonly impl: 'simd' | 'heap';
  readonly #slots: Slot[];
  #t = 0;

  constructor(spec: OptimizerSpec, readonly heap: HeapAccess, readonly kernels: SimdKernels | null) {
    this.impl = kernels ? 'simd' : 'heap';
    const zeros = (shape: number[]) => {
      const t = tf.keep(heap.alloc(shape));
      heap.view(t).fill(0);
      return t;
    };
    this.#slots = [...spec.lrs].map(([v, lr]) => ({
      v,
      lr,
      m: spec.kind === 'adam' ? zeros(v.shape) : null,
      s: spec.kind === 'adam' ? zeros(v.shape) : null,
    }));
  }

  apply(grads: tf.NamedTensorMap): void {
    this.#t++;
    const bc1 = 1 - BETA1 ** this.#t;
    // Multiplying by 1/√bc2 instead of dividing inside the loop halves its cost.
    const invBc2Sqrt = 1 / Math.sqrt(1 - BETA2 ** this.#t);
    const { heap, kernels } = this;
    for (const p of this.#slots) {
      const g = grads[p.v.name];
      if (!g) throw new Error(`no gradient for ${p.v.name}`);
      if (g.size !== p.v.size) throw new Error(`gradient of ${p.v.name} has ${g.size} values, expected ${p.v.size}`);
      const next = heap.alloc(p.v.shape);
      const n = p.v.size;
      if (kernels) {
        if (p.m && p.s) kernels.adam(heap.offset(p.v), heap.offset(g), heap.offset(p.m), heap.offset(p.s), heap.offset(next), n, p.lr / bc1, invBc2Sqrt);
        else kernels.sgd(heap.offset(p.v), heap.offset(g), heap.offset(next), n, p.lr);
      } else {
        // Views are taken after the allocation above (which may grow the heap) and
        // before anything else allocates.
        const out = heap.view(next);
        const w = heap.view(p.v);
        const gv = heap.view(g);
        if (p.m && p.s) {
          const m = heap.view(p.m);
          const s = heap.view(p.s);
          const stepSize = p.lr / bc1;
          for (let i = 0; i < n; i++) {
            // The same flushes as simd.wat (tiny gradients and moments count as 0).
            const gi = Math.abs(gv[i] as number) < TINY_GRAD ? 0 : (gv[i] as number);
            let mi = BETA1 * (m[i] as number) + (1 - BETA1) * gi;
            let si = BETA2 * (s[i] as number) + (1 - BETA2) * gi * gi;
            if (Math.abs(mi) < TINY_MOMENT) mi = 0;
            if (si < TINY_MOMENT) si = 0;
            m[i] = mi;
            s[i] = si;
            out[i] = (w[i] as number) - (stepSize * mi) / (Math.sqrt(si) * invBc2Sqrt + EPS);
          }
        } else {
          const lr = p.lr;
          for (let i = 0; i < n; i++) out[i] = (w[i] as number) - (Math.abs(gv[i] as number) < TINY_GRAD ? 0 : lr * (gv[i] as number));
        }
      }
      p.v.assign(next);
      next.dispose();
    }
  }

  dispose(): void {
    for (const p of this.#slots) {
      p.m?.dispose();
      p.s?.dispose();
    }
    this.#slots.length = 0;
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
