/**
 * Compute backend chosen at trainer start (docs/measured.md, Compute backends):
 * tfjs-node-gpu (CUDA) → tfjs-node (native CPU) → webgpu (real GPU adapter only) →
 * wasm → cpu. The native packages are optional dependencies and may be absent.
 * `LORA_LAB_BACKEND` forces one: cuda | tensorflow | webgpu | wasm | cpu.
 */
import { installFastMatMulGradient } from './matmul-grad.ts';
import { installWasmKernels } from './wasm-kernels.ts';
import { registerThreadedWasm, wantedThreads, wasmThreads } from './wasm-threads.ts';
import { tf } from './tf.ts';

import { BACKEND_CHOICES, type BackendChoice } from '../contract/backend-choices.ts';

export { BACKEND_CHOICES, type BackendChoice };

export interface BackendInfo {
  /** What is recorded on the run: cuda, tensorflow, webgpu, wasm or cpu. */
  name: BackendChoice;
  /** Human words about the device: "wasm (SIMD, 1 thread)", the GPU adapter's name … */
  device: string;
  /** Why earlier candidates were skipped (empty when forced). */
  skipped: string[];
}

export class BackendError extends Error {
  override name = 'BackendError';
}

/** Start one backend; `forced` when the person asked for it by name (software GPUs allowed then). */
type Attempt = (forced: boolean) => Promise<string>;

const attempts: Record<BackendChoice, Attempt> = {
  cuda: async () => {
    await import('@tensorflow/tfjs-node-gpu' as string);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend("tensorflow") returned false');
    return 'TensorFlow native (CUDA)';
  },
  tensorflow: async () => {
    await import('@tensorflow/tfjs-node' as string);
    if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend("tensorflow") returned false');
    return 'TensorFlow native (CPU)';
  },
  webgpu: async (forced) => {
    // Dawn through the npm `webgpu` package: the WebGPU globals (GPUBufferUsage …) and
    // navigator.gpu must exist before tfjs-backend-webgpu is imported.
    const { create, globals } = (await import('webgpu' as string)) as { create: (flags: string[]) => unknown; globals: object };
    Object.assign(globalThis, globals);
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
    const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<AdapterLike | null> } } }).navigator.gpu;
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const info = adapter.info ?? {};
    const desc = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
    if (!forced && /llvmpipe|lavapipe|swiftshader/i.test(desc)) throw new Error(`only a software adapter (${desc})`);
    await import('@tensorflow/tfjs-backend-webgpu' as string);
    if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend("webgpu") returned false');
    return `WebGPU ${desc || 'adapter'}`;
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    // Both cores when the threaded build can be had; otherwise the stock single thread.
    const threaded = registerThreadedWasm(wantedThreads());
    let note = threaded.ok || wantedThreads() < 2 ? '' : ` (${threaded.reason})`;
    if (!(await tf.setBackend('wasm'))) {
      if (!threaded.ok) throw new Error('setBackend("wasm") returned false');
      threaded.restoreStock();
      note = ' (the threaded build did not start)';
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
    }
    installFastMatMulGradient();
    installWasmKernels();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const n = wasmThreads();
    return `WebAssembly${simd ? ' SIMD' : ''}, ${n} thread${n > 1 ? 's' : ''}${note}`;
  },
  cpu: async () => {
    if (!(await tf.setBackend('cpu'))) throw new Error('setBackend("cpu") returned false');
    return 'plain JavaScript (slow)';
  },
};

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

export async function initBackend(forced = process.env['LORA_LAB_BACKEND']): Promise<BackendInfo> {
  if (forced) {
    if (!BACKEND_CHOICES.includes(forced as BackendChoice)) {
      throw new BackendError(`LORA_LAB_BACKEND=${forced} is not a backend (choose one of ${BACKEND_CHOICES.join(', ')})`);
    }
    const name = forced as BackendChoice;
    try {
      const device = await attempts[name](true);
      return { name, device, skipped: [] };
    } catch (err) {
      throw new BackendError(`backend ${name} was requested but failed: ${(err as Error).message}`);
    }
  }
  const skipped: string[] = [];
  for (const name of BACKEND_CHOICES) {
    try {
      const device = await attempts[name](false);
      return { name, device, skipped };
    } catch (err) {
      skipped.push(`${name}: ${firstLine((err as Error).message)}`);
      // A failed setBackend can leave TF.js pointing at a dead backend: the next
      // attempt sets its own backend explicitly, so nothing else to undo here.
    }
  }
  throw new BackendError(`no compute backend could start: ${skipped.join('; ')}`);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
