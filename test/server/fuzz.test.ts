/**
 * Hostile input over HTTP: thousands of random and mutated payloads to every LabApi
 * call. The server stays up, every answer is a clean 4xx (or a 200 for a payload that
 * happens to be valid), and a rejected call never changes the database.
 */
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_CALLS, type LabCall } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { encodeWire } from '../../src-main/lab/wire.ts';
import { type RunningServer, startServer } from '../../src-main/server/server.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { Rng } from '../../src-main/util/rng.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpText } from '../helpers/http.ts';

const tmp = tempDir();
let lab: Lab;
let server: RunningServer;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'), { exportDir: join(tmp.dir, 'exports') });
  const rng = new Rng(3);
  const w = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const m = lab.store.models.create({ name: 'm', kind: 'imported', sizes: [784, 8, 10] });
  lab.store.tensors.put({ modelId: m.id }, {
    'linear1.weight': { shape: [8, 784], data: w(8 * 784) }, 'linear1.bias': { shape: [8], data: w(8) },
    'linear2.weight': { shape: [10, 8], data: w(80) }, 'linear2.bias': { shape: [10], data: w(10) },
  });
  for (let i = 0; i < 3; i++) {
    const r = lab.store.runs.create({ name: `run ${i}`, kind: 'base', config: { ...defaultConfig('base'), sizes: [784, 8, 10] } });
    lab.store.runs.finish(r.id, 'cancelled');
  }
  server = await startServer({ lab });
});
afterAll(async () => {
  agent.destroy();
  await server.close();
  await lab.close();
  tmp.cleanup();
});

const post = (call: string, body: string) => httpText({ port: server.port, token: server.token, path: `/api/${call}`, body, agent });

