/**
 * Serves the built renderer (dist/renderer) on `app://lora-lab/` instead of file://:
 * the page gets a real, checkable origin, file:'s extra privileges stay unused, and
 * every response carries the Content-Security-Policy as a header (web mode's CSP).
 * Only files inside the renderer folder are served; anything else is 403 or 404.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { type Session, protocol } from 'electron';
import { CSP } from '../server/csp.ts';
import { APP_SCHEME, isAppUrl } from './origin.ts';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Must run before `app` is ready: a standard, secure scheme with fetch and CORS, never CSP-bypassing. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
  ]);
}

export type Resolved = { file: string } | { status: 400 | 403 | 404 };

/**
 * The file an app:// URL names inside `root`, or why there is none. Paths the page asks
 * for without an extension (client-side routes) get index.html; missing assets are 404.
 */
export async function resolveAppFile(root: string, url: string): Promise<Resolved> {
  if (!isAppUrl(url)) return { status: 404 };
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(url).pathname);
  } catch {
    return { status: 400 };
  }
  if (rel.includes('\0')) return { status: 400 };
  const base = normalize(root.endsWith(sep) ? root : root + sep);
  const file = normalize(join(base, rel === '/' ? 'index.html' : rel));
  if (!file.startsWith(base)) return { status: 403 };
  if (await isFile(file)) return { file };
  if (extname(file) === '') {
    const index = join(base, 'index.html');
    if (await isFile(index)) return { file: index };
  }
  return { status: 404 };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The response for one request (GET or HEAD), headers included. */
export async function appResponse(root: string, method: string, url: string): Promise<Response> {
  const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
  if (method !== 'GET' && method !== 'HEAD') return new Response(null, { status: 405, headers });
  const found = await resolveAppFile(root, url);
  if ('status' in found) return new Response(null, { status: found.status, headers });
  const body = method === 'HEAD' ? null : new Uint8Array(await readFile(found.file));
  return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': MIME[extname(found.file)] ?? 'application/octet-stream' } });
}

/** Answers app:// requests of this session from `root` (call once, after ready). */
export function serveApp(session: Session, root: string): void {
  session.protocol.handle(APP_SCHEME, (request) => appResponse(root, request.method, request.url));
}
