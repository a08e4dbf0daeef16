/** A page opened under any allowed host name (127.0.0.1 or localhost) may call the API; other origins may not. */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { type RunningServer, startServer } from '../../src-main/server/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
let lab: Lab;
let server: RunningServer;
beforeAll(async () => {
  lab = Lab.open(join(tmp.dir, 'lab.db'));
  server = await startServer({ lab });
});
afterAll(async () => {
  await server.close();
  await lab.close();
  tmp.cleanup();
});

function call(host: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path: '/api/presets', method: 'POST', headers: { Host: host, Origin: origin, 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end('{"args":[]}');
  });
}

it('accepts its own origins under every allowed host name and refuses the rest', async () => {
  const p = server.port;
  expect(await call(`127.0.0.1:${p}`, `http://127.0.0.1:${p}`)).toBe(200);
  expect(await call(`localhost:${p}`, `http://localhost:${p}`)).toBe(200);
  expect(await call(`localhost:${p}`, `http://evil.example:${p}`)).toBe(403);
  expect(await call(`localhost:${p}`, `http://localhost:${p + 1}`)).toBe(403);
  expect(await call(`localhost:${p}`, 'null')).toBe(403);
  expect(await call(`localhost:${p}`, `https://localhost:${p}`)).toBe(403);
});
