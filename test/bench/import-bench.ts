/**
 * Import benchmarks (issue 13): a 70,000-image 28×28 PNG folder (MNIST's digits, 10
 * class folders), a 60,000-row CSV (label,pixel0…pixel783 from MNIST train), the same
 * CSV's rows as an IDX .gz pair, and the Fashion-MNIST conversion. Each import runs in its
 * own child process, so its peak RSS (process.resourceUsage().maxRSS) is its own.
 * The inputs are generated once into the temp folder (lora-lab-import-bench) and reused.
 * Run: `npx tsx test/bench/import-bench.ts` — prints a table and one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadFashionMnist } from '../../src-main/data/fashion-mnist.ts';
import { importSource } from '../../src-main/data/import/index.ts';
import { loadMnist } from '../../src-main/data/mnist.ts';
import type { LoadedDataset } from '../../src-main/data/dataset.ts';

const ROOT = join(tmpdir(), 'lora-lab-import-bench');
const PNG_DIR = join(ROOT, 'png');
const CSV_FILE = join(ROOT, 'mnist_train.csv');
const IDX_DIR = join(ROOT, 'idx-gz');

interface Result {
  what: string;
  seconds: number;
  /** CPU seconds (user + system, all threads): less swayed by a busy machine than wall time. */
  cpu: number;
  /** MB: RSS before the import, and the process's high-water mark after it. */
  rssBefore: number;
  rssPeak: number;
  /** MB of the resulting typed arrays (x and labels, both splits). */
  arrays: number;
  train: number;
  test: number;
}

const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
const arraysBytes = (d: LoadedDataset) => d.train.x.byteLength + d.train.labels.byteLength + d.test.x.byteLength + d.test.labels.byteLength;

async function generate(): Promise<void> {
  const train = loadMnist('train');
  const test = loadMnist('test');
  if (!existsSync(join(PNG_DIR, '.complete'))) {
    rmSync(PNG_DIR, { recursive: true, force: true });
    for (let c = 0; c < 10; c++) mkdirSync(join(PNG_DIR, String(c)), { recursive: true });
    const all = [...[train, test].entries()].flatMap(([s, split]) => Array.from({ length: split.count }, (_, i) => ({ s, i, split })));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < all.length) {
          const { s, i, split } = all[next++]!;
          const px = split.x.subarray(i * 784, (i + 1) * 784);
          await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png().toFile(join(PNG_DIR, String(split.labels[i]), `${s ? 'test' : 'train'}-${i}.png`));
        }
      }),
    );
    writeFileSync(join(PNG_DIR, '.complete'), '');
    console.log(`generated ${all.length} PNGs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (!existsSync(CSV_FILE)) {
    const out = createWriteStream(`${CSV_FILE}.part`);
    out.write(`label,${Array.from({ length: 784 }, (_, p) => `pixel${p}`).join(',')}\n`);
    for (let i = 0; i < train.count; i++) {
      const line = `${train.labels[i]},${train.x.subarray(i * 784, (i + 1) * 784).join(',')}\n`;
      if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
    renameSync(`${CSV_FILE}.part`, CSV_FILE);
  }
  if (!existsSync(join(IDX_DIR, '.complete'))) {
    mkdirSync(IDX_DIR, { recursive: true });
    for (const [name, split] of [['train', train], ['t10k', test]] as const) {
      const img = Buffer.alloc(16 + split.x.length);
      img.writeUInt32BE(0x803, 0);
      img.writeUInt32BE(split.count, 4);
      img.writeUInt32BE(28, 8);
      img.writeUInt32BE(28, 12);
      img.set(split.x, 16);
      const lbl = Buffer.alloc(8 + split.count);
      lbl.writeUInt32BE(0x801, 0);
      lbl.writeUInt32BE(split.count, 4);
      lbl.set(split.labels, 8);
      writeFileSync(join(IDX_DIR, `${name}-images-idx3-ubyte.gz`), gzipSync(img));
      writeFileSync(join(IDX_DIR, `${name}-labels-idx1-ubyte.gz`), gzipSync(lbl));
    }
    writeFileSync(join(IDX_DIR, '.complete'), '');
  }
}

/** In the child: run one import and print its Result as JSON. */
async function one(what: string): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const d: LoadedDataset =
    what === 'png folder' ? await importSource(PNG_DIR, {}) : what === 'csv' ? await importSource(CSV_FILE, {}) : what === 'idx .gz' ? await importSource(IDX_DIR, {}) : await loadFashionMnist();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const r: Result = {
    what,
    seconds: Math.round(seconds * 100) / 100,
    cpu: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    rssBefore: mb(rssBefore),
    rssPeak: mb(process.resourceUsage().maxRSS * 1024),
    arrays: mb(arraysBytes(d)),
    train: d.train.count,
    test: d.test.count,
  };
  console.log(JSON.stringify(r));
}

const self = fileURLToPath(import.meta.url);
const arg = process.argv[2];
if (arg) {
  await one(arg);
} else {
  await generate();
  const results: Result[] = [];
  for (const what of ['png folder', 'csv', 'idx .gz', 'fashion-mnist']) {
    const out = execFileSync(process.execPath, [...process.execArgv, self, what], { encoding: 'utf8' });
    results.push(JSON.parse(out.trim().split('\n').at(-1) as string) as Result);
  }
  console.log('import            seconds  CPU s  RSS before  RSS peak  arrays   train/test');
  for (const r of results) {
    console.log(
      `${r.what.padEnd(16)} ${r.seconds.toFixed(2).padStart(8)} ${r.cpu.toFixed(1).padStart(6)} ${`${r.rssBefore} MB`.padStart(11)} ${`${r.rssPeak} MB`.padStart(9)} ${`${r.arrays} MB`.padStart(8)}   ${r.train}/${r.test}`,
    );
  }
  console.log(JSON.stringify({ bench: 'import', results }));
}
