import { initBackend } from '../../src-main/trainer/backend.ts';

/** In-process tests run on the default backend for this machine (wasm), or LORA_LAB_BACKEND. */
export async function useTestBackend(): Promise<string> {
  const info = await initBackend(process.env['LORA_LAB_BACKEND'] || 'wasm');
  return info.name;
}
