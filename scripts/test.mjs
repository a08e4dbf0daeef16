#!/usr/bin/env node
// npm test: type-check, then every unit, integration and browser test through vitest,
// then the closing "N passed, N failed, N skipped" line (counted from vitest's JSON
// report, so it is the last line whatever the reporters print).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;

// Main process, CLI, trainer and tests; then the renderer: its .ts and .svelte files.
const typeChecks = [
  ['tsc', '-p', 'tsconfig.json', '--noEmit'],
  ['svelte-check', '--workspace', 'src-renderer', '--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human'],
];
for (const check of typeChecks) {
  if (run('npx', check) !== 0) {
    console.error(`type check failed: ${check[0]}`);
    console.log('\n0 passed, 1 failed');
    process.exit(1);
  }
}
// The CLI, trainer, Electron bundles and the UI the browser tests load.
if (run('node', ['scripts/build.mjs']) !== 0) {
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}
mkdirSync('test-results', { recursive: true });
const report = join('test-results', 'vitest.json');
rmSync(report, { force: true });
const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  // A file that failed before running any test (an import error …) counts as one failure.
  const brokenFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
  failed = r.numFailedTests + brokenFiles;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
} else {
  failed = 1;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || failed > 0 ? 1 : 0);
