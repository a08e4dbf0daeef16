#!/usr/bin/env node
// Builds everything into dist/ (dependencies stay external):
//   dist/cli.js       the lora-lab command          dist/trainer.js  the trainer process
//   dist/main.js      the Electron main process     dist/preload.cjs the Electron preload
//   dist/renderer/    the Svelte UI (vite)
import { existsSync } from 'node:fs';
import { build } from 'esbuild';

const node = { bundle: true, platform: 'node', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' };

await build({ ...node, format: 'esm', entryPoints: { cli: 'src-main/cli.ts', trainer: 'src-main/trainer/entry.ts', 'weights-worker': 'src-main/weights/worker.ts' }, outdir: 'dist' });

if (existsSync('src-main/app/main.ts')) {
  await build({ ...node, format: 'esm', entryPoints: { main: 'src-main/app/main.ts' }, outdir: 'dist', external: ['electron'] });
  // Sandboxed preloads must be CommonJS.
  await build({ ...node, format: 'cjs', entryPoints: { preload: 'src-main/app/preload.ts' }, outdir: 'dist', outExtension: { '.js': '.cjs' }, external: ['electron'] });
}

if (existsSync('src-renderer/vite.config.ts') && process.argv[2] !== '--no-renderer') {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: 'src-renderer/vite.config.ts', logLevel: 'warn' });
}
