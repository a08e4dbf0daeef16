/**
 * Redis as a careful user runs it (real redis-server, real `lora-lab worker` processes):
 * an ACL user whose keys are only LoRA Lab's and BullMQ's, the default user switched
 * off; and TLS only, with a certificate of a private CA handed over through
 * LORA_LAB_REDIS_CA. Runs train through both; the default user, a TLS server without its
 * CA, plain TCP to a TLS port and an unreadable CA file are one clear line each; the
 * password is never printed nor in the database.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunConfig, defaultConfig, defaultLora } from '../../src-main/contract/config.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { parseRedisUrl } from '../../src-main/remote/redis-url.ts';
import { lab as cli } from '../helpers/cli.ts';
import { OPENSSL, REDIS_SERVER, TestRedis, startWorker } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

const SIZES = [784, 16, 10];
const base: RunConfig = { ...defaultConfig('base'), sizes: SIZES, batchSize: 32, maxSteps: 6, trainLimit: 320, testLimit: 200, evalEvery: 0 };
const lora: RunConfig = { ...defaultConfig('lora'), sizes: SIZES, batchSize: 16, maxSteps: 6, trainLimit: 320, testLimit: 200, evalEvery: 0, classes: [7], lora: { ...defaultLora(SIZES), r: 2, alpha: 2 } };

const servers: TestRedis[] = [];
const workers: ChildProcess[] = [];
const tmp = tempDir('lora-lab-remote-sec-');

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  for (const s of servers) await s.close();
  tmp.cleanup();
});

/** A base and a fine-tune of it through a worker on `url`; the database holds no trace of `password`. */
async function trainThrough(url: string, env: Record<string, string>, worker: string, password: string): Promise<void> {
  workers.push(await startWorker(url, worker, join(tmp.dir, `cache-${worker}`), env));
  const remote = await RemoteDispatcher.connect(parseRedisUrl(url, env));
  const file = join(tmp.dir, `${worker}.db`);
  const l = Lab.open(file, { remote });
  try {
    const b = await l.waitForRun((await l.createRun({ config: base })).id);
    expect(b.status, b.error ?? '').toBe('completed');
    expect(b.device).toMatch(new RegExp(`· worker ${worker}$`));
    const t = await l.waitForRun((await l.createRun({ baseModelId: b.modelId!, config: lora })).id);
    expect(t.status, t.error ?? '').toBe('completed');
    expect(t.adapterId).not.toBeNull();
    const workersSeen = await remote.workers();
    expect(workersSeen.map((w) => w.name)).toContain(worker);
  } finally {
    await l.close();
    await remote.close();
  }
  expect(readFileSync(file).includes(password)).toBe(false);
}

describe.skipIf(!REDIS_SERVER)('an ACL user', { timeout: 120_000 }, () => {
  it('trains through a user allowed only LoRA Lab’s and BullMQ’s keys; the switched-off default user is refused', async () => {
    const redis = await TestRedis.start({ acl: true });
    servers.push(redis);
    expect(redis.url).toMatch(/^redis:\/\/lab:/);
    await trainThrough(redis.url, {}, 'acl1', redis.password);
    const asDefault = redis.url.replace('//lab:', '//:');
    const r = await cli(['worker', '--redis', asDefault]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lora-lab: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: the password \(or ACL user\) was refused/);
    expect(r.stderr + r.stdout).not.toContain(redis.password);
  });
});

describe.skipIf(!REDIS_SERVER || !OPENSSL)('TLS (rediss://)', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start({ tls: true, acl: true });
    servers.push(redis);
  });

  it('trains through a TLS-only Redis whose certificate a private CA signed (LORA_LAB_REDIS_CA)', async () => {
    expect(redis.url).toMatch(/^rediss:\/\/lab:/);
    await trainThrough(redis.url, { LORA_LAB_REDIS_CA: redis.caFile }, 'tls1', redis.password);
  });

  it('without its CA, over plain TCP, or with an unreadable CA file: one clear line each', async () => {
    const noCa = await cli(['worker', '--redis', redis.url]);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/^lora-lab: cannot reach Redis at rediss:\/\/lab:\*\*\*@127\.0\.0\.1:\d+: TLS failed \(.*certificate.*\); a certificate of a private CA needs LORA_LAB_REDIS_CA=ca\.pem/);
    const plain = await cli(['worker', '--redis', redis.url.replace('rediss:', 'redis:')], {}, 60_000);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^lora-lab: cannot reach Redis at redis:\/\/lab:\*\*\*@127\.0\.0\.1:\d+: the server closed the connection \(a TLS-only port\? then the URL is rediss:\/\/\)$/m);
    const missing = await cli(['worker', '--redis', redis.url], { LORA_LAB_REDIS_CA: join(tmp.dir, 'nope.pem') });
    expect(missing.code).toBe(2); // a setting that cannot be used, like a malformed --redis
    expect(missing.stderr).toMatch(/LORA_LAB_REDIS_CA: cannot read the CA file .*nope\.pem \(ENOENT\)/);
    for (const r of [noCa, plain, missing]) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr + r.stdout).not.toContain(redis.password);
    }
  });
});
