/**
 * Zero-copy float32 views of tensors that live in the wasm backend's heap.
 *
 * Why: TF.js's Adam is ~14 element-wise kernels per variable, each a full pass that
 * allocates a new tensor; on wasm that was 75 ms per step for the 2.8M-parameter MLP
 * (more than forward + backward together). Updating W, m and v in place with one JS
 * loop over heap views costs a few ms. This reaches into the backend's data map
 * (`getMemoryOffset`, `refCount`, `wasm.HEAPU8`), so every access is checked and a
 * missing piece makes `heapAccess()` return null — the caller then uses TF.js's own
 * optimizers. test/trainer/optim.test.ts pins the behaviour on the installed version.
 */
import { tf } from './tf.ts';

interface WasmBackendLike {
  /** `wasmMemory` exists in the threaded build, whose heap can grow from any thread. */
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory } | null;
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
}

export function heapAccess(): HeapAccess | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<WasmBackendLike>;
  if (typeof b.getMemoryOffset !== 'function' || typeof b.refCount !== 'function' || typeof b.makeOutput !== 'function') return null;
  if (!b.wasm || !(b.wasm.HEAPU8 instanceof Uint8Array)) return null;
  const backend = b as WasmBackendLike;
  return {
    view(t) {
      if (t.dtype !== 'float32') throw new Error(`heap view of a ${t.dtype} tensor`);
      const offset = backend.getMemoryOffset(t.dataId);
      // The memory's own buffer is always current; HEAPU8 may lag a growth.
      const buffer = backend.wasm!.wasmMemory?.buffer ?? backend.wasm!.HEAPU8.buffer;
      if (!Number.isInteger(offset) || offset % 4 !== 0 || offset + t.size * 4 > buffer.byteLength) {
        throw new Error('wasm heap layout is not as expected');
      }
      return new Float32Array(buffer, offset, t.size);
    },
    refCount: (t) => backend.refCount(t.dataId),
    alloc: (shape) => tf.engine().makeTensorFromTensorInfo(backend.makeOutput(shape, 'float32')),
  };
}
