/**
 * Our own wasm SIMD kernels (simd.wat), instantiated on the TF.js wasm backend's own
 * memory so they read and write tensors where they live (no copies). One instance per
 * memory; null where the module cannot be instantiated (callers then fall back to
 * TF.js's kernels or a JS loop).
 */
import { PLAIN, SHARED } from './simd-wasm.ts';

export interface SimdKernels {
  /** Adam over n floats at byte offsets w, g, m, s → out (m and s in place). lr is already lr / (1 − β1^t). */
  adam(w: number, g: number, m: number, s: number, out: number, n: number, lr: number, invBc2Sqrt: number): void;
  /** out ← w − lr·g over n floats. */
  sgd(w: number, g: number, out: number, n: number, lr: number): void;
  /** dst [c, r] ← src [r, c]ᵀ. */
  transpose(src: number, dst: number, r: number, c: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

export function simdKernels(memory: WebAssembly.Memory): SimdKernels | null {
  if (instances.has(memory)) return instances.get(memory) ?? null;
  let kernels: SimdKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = new WebAssembly.Module(decode(shared ? SHARED : PLAIN));
    kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    kernels = null; // e.g. a runtime without wasm SIMD
  }
  instances.set(memory, kernels);
  return kernels;
}
