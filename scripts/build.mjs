#!/usr/bin/env node
// Bundles the Node-side entry points into dist/ (dependencies stay external):
// dist/cli.js (the lora-lab command) and dist/trainer.js (the trainer process).
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
};

await build({ ...common, entryPoints: { cli: 'src-main/cli.ts', trainer: 'src-main/trainer/entry.ts' }, outdir: 'dist' });
