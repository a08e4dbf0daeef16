/**
 * Hostile clients against a real `lora-lab serve` process that is training a run: a
 * WebSocket message over the 64 KB limit, a text frame that is not UTF-8, and a JSON body
 * nested 200,000 deep. Each closes or refuses only that client; the process stays up,
 * still answers the API, keeps sending events to a well-behaved page, and the run
 * completes.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LabEvent, RunView } from '../../src-main/contract/api.ts';
import { decodeWire, encodeWire } from '../../src-main/lab/wire.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpText } from '../helpers/http.ts';

const tmp = tempDir();
let serve: ChildProcess;
let stderr = '';
let port = 0;
let token = '';

beforeAll(async () => {
  serve = labProcess(['serve', '--db', join(tmp.dir, 'lab.db')]);
  serve.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    serve.stdout!.on('data', (d) => {
      out += d;
      const m = /running at (\S+)/.exec(out);
      if (m) resolve(new URL(m[1] as string));
    });
    serve.once('exit', (code) => reject(new Error(`lora-lab serve exited (${code}) before it was ready: ${stderr}`)));
  });
  port = Number(url.port);
  token = url.searchParams.get('token') ?? '';
});

afterAll(async () => {
  if (serve.exitCode === null && serve.signalCode === null) {
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  tmp.cleanup();
});

const post = (call: string, body: string) => httpText({ port, token, path: `/api/${call}`, body });

async function call<T>(name: string, args: unknown[]): Promise<T> {
  const a = await post(name, encodeWire({ args }));
  const answer = decodeWire(a.body) as { ok: boolean; result?: T; error?: string };
  if (!answer.ok) throw new Error(`${name}: ${a.status} ${answer.error}`);
  return answer.result as T;
}

function connect(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events?token=${token}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The close code the server sends after `send` misbehaves on a fresh connection. */
async function closeCodeAfter(send: (ws: WebSocket) => void): Promise<number> {
  const ws = await connect();
  ws.on('error', () => undefined); // the server's close may race our own write
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  send(ws);
  return closed;
}

const alive = () => serve.exitCode === null && serve.signalCode === null;

describe('hostile clients against a training lora-lab serve', () => {
  it('an oversized message, invalid UTF-8 and 200,000-deep JSON end only their own connection; the run completes', async () => {
    // A well-behaved page, listening before the run exists.
    const page = await connect();
    const statuses: string[] = [];
    let sawRunning: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (sawRunning = resolve));
    let sawEnd: (r: RunView) => void = () => undefined;
    const ended = new Promise<RunView>((resolve) => (sawEnd = resolve));
    page.on('message', (data) => {
      const e = decodeWire(String(data)) as LabEvent;
      if (e.type !== 'run') return;
      statuses.push(e.run.status);
      if (e.run.status === 'running') sawRunning();
      if (['completed', 'failed', 'cancelled', 'interrupted'].includes(e.run.status)) sawEnd(e.run);
    });

    const config = { ...defaultConfig('base'), sizes: [784, 16, 10], trainLimit: 200, testLimit: 100, maxSteps: 200, epochs: 10, evalEvery: 50, evalSubset: 50 };
    const run = await call<RunView>('createRun', [{ name: 'trained under attack', config }]);
    await Promise.race([running, ended]);

    // Over maxPayload (64 KB): 1009 "message too big", for this connection only.
    expect(await closeCodeAfter((ws) => ws.send('x'.repeat(100_000)))).toBe(1009);
    // A text frame whose bytes are not UTF-8: 1007 "invalid frame payload data".
    expect(await closeCodeAfter((ws) => ws.send(Buffer.from([0x68, 0x69, 0xff, 0xfe, 0xc3]), { binary: false }))).toBe(1007);
    expect(alive(), stderr).toBe(true);

    // JSON nested 200,000 deep (objects: 150,000, to stay under the 1 MB body limit): a
    // clean 400 that says why, not a 500.
    for (const deep of ['{"args":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}', '{"args":[' + '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_000) + ']}']) {
      const a = await post('listRuns', deep);
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error).toMatch(/nested deeper than \d+ levels/);
    }

    const done = await ended;
    expect(done.id).toBe(run.id);
    expect(done.status).toBe('completed');
    expect(alive(), stderr).toBe(true);
    const runs = await call<RunView[]>('listRuns', []);
    expect(runs.find((r) => r.id === run.id)?.status).toBe('completed');
    expect(statuses).toContain('running');
    page.close();
  });
});
