/**
 * A real redis-server for the remote-worker tests: its own folder, a free loopback
 * port, a password, no persistence; stopped (and restartable on the same port) by the
 * PID this helper started. Optionally an ACL user instead of the default user's
 * password, and TLS only, with a certificate of a CA made for it (openssl). Tests that
 * need it skip when redis-server is not installed (.ci/run installs it and openssl).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { labProcess } from './cli.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = ['/usr/bin/redis-server', 'redis-server'].find((p) => spawnSync(p, ['--version']).status === 0) ?? null;
export const OPENSSL = spawnSync('openssl', ['version']).status === 0;

export interface TestRedisOptions {
  /** Append-only file, fsync'd on every write: what a restarted server had survives (as a production Redis keeps it). */
  persist?: boolean;
  /** An ACL user `lab` (its keys and channels only: lora-lab:* and BullMQ's bull:*) and the default user switched off. */
  acl?: boolean;
  /** TLS only (no plain port): a CA and a server certificate for 127.0.0.1 made in the server's folder. */
  tls?: boolean;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'lora-lab-redis-'));
  readonly password = `pw-${Math.random().toString(36).slice(2)}`;
  #child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly opts: TestRedisOptions,
  ) {}

  static async start(opts: TestRedisOptions = {}): Promise<TestRedis> {
    if (!REDIS_SERVER) throw new Error('redis-server is not installed');
    const r = new TestRedis(await freePort(), opts);
    if (opts.tls) r.#makeCertificates();
    await r.restart();
    return r;
  }

  /** The URL a host or worker is given (with the password; the ACL user's name when there is one). */
  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://${this.opts.acl ? 'lab' : ''}:${this.password}@127.0.0.1:${this.port}`;
  }

  /** The CA that signed a TLS server's certificate (PEM), for LORA_LAB_REDIS_CA. */
  get caFile(): string {
    return join(this.dir, 'ca.pem');
  }

  #makeCertificates(): void {
    const ssl = (...args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: this.dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
    };
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=LoRA Lab test CA');
    ssl('req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(this.dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  }

  #args(): string[] {
    const auth = this.opts.acl ? ['--user', 'default', 'off', '--user', 'lab', 'on', `>${this.password}`, '~lora-lab:*', '~bull:*', '&*', '+@all'] : ['--requirepass', this.password];
    const port = this.opts.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    const persist = this.opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    return [...port, '--bind', '127.0.0.1', ...auth, '--save', '', ...persist, '--dir', this.dir];
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts it (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(REDIS_SERVER as string, this.#args(), { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${out}`));
      });
    });
    child.stdout!.resume();
  }

  /** Stops the server this helper started (SIGKILL by its PID: no shutdown save) and waits for it. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A `lora-lab worker` process (from source) on `url`; resolves once it says it is
 * waiting for runs. Its lock and stall check are 3 s, so a killed worker's run is taken
 * up within seconds, not BullMQ's default half minute.
 */
export function startWorker(url: string, name: string, cacheDir: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = labProcess(['worker', '--redis', url, '--name', name, '--cache', cacheDir], { LORA_LAB_WORKER_LOCK_MS: '3000', ...env });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('waiting for runs')) resolve(child);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => reject(new Error(`worker ${name} exited (${code}):\n${out}`)));
  });
}

/**
 * A TCP relay to a local Redis whose link can be cut and restored: a worker behind it
 * loses its network (every connection dropped, new ones refused) while its process and
 * trainer go on, as a laptop's Wi-Fi going away would.
 */
export class CuttableLink {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(server: Server, readonly port: number) {
    this.#server = server;
  }

  static async to(target: number): Promise<CuttableLink> {
    const port = await freePort();
    let link: CuttableLink;
    const server = createServer((client) => {
      if (link.#cut) return void client.destroy();
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        link.#sockets.add(s);
        s.on('close', () => link.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    link = new CuttableLink(server, port);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return link;
  }

  /** The same URL with this relay's port. */
  url(redisUrl: string): string {
    return redisUrl.replace(/:(\d+)$/, `:${this.port}`);
  }

  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
