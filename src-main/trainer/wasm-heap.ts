/**
 * Zero-copy access to tensors that live in the wasm backend's heap: float32 views,
 * byte offsets, fresh uninitialised tensors, and the WebAssembly.Memory itself (for
 * our own SIMD kernels, kernels/simd.ts).
 *
 * Why: TF.js's Adam is ~14 element-wise kernels per variable, each a full pass that
 * allocates a new tensor; on wasm that was 75 ms per step for the 2.8M-parameter MLP
 * (more than forward + backward together). One pass over weight, gradient and moments
 * where they lie costs ~3 ms. This reaches into the backend's data map
 * (`getMemoryOffset`, `refCount`, `makeOutput`, `wasm.HEAPU8`), so every access is
 * checked and a missing piece makes `heapAccess()` return null — the caller then uses
 * TF.js's own optimizers. test/trainer/gradients.test.ts and wasm-kernels.test.ts pin
 * the behaviour on the installed version.
 */
import { tf } from './tf.ts';

interface WasmBackendLike {
  /** `wasmMemory` exists in the threaded build, whose heap can grow from any thread. */
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory; asm?: { memory?: unknown } } | null;
  getMemoryOffset(dataId: object): number;
  refCount(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

export interface HeapAccess {
  /** A live view of `t`'s values. Valid until the next tensor allocation (the heap may grow). */
  view(t: tf.Tensor): Float32Array;
  /** How many tensors share `t`'s storage (in-place writes need exactly 1). */
  refCount(t: tf.Tensor): number;
  /** A new float32 tensor whose contents are not initialised: fill it through `view`. */
  alloc(shape: number[]): tf.Tensor;
  /** Byte offset of `t`'s values in the memory (stable while `t` lives). */
  offset(t: tf.Tensor): number;
  /**
   * The backend's WebAssembly.Memory, for modules of our own that work on tensors in
   * place (shared in the threaded build, plain in the stock one); null if unreachable.
   */
  readonly memory: WebAssembly.Memory | null;
}

export function heapAccess(): HeapAccess | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  if (typeof b.getMemoryOffset !== 'function' || typeof b.refCount !== 'function' || typeof b.makeOutput !== 'function') return null;
  if (!b.wasm || !(b.wasm.HEAPU8 instanceof Uint8Array)) return null;
  const backend = b as WasmBackendLike;
  const wasm = backend.wasm!;
  const candidate = wasm.wasmMemory ?? wasm.asm?.memory;
  const memory = candidate instanceof WebAssembly.Memory ? candidate : null;
  const offset = (t: tf.Tensor): number => {
    if (t.dtype !== 'float32') throw new Error(`heap access to a ${t.dtype} tensor`);
    const at = backend.getMemoryOffset(t.dataId);
    // The memory's own buffer is always current; HEAPU8 may lag a growth.
    const bytes = (memory ?? wasm.wasmMemory)?.buffer.byteLength ?? wasm.HEAPU8.buffer.byteLength;
    if (!Number.isInteger(at) || at <= 0 || at % 4 !== 0 || at + t.size * 4 > bytes) throw new Error('wasm heap layout is not as expected');
    return at;
  };
  return {
    memory,
    offset,
    view(t) {
      const at = offset(t);
      return new Float32Array((memory ?? wasm.wasmMemory)?.buffer ?? wasm.HEAPU8.buffer, at, t.size);
    },
    refCount: (t) => backend.refCount(t.dataId),
    alloc: (shape) => tf.engine().makeTensorFromTensorInfo(backend.makeOutput(shape, 'float32')),
  };
}
