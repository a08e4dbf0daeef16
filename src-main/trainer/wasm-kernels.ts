/**
 * Two of the wasm backend's kernels replaced where they cost the most in training:
 *
 * - Identity (what `clone` runs, and TF.js clones every tensor a gradient saves) copies
 *   the data on wasm — 2.8M floats of weights per step. Here it shares the storage and
 *   counts a reference, as Reshape does and as the cpu backend's Identity does. Safe
 *   because nothing writes into a tensor's storage after it is made: our optimizer
 *   writes new weights into fresh tensors (optim.ts); only its own moments change in
 *   place, and those are never cloned.
 * - Transpose of a 2-D float32 matrix runs our SIMD kernel (kernels/simd.wat), 3–4×
 *   faster than the stock one. Everything else goes to the stock kernel.
 *
 * Both are checked against the stock kernels in test/trainer/wasm-kernels.test.ts.
 */
import { simdKernels } from './kernels/simd.ts';
import { tf } from './tf.ts';
import { heapAccess } from './wasm-heap.ts';

interface WasmBackendKernelView {
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: object): number;
}
type Args = { inputs: Record<string, tf.TensorInfo>; attrs?: Record<string, unknown>; backend: WasmBackendKernelView };

let installed = false;

/** Replace Identity and Transpose on the wasm backend. Returns what was replaced. */
export function installWasmKernels(): string[] {
  if (installed || tf.getBackend() !== 'wasm') return [];
  const heap = heapAccess();
  const simd = heap?.memory ? simdKernels(heap.memory) : null;
  const done: string[] = [];

  const identity = tf.getKernel('Identity', 'wasm');
  if (identity) {
    override(identity, (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return identity.kernelFunc(args as never) as tf.TensorInfo;
      args.backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    });
    done.push('Identity');
  }

  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose && simd) {
    override(transpose, (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const perm = args.attrs?.['perm'] as number[] | undefined;
      if (x.dtype === 'float32' && x.shape.length === 2 && perm?.[0] === 1 && perm[1] === 0) {
        const [r, c] = x.shape as [number, number];
        // Never a reshape that shares storage, even for a vector: XNNPACK caches packed
        // weights by tensor id alone (not shape), so one id under two shapes would
        // be multiplied with the other shape's packing.
        if (r > 0 && c > 0) {
          const out = args.backend.makeOutput([c, r], 'float32');
          simd.transpose(args.backend.getMemoryOffset(x.dataId), args.backend.getMemoryOffset(out.dataId), r, c);
          return out;
        }
      }
      return transpose.kernelFunc(args as never) as tf.TensorInfo;
    });
    done.push('Transpose');
  }
  installed = true;
  return done;
}

function override(stock: tf.KernelConfig, kernelFunc: (args: Args) => tf.TensorInfo): void {
  tf.unregisterKernel(stock.kernelName, 'wasm');
  tf.registerKernel({ ...stock, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
