/**
 * Web mode: the Lab service over HTTP (one POST per LabApi call) and a WebSocket of
 * LabEvents, serving the built renderer. Like Jupyter: binds 127.0.0.1, a random token
 * per start printed in the URL; every request needs it (header, cookie or query) or gets
 * 401. The Host header must name this server (no DNS rebinding) and the Origin, when
 * sent, must be this server's (no cross-site requests). Bodies are size-limited.
 *
 * Nothing a client sends may stop the process (and the runs it trains): every socket,
 * stream and emitter here has an error path that ends only that connection.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { type Duplex, pipeline } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { type LabApi, LabError } from '../contract/api.ts';
import { isLabCall, validateArgs } from '../contract/schemas.ts';
import { CSP } from './csp.ts';
import { API_PREFIX, EVENTS_PATH, TOKEN_COOKIE, type RpcResponse, WireError, decodeWire, encodeWire } from '../lab/wire.ts';

export interface ServerOptions {
  lab: LabApi;
  host?: string;
  port?: number;
  token?: string;
  /** The built renderer (index.html and assets); omitted: API only. */
  staticDir?: string | null;
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

export { CSP };

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('hex');
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const staticDir = opts.staticDir ?? null;
  let origin = '';
  let allowedHosts = new Set<string>();

  const tokenOk = (req: IncomingMessage, url: URL): boolean => {
    const given =
      (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null) ??
      url.searchParams.get('token') ??
      cookie(req, TOKEN_COOKIE);
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const hostOk = (req: IncomingMessage) => allowedHosts.has((req.headers.host ?? '').toLowerCase());
  // The page may be opened under any of the allowed host names (127.0.0.1, localhost …).
  const originOk = (req: IncomingMessage) => {
    const o = req.headers.origin;
    if (o === undefined) return true;
    try {
      const u = new URL(o);
      return u.protocol === 'http:' && u.pathname === '/' && allowedHosts.has(u.host.toLowerCase());
    } catch {
      return false;
    }
  };

  const server = createServer((req, res) => {
    // A client that goes away mid-request, or a write after the end, is that request's end.
    req.on('error', () => res.destroy());
    res.on('error', () => res.destroy());
    void handle(req, res).catch((err: unknown) => {
      try {
        if (!res.headersSent) send(res, 500, { ok: false, error: `internal error: ${(err as Error).message}`, status: 500 });
        else res.destroy();
      } catch {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url, origin);
    if (!url) return send(res, 400, { ok: false, error: 'bad request target', status: 400 });
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!hostOk(req)) return send(res, 421, { ok: false, error: 'unexpected Host header', status: 421 });
    if (!tokenOk(req, url)) return send(res, 401, { ok: false, error: 'missing or wrong token: open the URL lora-lab serve printed', status: 401 });
    if (url.pathname.startsWith(API_PREFIX)) {
      if (!originOk(req)) return send(res, 403, { ok: false, error: 'cross-origin request refused', status: 403 });
      if (req.method !== 'POST') return send(res, 405, { ok: false, error: 'use POST', status: 405 });
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return send(res, 415, { ok: false, error: 'send application/json', status: 415 });
      }
      return api(req, res, url.pathname.slice(API_PREFIX.length));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { ok: false, error: 'method not allowed', status: 405 });
    // Remember the token for the page's assets and API calls (HttpOnly, same site only).
    if (url.searchParams.has('token')) res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    return serveStatic(res, url.pathname);
  }

  async function api(req: IncomingMessage, res: ServerResponse, call: string): Promise<void> {
    if (!isLabCall(call)) return send(res, 404, { ok: false, error: `no such call "${call.slice(0, 64)}"`, status: 404 });
    let body: string;
    try {
      body = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof ClientGone) return void res.destroy();
      // Answer, then drop the connection rather than read the rest of an oversized body.
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.destroy());
      return send(res, 413, { ok: false, error: (err as Error).message, status: 413 });
    }
    let parsed: { args?: unknown } | null;
    try {
      parsed = decodeWire(body) as { args?: unknown } | null;
    } catch (err) {
      // Whatever fails while decoding is the body's fault: a 400, never a 500. A RangeError
      // (stack overflow) cannot happen past the depth check, but would be the body's too.
      const error =
        err instanceof WireError ? `the body is refused: ${err.message}`
        : err instanceof RangeError ? 'the body is refused: it nests too deeply to decode'
        : `the body is not valid JSON: ${(err as Error).message}`;
      return send(res, 400, { ok: false, error, status: 400 });
    }
    try {
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new LabError('the body must be {"args": [...]}');
      const args = validateArgs(call, parsed.args ?? []);
      const fn = opts.lab[call] as (...a: unknown[]) => Promise<unknown>;
      const result = await fn.apply(opts.lab, args);
      send(res, 200, { ok: true, result: result ?? null });
    } catch (err) {
      if (err instanceof LabError) return send(res, err.status, { ok: false, error: err.message, status: err.status });
      throw err;
    }
  }

  function serveStatic(res: ServerResponse, pathname: string): void {
    if (!staticDir) return send(res, 404, { ok: false, error: 'no user interface is built (npm run build)', status: 404 });
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return send(res, 400, { ok: false, error: 'bad path', status: 400 });
    }
    const file = normalize(join(staticDir, rel === '/' ? 'index.html' : rel));
    if (!file.startsWith(normalize(staticDir + sep)) || rel.includes('\0')) return send(res, 403, { ok: false, error: 'outside the app', status: 403 });
    const isFile = (f: string) => existsSync(f) && statSync(f).isFile();
    const target = isFile(file) ? file : join(staticDir, 'index.html');
    if (!isFile(target)) return send(res, 404, { ok: false, error: 'not found', status: 404 });
    res.writeHead(200, {
      'Content-Type': MIME[extname(target)] ?? 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'Cache-Control': target.endsWith('index.html') ? 'no-store' : 'max-age=3600',
    });
    // A read error (the file replaced or unreadable since the check) ends this response
    // only; an unhandled stream error would end the process.
    pipeline(createReadStream(target), res, (err) => {
      if (err) res.destroy();
    });
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  wss.on('error', () => undefined); // per-connection errors are handled on each socket below
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch {
      socket.destroy();
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (code: number, text: string) => {
      socket.end(`HTTP/1.1 ${code} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = parseTarget(req.url, origin);
    if (!url) return refuse(400, 'Bad Request');
    if (url.pathname !== EVENTS_PATH) return refuse(404, 'Not Found');
    if (!hostOk(req)) return refuse(421, 'Misdirected Request');
    if (!tokenOk(req, url)) return refuse(401, 'Unauthorized');
    if (!originOk(req)) return refuse(403, 'Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const off = opts.lab.subscribe((e) => {
        try {
          if (ws.readyState === ws.OPEN && ws.bufferedAmount < 8 * 1024 * 1024) ws.send(encodeWire(e));
        } catch {
          ws.terminate();
        }
      });
      ws.on('message', () => undefined); // the socket is one-way: server → page
      // A frame over maxPayload or a text frame that is not UTF-8: ws has already begun
      // closing this connection (1009, 1007); without this listener the error would end
      // the process.
      ws.on('error', () => undefined);
      ws.on('close', () => {
        off();
        sockets.delete(ws);
      });
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, an error is one failed accept (e.g. EMFILE): the server goes on.
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  origin = `http://${hostInUrl}:${port}`;
  allowedHosts = new Set([hostInUrl, 'localhost', '127.0.0.1', '[::1]', ...wildcardNames(host)].map((h) => `${h}:${port}`.toLowerCase()));

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

/**
 * Bound to every interface (0.0.0.0 or ::, only with `serve --allow-remote`): the page is
 * reached under this machine's own addresses and host name, so those are the Host
 * headers to accept; any other name is still a DNS-rebinding attempt.
 */
function wildcardNames(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::' && host !== '[::]') return [];
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => (a.family === 'IPv6' ? `[${a.address}]` : a.address)));
  return [...addresses, hostname()];
}

/** The request target as a URL, or null when it is not one (never throws). */
function parseTarget(target: string | undefined, origin: string): URL | null {
  try {
    return new URL(target ?? '/', origin);
  } catch {
    return null;
  }
}

function send(res: ServerResponse, status: number, body: RpcResponse): void {
  const text = encodeWire(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

/** The client closed the connection before its body arrived: nobody to answer. */
class ClientGone extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return reject(new Error(`request body over ${limit} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(new Error(`request body over ${limit} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new ClientGone()));
    req.on('close', () => reject(new ClientGone())); // no-op once settled
  });
}
