/**
 * Builds the Svelte UI into dist/renderer/ (index.html + hashed assets). `base: './'`
 * keeps every URL relative, so the same build loads from Electron's file:// and from
 * the web-mode server. No inline scripts (the CSP allows only 'self').
 */
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte({ compilerOptions: { runes: true } })],
  build: {
    // LORA_LAB_UI_OUT: build elsewhere (side-by-side work; browser tests read LORA_LAB_UI_DIR).
    outDir: process.env['LORA_LAB_UI_OUT'] || fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The polyfill would be an extra script; every browser we target has modulepreload.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
  // `vite dev` from src-renderer/ reads the shared contract in src-main/lab.
  server: { fs: { allow: [repo] } },
});
