#!/usr/bin/env node
// npm test: type-check, then every unit, integration and browser test through vitest.
// vitest's summary reporter prints the closing "N passed, N failed" line.
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' }).status ?? 1;

let status = run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
if (status !== 0) {
  console.error('type check failed');
  console.log('\n0 passed, 1 failed');
  process.exit(status);
}
status = run('npx', ['vitest', 'run', ...process.argv.slice(2)]);
process.exit(status);
