#!/usr/bin/env node
// The lora-lab command: the bundled CLI (built by `npm run build`, which `npm ci` runs).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('lora-lab is not built yet: run `npm run build` in the project folder.');
  process.exit(1);
}
await import(cli.href);
