/**
 * Writes a large lab database for load measurements: N runs (default 300) with M
 * metric points in all (default 3,000,000), base and LoRA runs mixed, evaluations and
 * tags, all through the store's own repositories.
 *
 *   npx tsx test/bench/seed-big-db.ts FILE [--runs 300] [--points 3000000]
 */
import { existsSync } from 'node:fs';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { Evaluation, MetricPoint } from '../../src-main/contract/protocol.ts';
import { Rng } from '../../src-main/util/rng.ts';

export function seedBigDb(file: string, runs = 300, points = 3_000_000): { runs: number; points: number; seconds: number } {
  if (existsSync(file)) throw new Error(`${file} exists; give a new file`);
  const t0 = performance.now();
  const store = openStore(file);
  const rng = new Rng(7);
  const base = store.models.create({ name: 'seed base', kind: 'imported', sizes: [784, 1000, 2000, 10] });
  const perRun = Math.floor(points / runs);
  const evalKeys = 2;
  const lossPoints = perRun - evalKeys * Math.floor(perRun / 100);
  let written = 0;
  for (let i = 0; i < runs; i++) {
    const kind = i % 3 === 0 ? 'base' : 'lora';
    const cfg = defaultConfig(kind);
    cfg.seed = i;
    cfg.lr = [1e-3, 3e-4, 3e-3][i % 3] as number;
    if (cfg.lora) {
      cfg.lora.r = [1, 2, 4, 8][i % 4] as number;
      cfg.lora.alpha = cfg.lora.r * 2;
      cfg.classes = [i % 10];
    }
    const run = store.runs.create({ name: `${kind} sweep ${i}`, kind, config: cfg, baseModelId: kind === 'lora' ? base.id : null });
    store.runs.markRunning(run.id, 'wasm', 'seeded');
    const now = Date.now() - (runs - i) * 60_000;
    const batch: MetricPoint[] = [];
    let loss = 2.3;
    for (let s = 1; s <= lossPoints; s++) {
      loss = Math.max(0.01, loss * 0.9995 + (rng.next() - 0.5) * 0.02);
      batch.push({ key: 'train/loss', step: s, value: loss, time: now + s * 10 });
      if (s % 100 === 0) {
        batch.push({ key: 'val/accuracy', step: s, value: 0.9 + 0.09 * (1 - loss / 2.3), time: now + s * 10 }, { key: 'val/loss', step: s, value: loss * 1.1, time: now + s * 10 });
      }
      if (batch.length >= 5000) written += flush(run.id, batch);
    }
    written += flush(run.id, batch);
    const wrong = Array.from({ length: 10 }, () => rng.int(60));
    const count = Array.from({ length: 10 }, () => 1000);
    const ev: Evaluation = {
      accuracy: 1 - wrong.reduce((a, b) => a + b, 0) / 10000,
      loss: loss,
      total: 10000,
      correct: 10000 - wrong.reduce((a, b) => a + b, 0),
      wrongPerClass: wrong,
      countPerClass: count,
      confusion: Array.from({ length: 10 }, (_, t) => Array.from({ length: 10 }, (_, p) => (t === p ? 1000 - (wrong[t] as number) : p === (t + 1) % 10 ? (wrong[t] as number) : 0))),
      predictions: new Uint8Array(10000),
    };
    store.evaluations.put(run.id, 'after', lossPoints, ev);
    if (kind === 'lora') store.evaluations.put(run.id, 'before', 0, { ...ev, wrongPerClass: wrong.map((w) => w + 5) });
    store.runs.finish(run.id, 'completed', {
      summary: { steps: lossPoints, epochs: 1, examples: 60000, stepsPerEpoch: 6000, finalLoss: loss, wallSeconds: 100, samplesPerSec: 1000, trainableParams: 6794, totalParams: 2807010, baseParams: 2807010, percentTrainable: 0.242, backend: 'wasm' },
    });
    if (i % 7 === 0) store.runs.setTags(run.id, ['sweep', `group-${i % 5}`]);
  }
  store.close();
  return { runs, points: written, seconds: (performance.now() - t0) / 1000 };

  function flush(runId: number, batch: MetricPoint[]): number {
    const n = batch.length;
    if (n) store.metrics.append(runId, batch.splice(0));
    return n;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) throw new Error('usage: seed-big-db.ts FILE [--runs N] [--points N]');
  const arg = (name: string, d: number) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? Number(rest[i + 1]) : d;
  };
  const r = seedBigDb(file, arg('runs', 300), arg('points', 3_000_000));
  console.log(JSON.stringify({ bench: 'seed-big-db', file, ...r }));
}
