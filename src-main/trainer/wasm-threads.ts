/**
 * The multi-threaded wasm backend under Node (both cores for XNNPACK's matrix work).
 *
 * TF.js ships a threaded SIMD build but never uses it under Node: the flag is forced off
 * and its loader hands workers `blob:` URLs that Node cannot start. The package's own
 * pieces work when given as files: its worker source (exported as a string by
 * wasm-out/…worker.js) and its main script (the factory's source). One more detail: the
 * C++ side sizes its thread pool as logical cores / 2 (assuming hyper-threads), which
 * gives one thread on a 2-core machine; the core count the module reports is set so the
 * pool gets the threads asked for.
 *
 * This reaches into the package's build, so every step is checked; anything unexpected
 * returns a reason and the caller keeps the stock single-threaded backend.
 * test/trainer/wasm-threads.test.ts pins it on the installed version.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { pidAlive } from '../util/pid.ts';
import { dirname, join } from 'node:path';
import { tf } from './tf.ts';

const CORES_NEEDLE = 'if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;';

interface WasmPackage {
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Threads to use: LORA_LAB_WASM_THREADS, else the cores (at most 4). */
export function wantedThreads(env = process.env): number {
  const v = env['LORA_LAB_WASM_THREADS'];
  if (v !== undefined && /^\d+$/.test(v)) return Math.max(1, Math.min(16, Number(v)));
  return Math.max(1, Math.min(4, cpus().length));
}

export type ThreadedWasm = { ok: true; restoreStock(): void } | { ok: false; reason: string };

/**
 * Replace the `wasm` backend's factory with the threaded build. On success the caller
 * gets `restoreStock()` to put the stock factory back should the threaded one fail to
 * start; otherwise the reason, and nothing was changed.
 */
export function registerThreadedWasm(threads: number): ThreadedWasm {
  const no = (reason: string): ThreadedWasm => ({ ok: false, reason });
  if (threads < 2) return no('one thread asked for');
  if (typeof SharedArrayBuffer === 'undefined') return no('no SharedArrayBuffer');
  const require = createRequire(import.meta.url);
  let dir: string;
  let factory: ((config: object) => Promise<Record<string, unknown>>) & { toString(): string };
  let workerSource: string;
  let pkg: WasmPackage;
  try {
    const mainFile = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
    dir = dirname(mainFile);
    factory = require(mainFile);
    workerSource = (require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: string }).wasmWorkerContents ?? '';
    pkg = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  } catch (err) {
    return no(`threaded build not found (${(err as Error).message.split('\n')[0]})`);
  }
  const source = factory.toString();
  if (typeof pkg.BackendWasm !== 'function' || !workerSource.includes('importScripts') || !source.includes(CORES_NEEDLE)) {
    return no('the threaded build is not laid out as expected');
  }
  const stock = tf.findBackendFactory('wasm');
  if (!stock) return no('the wasm backend is not registered');
  const files = scriptFiles(dir, source, workerSource, threads);
  if (typeof files === 'string') return no(files);
  const { mainScript, workerScript } = files;
  const patched = require(mainScript) as typeof factory;
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      const module = await patched({ locateFile: (p: string) => (p.endsWith('.worker.js') ? workerScript : join(dir, p)), mainScriptUrlOrBlob: mainScript });
      const cwrap = module['cwrap'] as (name: string, ret: string | null, args: string[]) => unknown;
      module['tfjs'] = {
        init: cwrap('init', null, []),
        initWithThreadsCount: cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: cwrap('get_threads_count', 'number', []),
        registerTensor: cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: cwrap('dispose_data', null, ['number']),
        dispose: cwrap('dispose', null, []),
      };
      pkg.setThreadsCount(threads);
      return new pkg.BackendWasm(module);
    },
    2,
  );
  return {
    ok: true,
    restoreStock() {
      tf.removeBackend('wasm');
      tf.registerBackend('wasm', stock, 2);
    },
  };
}

/**
 * The two scripts, written once per content into a shared folder under the temp dir
 * (trainers share it; a trainer killed while writing leaves a staging folder named by its
 * pid, which the next writer removes).
 * Written to a private folder and renamed into place, so concurrent trainers never see
 * half a file.
 */
function scriptFiles(pkgDir: string, source: string, workerSource: string, threads: number): { mainScript: string; workerScript: string } | string {
  const main =
    `var _scriptDir = ${JSON.stringify(join(pkgDir, 'tfjs-backend-wasm-threaded-simd.js'))};\n` +
    `var WasmBackendModuleThreadedSimd = ${source.replace(CORES_NEEDLE, `if(ENVIRONMENT_IS_NODE)return ${2 * threads};`)};\n` +
    'if (typeof module !== "undefined") module.exports = WasmBackendModuleThreadedSimd;\n';
  // As TF.js itself does before making its Blob: the string's newlines were escapes.
  const worker = workerSource.replace(/\n/g, '\\n');
  const key = createHash('sha256').update(main).update(worker).digest('hex').slice(0, 16);
  const folder = join(tmpdir(), `lora-lab-wasm-${key}`);
  const mainScript = join(folder, 'main.cjs');
  const workerScript = join(folder, 'worker.cjs');
  if (!existsSync(workerScript)) {
    sweepStaging();
    const staging = `${folder}.${process.pid}.partial`;
    try {
      mkdirSync(staging, { recursive: true });
      writeFileSync(join(staging, 'main.cjs'), main);
      writeFileSync(join(staging, 'worker.cjs'), worker);
      renameSync(staging, folder);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      // Another trainer won the race: its files are the same.
      if (!existsSync(workerScript)) return `cannot write the threaded build's scripts (${(err as Error).message})`;
    }
  }
  return { mainScript, workerScript };
}

/** Staging folders of trainers killed while writing (their pid is gone): never reused, so removed. */
export function sweepStaging(dir = tmpdir()): void {
  try {
    for (const name of readdirSync(dir)) {
      const m = /^lora-lab-wasm-[0-9a-f]{16}\.(\d+)\.partial$/.exec(name);
      if (m && !pidAlive(Number(m[1]))) rmSync(join(dir, name), { recursive: true, force: true });
    }
  } catch {
    /* an unreadable temp folder: the write below reports what matters */
  }
}

/** Threads the initialised wasm backend really uses. */
export function wasmThreads(): number {
  const pkg = createRequire(import.meta.url)('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  try {
    return pkg.getThreadsCount();
  } catch {
    return 1;
  }
}
