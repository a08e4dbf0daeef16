/**
 * app://lora-lab serves the built renderer and nothing else: traversal in any spelling
 * is refused, every answer carries the CSP, and client-side routes get index.html.
 * (Chromium normalises plain `..` before the handler; the encoded spellings reach it.)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CSP } from '../../src-main/server/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const registered = vi.hoisted(() => ({ schemes: [] as unknown[] }));
vi.mock('electron', () => ({ protocol: { registerSchemesAsPrivileged: (s: unknown[]) => registered.schemes.push(...s) } }));

const { appResponse, registerAppScheme, resolveAppFile } = await import('../../src-main/app/app-protocol.ts');

const tmp = tempDir();
afterAll(tmp.cleanup);
const root = join(tmp.dir, 'renderer');
mkdirSync(join(root, 'assets'), { recursive: true });
writeFileSync(join(root, 'index.html'), '<!doctype html><title>LoRA Lab</title>');
writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
writeFileSync(join(tmp.dir, 'secret.txt'), 'TOP SECRET');

describe('registerAppScheme', () => {
  it('registers app: as a standard, secure scheme that does not bypass the CSP', () => {
    registerAppScheme();
    expect(registered.schemes).toEqual([{ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
    expect((registered.schemes[0] as { privileges: { bypassCSP?: boolean } }).privileges.bypassCSP).toBeFalsy();
  });
});

describe('resolveAppFile', () => {
  it('serves index.html, assets, and index.html for client-side routes', async () => {
    expect(await resolveAppFile(root, 'app://lora-lab/')).toEqual({ file: join(root, 'index.html') });
    expect(await resolveAppFile(root, 'app://lora-lab/index.html')).toEqual({ file: join(root, 'index.html') });
    expect(await resolveAppFile(root, 'app://lora-lab/assets/app.js?v=1#x')).toEqual({ file: join(root, 'assets', 'app.js') });
    expect(await resolveAppFile(root, 'app://lora-lab/runs/3')).toEqual({ file: join(root, 'index.html') });
  });

  it('answers 404 for a missing asset and for another host', async () => {
    expect(await resolveAppFile(root, 'app://lora-lab/assets/missing.js')).toEqual({ status: 404 });
    expect(await resolveAppFile(root, 'app://evil/index.html')).toEqual({ status: 404 });
    expect(await resolveAppFile(root, 'https://lora-lab/index.html')).toEqual({ status: 404 });
  });

  it.each([
    'app://lora-lab/..%2fsecret.txt',
    'app://lora-lab/..%2Fsecret.txt',
    'app://lora-lab/assets/..%2f..%2fsecret.txt',
    'app://lora-lab/%2e%2e/secret.txt',
    'app://lora-lab/%2e%2e%2fsecret.txt',
    'app://lora-lab/..%5csecret.txt',
    'app://lora-lab/%252e%252e/secret.txt',
    'app://lora-lab/../secret.txt',
    'app://lora-lab/%2fetc%2fpasswd',
  ])('never serves a file outside the renderer: %s', async (url) => {
    const r = await resolveAppFile(root, url);
    if ('file' in r) expect(r.file.startsWith(root)).toBe(true);
    else expect([400, 403, 404]).toContain(r.status);
    const res = await appResponse(root, 'GET', url);
    expect(await res.text()).not.toContain('TOP SECRET');
  });

  it('refuses NUL bytes and broken escapes', async () => {
    expect(await resolveAppFile(root, 'app://lora-lab/index.html%00.js')).toEqual({ status: 400 });
    expect(await resolveAppFile(root, 'app://lora-lab/%E0%A4%A')).toEqual({ status: 400 });
  });
});

describe('appResponse', () => {
  it('sends the file with its type, the CSP and nosniff', async () => {
    const res = await appResponse(root, 'GET', 'app://lora-lab/assets/app.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe('console.log(1)');
  });

  it('puts the CSP on refusals too, answers HEAD without a body and refuses other methods', async () => {
    const missing = await appResponse(root, 'GET', 'app://lora-lab/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toBe(CSP);
    const head = await appResponse(root, 'HEAD', 'app://lora-lab/index.html');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await appResponse(root, 'POST', 'app://lora-lab/index.html')).status).toBe(405);
  });
});
