/**
 * A real redis-server for the remote-worker tests: its own folder, a free loopback
 * port, a password, no persistence; stopped (and restartable on the same port) by the
 * PID this helper started. Tests that need it skip when redis-server is not installed
 * (.ci/run installs it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { labProcess } from './cli.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = ['/usr/bin/redis-server', 'redis-server'].find((p) => spawnSync(p, ['--version']).status === 0) ?? null;

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
    /** Append-only file, fsync'd on every write: what a restarted server had survives (as a production Redis keeps it). */
    readonly persist: boolean,
  ) {}

  static async start(opts: { persist?: boolean } = {}): Promise<TestRedis> {
    if (!REDIS_SERVER) throw new Error('redis-server is not installed');
    const r = new TestRedis(await freePort(), opts.persist ?? false);
    await r.restart();
    return r;
  }

  /** The URL a host or worker is given (with the password). */
  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts it (again) on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(REDIS_SERVER as string, ['--port', String(this.port), '--bind', '127.0.0.1', '--requirepass', this.password, '--save', '', ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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
export function startWorker(url: string, name: string, cacheDir: string): Promise<ChildProcess> {
  const child = labProcess(['worker', '--redis', url, '--name', name, '--cache', cacheDir], { LORA_LAB_WORKER_LOCK_MS: '3000' });
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
