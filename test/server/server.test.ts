/**
 * Web mode's security and API against a real Lab on a temporary database: the token
 * (HTTP and WebSocket), the Host check against DNS rebinding, the Origin check against
 * cross-site requests, body size and type limits, static files confined to the renderer
 * folder, call routing and schema errors, round trips, and live events on the socket.
 */
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LabEvent, Presets, RunView } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { decodeWire } from '../../src-main/lab/wire.ts';
import { CSP, type RunningServer, startServer } from '../../src-main/server/server.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: any method, path (sent as is) and headers, Host included. */
function http(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A WebSocket handshake: the status of a refusal, or 101. */
function handshake(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web-mode server', () => {
  const tmp = tempDir();
  const www = join(tmp.dir, 'www');
  let lab: Lab;
  let server: RunningServer;
  let runId = 0;
  let host = '';
  const json = (body: unknown, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { Host: host, Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json', ...extra },
    body: JSON.stringify(body),
  });
  const callApi = (call: string, args: unknown[], extra: Record<string, string> = {}) => http(server.port, `/api/${call}`, json({ args }, extra));

  beforeAll(async () => {
    mkdirSync(join(www, 'assets'), { recursive: true });
    writeFileSync(join(www, 'index.html'), '<!doctype html><title>LoRA Lab</title>');
    writeFileSync(join(www, 'assets', 'app.js'), 'console.log("app")');
    writeFileSync(join(tmp.dir, 'secret.txt'), 'TOP SECRET');
    lab = Lab.open(join(tmp.dir, 'lab.db'));
    const config = (await lab.presets()).base;
    runId = lab.store.runs.create({ name: 'stored run', kind: 'base', config, baseModelId: null, status: 'completed' }).id;
    server = await startServer({ lab, staticDir: www, maxBodyBytes: 4096 });
    host = `127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    await lab.close();
    tmp.cleanup();
  });

  describe('the token', () => {
    it('is random, long, and in the printed URL on 127.0.0.1', () => {
      expect(server.token).toMatch(/^[0-9a-f]{48}$/);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    });

    it('is required on the API: 401 without one or with a wrong one', async () => {
      const body = JSON.stringify({ args: [] });
      const h = { Host: host, 'Content-Type': 'application/json' };
      expect((await http(server.port, '/api/presets', { method: 'POST', headers: h, body })).status).toBe(401);
      const sameLength = server.token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
      for (const wrong of ['nope', sameLength, `${server.token}x`, '']) {
        expect((await http(server.port, '/api/presets', { method: 'POST', headers: { ...h, Authorization: `Bearer ${wrong}` }, body })).status, wrong).toBe(401);
        expect((await http(server.port, `/api/presets?token=${wrong}`, { method: 'POST', headers: h, body })).status, wrong).toBe(401);
        expect((await http(server.port, '/api/presets', { method: 'POST', headers: { ...h, Cookie: `lora_lab_token=${wrong}` }, body })).status, wrong).toBe(401);
      }
    });

    it('is required for the page and its assets', async () => {
      expect((await http(server.port, '/', { headers: { Host: host } })).status).toBe(401);
      expect((await http(server.port, '/assets/app.js', { headers: { Host: host } })).status).toBe(401);
    });

    it('is accepted as a bearer header, a query parameter or the cookie the page gets', async () => {
      const page = await http(server.port, `/?token=${server.token}`, { headers: { Host: host } });
      expect(page.status).toBe(200);
      const cookie = String(page.headers['set-cookie']);
      expect(cookie).toMatch(new RegExp(`lora_lab_token=${server.token}`));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const viaCookie = await http(server.port, '/api/presets', { method: 'POST', headers: { Host: host, Cookie: `lora_lab_token=${server.token}`, 'Content-Type': 'application/json' }, body: '{"args":[]}' });
      expect(viaCookie.status).toBe(200);
      expect((await callApi('presets', [])).status).toBe(200);
    });

    it('is required on the WebSocket: 401 without one or with a wrong one', async () => {
      expect(await handshake(server.port, '/api/events', { Host: host })).toBe(401);
      expect(await handshake(server.port, '/api/events?token=wrong', { Host: host })).toBe(401);
      expect(await handshake(server.port, '/api/events', { Host: host, Cookie: 'lora_lab_token=wrong' })).toBe(401);
      expect(await handshake(server.port, `/api/events?token=${server.token}`, { Host: host })).toBe(101);
    });
  });

  describe('DNS rebinding and cross-site requests', () => {
    it('answers 421 to a foreign Host header, token or not (HTTP and WebSocket)', async () => {
      for (const foreign of ['evil.example', `evil.example:${server.port}`, `127.0.0.1.nip.io:${server.port}`, `127.0.0.1:${server.port + 1}`]) {
        expect((await callApi('presets', [], { Host: foreign })).status, foreign).toBe(421);
        expect((await http(server.port, `/?token=${server.token}`, { headers: { Host: foreign } })).status, foreign).toBe(421);
        expect(await handshake(server.port, `/api/events?token=${server.token}`, { Host: foreign }), foreign).toBe(421);
      }
    });

    it('accepts the local names of this port', async () => {
      for (const local of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `LOCALHOST:${server.port}`]) {
        expect((await callApi('presets', [], { Host: local })).status, local).toBe(200);
      }
    });

    it('answers 403 to a POST from another origin, even with the token', async () => {
      for (const origin of ['https://evil.example', `http://localhost.evil.example:${server.port}`, 'null', `http://127.0.0.1:${server.port + 1}`]) {
        const r = await callApi('renameRun', [runId, 'pwned'], { Origin: origin });
        expect(r.status, origin).toBe(403);
      }
      expect(lab.store.runs.get(runId).name).toBe('stored run');
      expect((await callApi('presets', [], { Origin: server.origin })).status).toBe(200);
    });

    it('answers 403 to a WebSocket from another origin, even with the token', async () => {
      expect(await handshake(server.port, `/api/events?token=${server.token}`, { Host: host, Origin: 'https://evil.example' })).toBe(403);
      expect(await handshake(server.port, `/api/events?token=${server.token}`, { Host: host, Origin: server.origin })).toBe(101);
    });
  });

  describe('request limits', () => {
    it('answers 413 to a body over the limit (declared length)', async () => {
      const r = await http(server.port, '/api/setNotes', json({ args: [runId, 'x'.repeat(10_000)] }));
      expect(r.status).toBe(413);
      expect(lab.store.runs.get(runId).notes).toBe('');
    });

    it('answers 413 to a chunked body over the limit', async () => {
      const r = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/api/setNotes', method: 'POST', headers: { ...json(null).headers, 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write(`{"args":[${runId},"`);
        req.write('x'.repeat(8192));
        req.end('"]}');
      });
      expect(r).toBe(413);
    });

    it('answers 415 to a body that is not JSON by type', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const r = await http(server.port, '/api/presets', { ...json({ args: [] }), headers: { ...json(null).headers, 'Content-Type': type } });
        expect(r.status, type).toBe(415);
      }
      const none = json({ args: [] });
      const { 'Content-Type': _dropped, ...withoutType } = none.headers;
      expect((await http(server.port, '/api/presets', { ...none, headers: withoutType })).status).toBe(415);
    });

    it('answers 405 to other methods on the API and 400 to broken JSON', async () => {
      expect((await http(server.port, '/api/presets', { headers: { Host: host, Authorization: `Bearer ${server.token}` } })).status).toBe(405);
      const broken = await http(server.port, '/api/presets', { ...json(null), body: '{"args": [' });
      expect(broken.status).toBe(400);
      expect(JSON.parse(broken.body).error).toMatch(/not valid JSON/);
      expect((await http(server.port, '/api/presets', { ...json(null), body: '[1,2]' })).status).toBe(400);
    });
  });

  describe('static files', () => {
    const get = (path: string) => http(server.port, path, { headers: { Host: host, Authorization: `Bearer ${server.token}` } });

    it('serves the renderer with the CSP and nosniff', async () => {
      const r = await get('/assets/app.js');
      expect(r.status).toBe(200);
      expect(r.body).toBe('console.log("app")');
      expect(r.headers['content-security-policy']).toBe(CSP);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    });

    it.each([
      '/../package.json',
      '/../secret.txt',
      '/..%2fsecret.txt',
      '/..%2Fsecret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%252e%252e/secret.txt',
      '/..%00/secret.txt',
      '/%2fetc%2fpasswd',
      '/....//secret.txt',
      '//../secret.txt',
    ])('never serves a file outside the renderer: %s', async (path) => {
      const r = await get(path);
      expect(r.body).not.toContain('TOP SECRET');
      expect(r.body).not.toContain('"name": "lora-lab"');
      expect(r.body).not.toContain('root:');
      if (r.status === 200) expect(r.body).toContain('<title>LoRA Lab</title>'); // the app's own page, nothing else
      else expect([400, 403, 404]).toContain(r.status);
    });
  });

  describe('the API', () => {
    it('answers 404 to an unknown call', async () => {
      for (const call of ['nope', 'subscribe', 'constructor', '__proto__', 'store', 'close', 'waitForRun']) {
        const r = await callApi(call, []);
        expect(r.status, call).toBe(404);
        expect(JSON.parse(r.body)).toMatchObject({ ok: false, status: 404 });
      }
    });

    it('answers 400 with the schema message to invalid arguments', async () => {
      const r = await callApi('getRun', ['1']);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, status: 400, error: expect.stringMatching(/^getRun: invalid arguments at 0: /) });
      const extra = await callApi('renameRun', [runId, 'a', 'b']);
      expect(extra.status).toBe(400);
      expect(JSON.parse(extra.body).error).toMatch(/^renameRun: invalid arguments/);
      expect((await callApi('listRuns', [{ status: 'pwned' }])).status).toBe(400);
      expect(lab.store.runs.get(runId).name).toBe('stored run');
    });

    it('maps Lab errors to their status', async () => {
      const missing = await callApi('getRun', [987]);
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body).error).toBe('run 987 does not exist');
      expect((await callApi('cancelRun', [runId])).status).toBe(409);
    });

    it('round-trips presets and listRuns', async () => {
      const presets = await callApi('presets', []);
      expect(presets.status).toBe(200);
      expect(presets.headers['content-type']).toMatch(/^application\/json/);
      const p = (decodeWire(presets.body) as { ok: true; result: Presets }).result;
      expect(p).toEqual(await lab.presets());

      const runs = await callApi('listRuns', []);
      const list = (decodeWire(runs.body) as { ok: true; result: RunView[] }).result;
      expect(list).toEqual(await lab.listRuns());
      expect(list.map((r) => [r.id, r.name, r.status])).toEqual([[runId, 'stored run', 'completed']]);
      const filtered = await callApi('listRuns', [{ status: ['failed', 'cancelled'] }]);
      expect((decodeWire(filtered.body) as { result: unknown[] }).result).toEqual([]);
    });

    it('pushes a LabEvent to the WebSocket after renameRun', async () => {
      const ws = new WebSocket(`ws://${host}/api/events?token=${server.token}`, { headers: { Origin: server.origin } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const event = new Promise<LabEvent>((resolve) => {
        ws.on('message', (data) => {
          const e = decodeWire(String(data)) as LabEvent;
          if (e.type === 'run' && e.run.id === runId && e.run.name === 'renamed on the web') resolve(e);
        });
      });
      const r = await callApi('renameRun', [runId, 'renamed on the web']);
      expect(r.status).toBe(200);
      const e = await event;
      expect(e).toMatchObject({ type: 'run', run: { id: runId, name: 'renamed on the web', status: 'completed' } });
      ws.close();
    });

    // atob's DOMException on bad base64 in a tagged value must not become a 500.
    it('answers 400, not 500, to a tagged value with broken base64', async () => {
      const r = await http(server.port, '/api/datasetSamples', { ...json(null), body: '{"args":[1,"test",{"$u8":"%%%"}]}' });
      expect(r.status).toBe(400);
    });

    // `new URL(req.url, origin)` throws on a request target such as `//[`; uncaught in
    // the upgrade listener it would end the whole `lora-lab serve` process.
    it('survives a request target that is not a URL (HTTP and WebSocket)', async () => {
      expect((await http(server.port, '//[', { headers: { Host: host } })).status).toBe(400);
      expect(await handshake(server.port, '//[', { Host: host })).toBe(400);
      expect((await callApi('presets', [])).status).toBe(200);
    });

    it('ignores what a page sends on the socket', async () => {
      const ws = new WebSocket(`ws://${host}/api/events?token=${server.token}`);
      await new Promise<void>((resolve) => ws.once('open', () => resolve()));
      ws.send(JSON.stringify({ call: 'deleteRun', args: [runId] }));
      await new Promise((r) => setTimeout(r, 100));
      expect(lab.store.runs.find(runId)).toBeDefined();
      ws.close();
    });
  });
});
