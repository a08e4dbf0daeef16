/**
 * MNIST after data sets became stored things: the classic demo must give the same table
 * (same seed, same numbers) and take the same time as the release before. Runs
 * `lora-lab demo --json` from a built checkout of that release and from this tree, side
 * by side and alternating (so machine load falls on both alike), and prints whether
 * every figure is identical and the time ratio.
 *
 *   git worktree add /tmp/prev <commit> && (cd /tmp/prev && npm ci && npm run build)
 *   npx tsx test/bench/mnist-regression-bench.ts --baseline /tmp/prev [--rounds 2] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const baseline = arg('--baseline');
if (!baseline) {
  console.error('usage: mnist-regression-bench.ts --baseline DIR (a built checkout of the previous release)');
  process.exit(2);
}
const rounds = Number(arg('--rounds') ?? 2);
// --quick: a shortened demo (a slice of the base epoch), for a fast check of the numbers.
const quick = process.argv.includes('--quick') ? ['--base-steps', '600', '--test-limit', '5000'] : [];
const here = fileURLToPath(new URL('../../', import.meta.url));

interface DemoJson {
  base: { accuracy: number; wrongPerClass: number[] };
  finetuned: { accuracy: number; wrongPerClass: number[] };
  trainableParams: number;
  totalParams: number;
}

function demo(root: string): { seconds: number; out: DemoJson } {
  const dir = mkdtempSync(join(tmpdir(), 'lora-lab-regression-'));
  try {
    const t = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/lora-lab.js'), 'demo', '--db', join(dir, 'lab.db'), '--json', '-q', ...quick], {
      encoding: 'utf8',
      env: { ...process.env, LORA_LAB_BACKEND: 'wasm' },
    });
    const seconds = (performance.now() - t) / 1000;
    if (r.status !== 0) throw new Error(`${root}: demo failed: ${r.stderr}`);
    return { seconds, out: JSON.parse(r.stdout) as DemoJson };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const figures = (d: DemoJson) => JSON.stringify([d.base.accuracy, d.base.wrongPerClass, d.finetuned.accuracy, d.finetuned.wrongPerClass, d.trainableParams, d.totalParams]);
const times = { before: [] as number[], now: [] as number[] };
let same = true;
let shown = '';
for (let i = 0; i < rounds; i++) {
  const a = demo(baseline);
  const b = demo(here);
  times.before.push(a.seconds);
  times.now.push(b.seconds);
  same &&= figures(a.out) === figures(b.out);
  shown = `base ${(b.out.base.accuracy * 100).toFixed(2)}%, wrong on 7: ${a.out.base.wrongPerClass[7]} → ${a.out.finetuned.wrongPerClass[7]} (previous release) and ${b.out.base.wrongPerClass[7]} → ${b.out.finetuned.wrongPerClass[7]} (this tree)`;
  console.log(`round ${i + 1}: previous ${a.seconds.toFixed(1)} s, this tree ${b.seconds.toFixed(1)} s`);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
console.log(`\nclassic demo${quick.length ? ' (--quick)' : ''}, ${rounds} rounds, wasm backend`);
console.log(`  ${shown}`);
console.log(`  every figure identical: ${same ? 'yes' : 'NO'}`);
console.log(`  median wall time: previous ${median(times.before).toFixed(1)} s, this tree ${median(times.now).toFixed(1)} s, ratio ${(median(times.now) / median(times.before)).toFixed(3)}`);
if (!same) process.exitCode = 1;