/** Every row of every table, hashed: "the database is unchanged". */
function dbHash(): string {
  const h = createHash('sha256');
  for (const t of ['models', 'adapters', 'tensors', 'runs', 'metrics', 'evaluations']) {
    for (const row of lab.store.db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`).raw().all()) h.update(JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
  }
  return h.digest('hex');
}

const WEIRD = ['', ' ', '\u0000', '../../etc/passwd', '__proto__', 'constructor', 'a'.repeat(5000), '💥', '%00', '<script>', 'NaN', '-1', '1e309', '{"$u8":"%%"}'];

function randomValue(rng: Rng, depth = 0): unknown {
  const k = rng.int(depth > 2 ? 7 : 10);
  switch (k) {
    case 0: return null;
    case 1: return rng.next() < 0.5;
    case 2: return [0, -1, 1, 2 ** 53, -(2 ** 31), 1.5, 1e308, 3][rng.int(8)];
    case 3: return WEIRD[rng.int(WEIRD.length)];
    case 4: return rng.int(5);
    case 5: return Number.NaN;
    case 6: return rng.next() * 1e6;
    case 7: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 8: return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [WEIRD[rng.int(WEIRD.length)] || 'k', randomValue(rng, depth + 1)]));
    default: return { $u8: 'AAEC' };
  }
}

/** A valid-looking payload per call, to mutate. */
const VALID: Record<LabCall, () => unknown[]> = {
  listRuns: () => [{ status: 'completed', kind: 'base', params: { 'lora.r': 1 } }],
  getRun: () => [1],
  createRun: () => [{ name: 'x', config: defaultConfig('base') }],
  cancelRun: () => [1],
  deleteRun: () => [2],
  renameRun: () => [1, 'renamed'],
  setTags: () => [1, ['a']],
  setNotes: () => [1, 'n'],
  compareRuns: () => [[1, 2]],
  listModels: () => [],
  listAdapters: () => [],
  presets: () => [],
  listDatasets: () => [],
  getDataset: () => [1],
  importDataset: () => [{ path: 'data.csv', name: 'd', format: 'csv', testFraction: 0.2, seed: 1 }],
  addBuiltinDataset: () => ['fashion-mnist'],
  deleteDataset: () => [1],
  datasetSamples: () => [1, 'test', [0, 1]],
  datasetLabels: () => [1, 'test'],
  previewMerge: () => [{ baseModelId: 1, adapters: [{ adapterId: 1, weight: 1 }], method: 'linear' }],
  saveMerge: () => [{ baseModelId: 1, adapters: [{ adapterId: 1, weight: 1 }], method: 'linear', name: 'm', output: 'model' }],
  listMergePreviews: () => [],
  keepMergePreview: () => [{ baseModelId: 1, adapters: [{ adapterId: 1, weight: 1 }], method: 'linear' }],
  saveMergePreview: () => [1, 'm', 'model'],
  deleteMergePreview: () => [1],
  exportWeights: () => [{ target: { kind: 'model', id: 1 }, format: 'safetensors', fileName: 'f.safetensors' }],
  importWeights: () => [{ fileName: 'f.safetensors', kind: 'model' }],
  listFolder: () => [],
  inspectAdapter: () => ['some-peft'],
  evaluateModel: () => [1],
  deleteModel: () => [1],
  deleteAdapter: () => [1],
  forgetting: () => [{ runIds: [1, 2], sweepId: 1 }],
  listWorkers: () => [],
  setQueue: () => [{ url: null, remember: false }],
  getWeights: () => [{ kind: 'adapter', id: 1 }],
  analyzeAdapter: () => [{ target: { kind: 'adapter', id: 1 }, vs: { kind: 'run', id: 2 }, intruders: { k: 10, epsilon: 0.5 } }],
  createSweep: () => [{ start: { kind: 'finetune', baseModelId: 1 }, axes: [{ path: 'lora.r', values: [1, 2] }, { path: 'lr', distribution: { kind: 'log-uniform', min: 1e-4, max: 1e-2 } }], trials: 2, seeds: 2, budget: 8, concurrency: 2, prune: { kind: 'asha', metric: 'val/accuracy' } }],
  listSweeps: () => [],
  getSweep: () => [1, 'accuracy'],
  cancelSweep: () => [1],
  resumeSweep: () => [1],
  deleteSweep: () => [1],
  groupRuns: () => [{ runIds: [1, 2], by: ['lora.r'] }],
  compareGroups: () => [{ groups: [{ name: 'a', runIds: [1] }, { runIds: [2] }] }],
};

/** Break one thing in a valid payload: a wrong type, a missing or extra field, a weird value. */
function mutate(rng: Rng, v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) {
    const a = [...v];
    const r = rng.int(4);
    if (r === 0 || a.length === 0) a.push(randomValue(rng));
    else if (r === 1) a.splice(rng.int(a.length), 1);
    else {
      const i = rng.int(a.length);
      a[i] = depth < 3 && rng.next() < 0.6 ? mutate(rng, a[i], depth + 1) : randomValue(rng);
    }
    return a;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(o);
    const r = rng.int(4);
    if (r === 0 || keys.length === 0) o[WEIRD[rng.int(WEIRD.length)] || 'extra'] = randomValue(rng);
    else if (r === 1) delete o[keys[rng.int(keys.length)] as string];
    else {
      const key = keys[rng.int(keys.length)] as string;
      o[key] = depth < 3 && rng.next() < 0.6 ? mutate(rng, o[key], depth + 1) : randomValue(rng);
    }
    return o;
  }
  return randomValue(rng);
}

// Calls that would start real work (training, evaluation, a sweep's runs) when handed a
// valid payload are only sent payloads that cannot be valid: a top-level extra argument.
// Background work would go on writing to the database while later calls are checked.
const HEAVY: LabCall[] = ['createRun', 'previewMerge', 'keepMergePreview', 'evaluateModel', 'createSweep', 'resumeSweep'];

describe('fuzzing every LabApi call over HTTP', () => {
  it('5,000+ random and mutated payloads: clean 4xx answers, the server stays up, rejected calls change nothing', async () => {
    const rng = new Rng(20261129);
    let baseline = dbHash();
    const statuses = new Map<number, number>();
    let sent = 0;
    for (let round = 0; round < 260; round++) {
      for (const call of LAB_CALLS) {
        const kind = rng.int(3);
        let args: unknown = kind === 0 ? randomValue(rng) : kind === 1 ? mutate(rng, VALID[call]()) : Array.from({ length: rng.int(3) }, () => randomValue(rng));
        if (HEAVY.includes(call)) args = [...(Array.isArray(args) ? args : [args]), ...VALID[call](), 'extra'];
        const body = rng.next() < 0.05 ? encodeWire({ args }).slice(0, rng.int(40)) : encodeWire(rng.next() < 0.03 ? args : { args });
        const r = await post(call, body);
        sent++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        expect([200, 400, 404, 409, 413], `${call} ${body.slice(0, 200)} → ${r.status} ${r.body.slice(0, 200)}`).toContain(r.status);
        const now = dbHash();
        if (r.status === 200) baseline = now;
        else expect(now, `${call} was rejected (${r.status}) but changed the database: ${body.slice(0, 200)}`).toBe(baseline);
      }
    }
    expect(sent).toBeGreaterThanOrEqual(5000);
    expect(statuses.get(400)! + (statuses.get(404) ?? 0)).toBeGreaterThan(sent * 0.8);
    const alive = await post('presets', encodeWire({ args: [] }));
    expect(alive.status).toBe(200);
    expect(lab.store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    // ~55 s alone on 2 cores (a database hash after every call); beside other test files under load, more than twice that.
  }, 400_000);
});
