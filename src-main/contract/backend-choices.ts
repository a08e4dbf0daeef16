/** Backend names, importable without loading TF.js (the CLI validates flags with it). */
export type BackendChoice = 'cuda' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['cuda', 'tensorflow', 'webgpu', 'wasm', 'cpu'];
