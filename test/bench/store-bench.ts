/**
 * Store benchmarks (issue 3): metric ingest through `metrics.append` in trainer-sized
 * batches, and the compare read (10 runs × 10,000 points of one metric).
 * Run: `npx tsx test/bench/store-bench.ts` — prints a table and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { MetricPoint } from '../../src-main/contract/protocol.ts';

const INGEST_POINTS = 1_000_000;
const BATCH = 1_000;
const KEYS = ['train/loss', 'train/accuracy', 'lr', 'samples_per_sec'];
const COMPARE_RUNS = 10;
const COMPARE_POINTS = 10_000;
const READS = 20;
const TARGET_INGEST = 500_000;
const TARGET_COMPARE_MS = 50;

/** Points as a trainer sends them: every key at every step, wall-clock times. */
function points(count: number, keys: readonly string[], t0: number): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (let i = 0; i < count; i++) {
    const step = Math.floor(i / keys.length);
    out.push({ key: keys[i % keys.length] as string, step, value: Math.exp(-step / 5e4) + Math.random() * 0.01, time: t0 + step });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const dir = mkdtempSync(join(tmpdir(), 'lora-lab-bench-'));
try {
  const store = openStore(join(dir, 'lab.db'));
  const newRun = (name: string) => store.runs.create({ name, kind: 'base', config: defaultConfig('base') }).id;

  // Ingest: generated up front so only the store is timed.
  const ingestRun = newRun('ingest');
  const all = points(INGEST_POINTS, KEYS, Date.now());
  const batches: MetricPoint[][] = [];
  for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
  const t0 = performance.now();
  for (const b of batches) store.metrics.append(ingestRun, b);
  const ingestSeconds = (performance.now() - t0) / 1000;
  const ingestRate = INGEST_POINTS / ingestSeconds;
  if (store.metrics.count(ingestRun) !== INGEST_POINTS) throw new Error('ingest lost points');

  // Compare read: 10 runs with 10,000 points of `train/loss` each (plus other keys, as in life).
  const runIds: number[] = [];
  for (let r = 0; r < COMPARE_RUNS; r++) {
    const id = newRun(`compare ${r}`);
    const pts = points(COMPARE_POINTS * 2, ['train/loss', 'train/accuracy'], Date.now());
    for (let i = 0; i < pts.length; i += BATCH) store.metrics.append(id, pts.slice(i, i + BATCH));
    runIds.push(id);
  }
  store.metrics.seriesMany(runIds, 'train/loss'); // warm the page cache and the JIT
  const reads: number[] = [];
  for (let i = 0; i < READS; i++) {
    const t = performance.now();
    const series = store.metrics.seriesMany(runIds, 'train/loss');
    reads.push(performance.now() - t);
    const n = series.reduce((a, s) => a + s.values.length, 0);
    if (n !== COMPARE_RUNS * COMPARE_POINTS) throw new Error(`compare read returned ${n} points`);
  }
  const compareMs = median(reads);
  store.close();

  const rows = [
    ['metric ingest', `${Math.round(ingestRate).toLocaleString('en')} points/s`, `≥ ${TARGET_INGEST.toLocaleString('en')}`, ingestRate >= TARGET_INGEST],
    ['compare read', `${compareMs.toFixed(1)} ms (median of ${READS})`, `≤ ${TARGET_COMPARE_MS} ms`, compareMs <= TARGET_COMPARE_MS],
  ] as const;
  console.log(`ingest: ${INGEST_POINTS.toLocaleString('en')} points in batches of ${BATCH} (${ingestSeconds.toFixed(2)} s)`);
  console.log(`compare: ${COMPARE_RUNS} runs × ${COMPARE_POINTS.toLocaleString('en')} points of one metric`);
  console.log('| benchmark | result | target | ok |\n|---|---|---|---|');
  for (const [name, result, target, ok] of rows) console.log(`| ${name} | ${result} | ${target} | ${ok ? 'yes' : 'NO'} |`);
  console.log(
    JSON.stringify({
      bench: 'store',
      ingestPointsPerSec: Math.round(ingestRate),
      ingestTarget: TARGET_INGEST,
      ingestPoints: INGEST_POINTS,
      batch: BATCH,
      compareMedianMs: Number(compareMs.toFixed(2)),
      compareMinMs: Number(Math.min(...reads).toFixed(2)),
      compareTargetMs: TARGET_COMPARE_MS,
      compareRuns: COMPARE_RUNS,
      comparePoints: COMPARE_POINTS,
      ok: rows.every((r) => r[3]),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
