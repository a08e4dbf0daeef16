/**
 * `lora-lab serve --host`: a host other than loopback is refused unless --allow-remote
 * is given, with a sentence saying what the token then guards; with the flag it serves
 * and says it again.
 */
import { request } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src-main/cli/serve.ts';
import { lab, labProcess } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';

const tmp = tempDir();
const db = join(tmp.dir, 'lab.db');
afterAll(tmp.cleanup);

const GUARDS = 'anyone on the network who has the token URL can train, delete runs and models, and read and write the export folder';

describe('serve --host', () => {
  it('knows which hosts only this machine can reach', () => {
    for (const h of ['127.0.0.1', '127.4.5.6', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '[::]', '192.168.1.20', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });

  it('refuses 0.0.0.0 without --allow-remote, saying what the token would guard', async () => {
    const r = await lab(['serve', '--host', '0.0.0.0', '--db', db], {}, 60_000);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(GUARDS);
    expect(r.stderr).toContain('add --allow-remote');
  });

  it('serves on 0.0.0.0 with --allow-remote and repeats the warning', async () => {
    const child = labProcess(['serve', '--host', '0.0.0.0', '--allow-remote', '--db', db]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /running at (\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        void exited.then((code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/\?token=[0-9a-f]+$/);
      expect(stderr).toContain('--allow-remote');
      expect(stderr).toContain(GUARDS);
      // Reached under this machine's own name, the page answers; under a foreign name
      // (DNS rebinding) it is still refused.
      const { port, searchParams } = new URL(url);
      const status = (hostHeader: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: Number(port), path: `/api/listRuns`, method: 'POST', headers: { Host: hostHeader, 'Content-Type': 'application/json', Authorization: `Bearer ${searchParams.get('token')}` } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end('{"args":[]}');
        });
      expect(await status(`${hostname()}:${port}`)).toBe(200);
      expect(await status(`attacker.example:${port}`)).toBe(421);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
