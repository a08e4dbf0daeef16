/**
 * Remote workers (issue 17), measured side by side in one run on this machine, with a
 * real redis-server (started here, with a password) and real `lora-lab worker` processes:
 *   - throughput of the same 8 small base runs (784→16→10, 200 steps of 32) trained
 *     embedded (no Redis; local trainers at concurrency 1 and 2), on 1 worker and on
 *     2 workers — ratios against embedded at concurrency 1;
 *   - the queue's own overhead per run: a worker in this process that answers each job
 *     at once (no trainer), so a run's whole time on the host — blob, enqueue, the
 *     worker's start, its result, the host seeing it — is the queue (median of 30);
 *   - metric streaming: such a worker sends 500,000 points (in the batches a real
 *     worker's flush makes, 5,000 a stream entry) and the host takes them into its
 *     database: points per second, end to end.
 * Goals (the issue's): overhead under 50 ms a run, streaming ≥ 100,000 points/s.
 *
 *   npx tsx test/bench/remote-bench.ts
 */
import { join } from 'node:path';
import { cpus } from 'node:os';
import { Worker } from 'bullmq';
import { type RunConfig, defaultConfig } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { connection, connectChecked } from '../../src-main/remote/connect.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { KEYS, QUEUE, type RemoteJob } from '../../src-main/remote/protocol.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir('lora-lab-remote-bench-');
const redis = await TestRedis.start();
const addr = parseRedisUrl(redis.url);
const cfg = (seed: number, steps = 200): RunConfig => ({ ...defaultConfig('base'), sizes: [784, 16, 10], seed, batchSize: 32, epochs: 1000, maxSteps: steps, trainLimit: 640, testLimit: 500, evalEvery: 0 });
const secs = (t0: number) => (performance.now() - t0) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function sweep(lab: Lab, n: number): Promise<number> {
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => lab.createRun({ name: `b${i}`, config: cfg(i) })));
  const done = await Promise.all(runs.map((r) => lab.waitForRun(r.id)));
  for (const r of done) if (r.status !== 'completed') throw new Error(`run ${r.id}: ${r.status} ${r.error}`);
  return secs(t0);
}

const workers = [];
try {
  console.log(`remote workers on this machine: ${cpus().length} cores, redis-server on loopback with a password\n`);
  const N = 8;
  const rows: [string, number][] = [];
  for (const c of [1, 2]) {
    const lab = Lab.open(join(tmp.dir, `embedded-${c}.db`), { concurrency: c, host: { env: { ...process.env, LORA_LAB_BACKEND: 'wasm' } } });
    rows.push([`embedded, concurrency ${c}`, await sweep(lab, N)]);
    await lab.close();
  }
  for (const k of [1, 2]) {
    while (workers.length < k) workers.push(await startWorker(redis.url, `w${workers.length + 1}`, join(tmp.dir, `cache-${workers.length + 1}`)));
    const remote = await RemoteDispatcher.connect(addr);
    const lab = Lab.open(join(tmp.dir, `remote-${k}.db`), { remote });
    rows.push([`${k} worker${k > 1 ? 's' : ''} (concurrency 1 each)`, await sweep(lab, N)]);
    await lab.close();
    await remote.close();
  }
  const ref = rows[0]![1];
  console.log(`throughput: ${N} base runs (784→16→10, 200 steps of 32, 500 test images each)`);
  for (const [what, s] of rows) console.log(`  ${what.padEnd(32)} ${s.toFixed(1).padStart(6)} s   ${((N / s) * 60).toFixed(1).padStart(5)} runs/min   ×${(ref / s).toFixed(2)} of embedded at 1`);
  for (const w of workers) w.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));

  // ── the queue's own overhead: a worker that answers at once ───────────────────
  const side = await connectChecked(addr, 'bench-side');
  let stream = 0;
  const instant = new Worker(
    QUEUE,
    async (job) => {
      const data = job.data as RemoteJob;
      const key = KEYS.events(data.dispatch);
      await side.xadd(key, '*', 'e', JSON.stringify({ attempt: 'b1', worker: 'bench', msg: { type: 'ready', backend: 'none', device: 'none' } }));
      // Metric streaming: this many points, 5,000 to an entry, pipelined.
      for (let sent = 0; sent < stream; sent += 5000) {
        const p = side.pipeline();
        for (let k = 0; k < 10 && sent < stream; k++, sent += 5000) {
          const points = Array.from({ length: 5000 }, (_, i) => ({ key: 'train/loss', step: sent + i + 1, value: 1 / (sent + i + 1), time: Date.now() }));
          p.xadd(key, '*', 'e', JSON.stringify({ attempt: 'b1', worker: 'bench', msg: { type: 'metrics', points } }));
        }
        sent -= 5000;
        await p.exec();
      }
      return { attempt: 'b1', worker: 'bench', outcome: { status: 'cancelled', step: 0 } };
    },
    { connection: connection(addr, 'bench-instant'), concurrency: 4 },
  );
  const remote = await RemoteDispatcher.connect(addr);
  const lab = Lab.open(join(tmp.dir, 'overhead.db'), { remote });
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const r = await lab.waitForRun((await lab.createRun({ name: `o${i}`, config: cfg(i) })).id);
    if (r.status !== 'cancelled') throw new Error(`overhead run ${r.id}: ${r.status} ${r.error}`);
    times.push(performance.now() - t0);
  }
  console.log(`\nqueue overhead per run (createRun → stored outcome, nothing trained; n = 30): median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (goal < 50 ms)`);

  stream = 500_000;
  const t0 = performance.now();
  const r = await lab.waitForRun((await lab.createRun({ name: 'stream', config: cfg(99) })).id);
  const s = secs(t0);
  const stored = lab.store.metrics.count(r.id);
  console.log(`metric streaming: ${stored.toLocaleString('en-US')} points from a worker into the host's database in ${s.toFixed(2)} s: ${Math.round(stored / s).toLocaleString('en-US')} points/s (goal ≥ 100,000)`);
  await lab.close();
  await remote.close();
  await instant.close();
  side.disconnect();
} finally {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await redis.close();
  tmp.cleanup();
}
