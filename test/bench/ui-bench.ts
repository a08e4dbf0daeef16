/**
 * The UI under load, in the real browser: a database of 300 runs and 3 million metric
 * points (seed-big-db.ts), web mode over it, Debian chromium. Measures how long the Runs
 * page takes to become interactive (rows shown, then a search typed and the table
 * filtered) and how long a Compare of 10 runs takes to render its charts. Reported, not
 * asserted: machines are noisy (targets: ≤ 1 s each).
 *
 *   npx tsx test/bench/ui-bench.ts [--runs 300] [--points 3000000]
 */
import { join } from 'node:path';
import { Lab } from '../../src-main/lab/lab.ts';
import { startServer } from '../../src-main/server/server.ts';
import { STATIC_DIR, launchChromium } from '../helpers/browser.ts';
import { tempDir } from '../helpers/tmp.ts';
import { seedBigDb } from './seed-big-db.ts';

const argv = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;

const tmp = tempDir();
const file = join(tmp.dir, 'big.db');
const seeded = seedBigDb(file, arg('runs', 300), arg('points', 3_000_000));
const lab = Lab.open(file, { recover: false });
const server = await startServer({ lab, staticDir: STATIC_DIR });
const browser = await launchChromium();
try {
  const runsMs: number[] = [];
  const searchMs: number[] = [];
  const compareMs: number[] = [];
  const ids = (await lab.listRuns()).slice(0, 10).map((r) => r.id);
  for (let i = 0; i < 5; i++) {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    let t0 = performance.now();
    await page.goto(`${server.url}#/runs`);
    await page.locator('tr[data-run-id]').first().waitFor();
    runsMs.push(performance.now() - t0);
    t0 = performance.now();
    await page.locator('input.search').fill(`sweep ${seeded.runs - 1}`);
    await page.waitForFunction(() => document.querySelectorAll('tr[data-run-id]').length === 1);
    searchMs.push(performance.now() - t0);
    t0 = performance.now();
    await page.evaluate((h) => (location.hash = h), `#/compare?ids=${ids.join(',')}`);
    await page.waitForFunction(() => document.querySelectorAll('.uplot canvas').length >= 2);
    compareMs.push(performance.now() - t0);
    await page.close();
  }
  const result = {
    bench: 'ui',
    runs: seeded.runs,
    points: seeded.points,
    runsPageInteractiveMs: Math.round(median(runsMs)),
    searchFilterMs: Math.round(median(searchMs)),
    compare10RunsMs: Math.round(median(compareMs)),
    target: '≤ 1000 ms each',
  };
  console.log(`| UI with ${seeded.runs} runs, ${seeded.points.toLocaleString('en-US')} metric points | median of 5 |`);
  console.log('|---|---|');
  console.log(`| Runs page: load to rows shown | ${result.runsPageInteractiveMs} ms |`);
  console.log(`| Runs page: type a search, table filtered | ${result.searchFilterMs} ms |`);
  console.log(`| Compare of 10 runs (≈10,000 points each): charts drawn | ${result.compare10RunsMs} ms |`);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await server.close();
  await lab.close();
  tmp.cleanup();
}
