/**
 * Inputs that used to crash or 500 the web server, against a real server over a real
 * Lab: JSON nested past the depth limit (a 400 that says why, decided without recursion,
 * and brackets inside strings do not count), and a renderer folder whose index.html is a
 * folder (the file stream's error ends that response, not the process).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../src-main/lab/lab.ts';
import { MAX_WIRE_DEPTH, WireError, decodeWire } from '../../src-main/lab/wire.ts';
import { type RunningServer, startServer } from '../../src-main/server/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpText } from '../helpers/http.ts';

const tmp = tempDir();
let lab: Lab;
let server: RunningServer;

beforeAll(async () => {
  // A broken build: index.html is a folder, so every page request falls back onto it.
  mkdirSync(join(tmp.dir, 'www', 'index.html'), { recursive: true });
  lab = Lab.open(join(tmp.dir, 'lab.db'));
  server = await startServer({ lab, staticDir: join(tmp.dir, 'www') });
});
afterAll(async () => {
  await server.close();
  await lab.close();
  tmp.cleanup();
});

const http = (method: string, path: string, body?: string) => httpText({ port: server.port, token: server.token, method, path, ...(body === undefined ? {} : { body }) });

const nested = (depth: number, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('JSON depth', () => {
  it('decodeWire refuses one level past the limit without recursing, and accepts the limit', () => {
    expect(decodeWire(nested(MAX_WIRE_DEPTH))).toBeInstanceOf(Array);
    expect(() => decodeWire(nested(MAX_WIRE_DEPTH + 1))).toThrow(WireError);
    expect(() => decodeWire(nested(1_000_000))).toThrow(/nested deeper than 100 levels/);
    // Brackets in strings, escaped quotes included, are text, not nesting.
    const text = `"\\"${'['.repeat(10_000)}"`;
    expect(decodeWire(`[${text}]`)).toEqual([`"${'['.repeat(10_000)}`]);
  });

  it('POST /api/<call> with 200,000 levels answers 400 saying why, and the server goes on', async () => {
    for (const body of [`{"args":${nested(200_000)}}`, `{"args":[${'{"a":'.repeat(150_000)}1${'}'.repeat(150_000)}]}`]) {
      const a = await http('POST', '/api/listRuns', body);
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error).toBe(`the body is refused: JSON nested deeper than ${MAX_WIRE_DEPTH} levels of arrays and objects is not accepted`);
    }
    // Deep brackets inside a string are only a (too long) search text: a schema 400.
    const inString = await http('POST', '/api/listRuns', JSON.stringify({ args: [{ text: '['.repeat(200_000) }] }));
    expect(inString.status).toBe(400);
    expect(JSON.parse(inString.body).error).toMatch(/^listRuns: invalid arguments/);
    expect((await http('POST', '/api/listRuns', '{"args":[]}')).status).toBe(200);
  });
});

describe('static files', () => {
  it('an index.html that cannot be read ends that response only', async () => {
    for (const path of ['/', '/index.html', '/some/page']) {
      const a = await http('GET', path);
      expect(a.status).toBe(404);
    }
    expect((await http('POST', '/api/listRuns', '{"args":[]}')).status).toBe(200);
  });
});
