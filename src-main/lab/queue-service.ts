/**
 * Where a lab's runs train (issue 17): on this machine, or on the queue of remote
 * workers it is connected to. A queue given by the host (`--redis`) stays for the
 * process; the app and `lora-lab serve` can change it at any time from the Workers page
 * (setQueue) and remember it for the next start in the queue file beside the database
 * (remote/settings.ts) — never in the database. A remembered queue that cannot be
 * reached at start leaves the lab training here, with the reason shown.
 */
import { LabError } from '../contract/api.ts';
import type { QueueRequest, WorkersView } from '../contract/workers.ts';
import { RemoteError } from '../remote/connect.ts';
import { RemoteDispatcher } from '../remote/dispatcher.ts';
import { type RedisAddress, RedisUrlError, parseRedisUrl, redactText } from '../remote/redis-url.ts';
import { QueueSettingError, readQueueSetting, writeQueueSetting } from '../remote/settings.ts';
import type { RunManager } from './run-manager.ts';

export class QueueService {
  #remote: RemoteDispatcher | null;
  /** The dispatcher is this service's own (it closes it); one the host gave is the host's. */
  #owned = false;
  #problem: string | null = null;
  #remembered = false;
  /** Changes one at a time: a second waits for the first. */
  #changing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly manager: RunManager,
    given: RemoteDispatcher | null,
    /** Where the queue is remembered (null: it is not; a --redis host, an in-memory lab). */
    private readonly file: string | null,
  ) {
    this.#remote = given;
  }

  get remote(): RemoteDispatcher | null {
    return this.#remote;
  }

  /** At start: connects to the remembered queue, if any. Returns why it is not used, or null. */
  async connectRemembered(): Promise<string | null> {
    if (this.#remote || !this.file) return null;
    let url: string | null;
    try {
      url = readQueueSetting(this.file);
    } catch (err) {
      if (!(err instanceof QueueSettingError)) throw err;
      return (this.#problem = `the remembered queue: ${err.message}`);
    }
    if (url === null) return null;
    let address: RedisAddress;
    try {
      address = parseRedisUrl(url);
    } catch (err) {
      if (!(err instanceof RedisUrlError)) throw err;
      return (this.#problem = `the remembered queue: ${err.message}`);
    }
    try {
      this.#use(await RemoteDispatcher.connect(address));
      this.#remembered = true;
      return null;
    } catch (err) {
      if (!(err instanceof RemoteError)) throw err;
      return (this.#problem = `${err.message}; runs train on this machine until the queue is set again (Workers page)`);
    }
  }

  async view(): Promise<WorkersView> {
    const remote = this.#remote;
    const base = { problem: this.#problem, canRemember: this.file !== null, remembered: this.#remembered };
    if (!remote) return { queue: null, workers: [], ...base };
    try {
      return { queue: remote.address.shown, workers: await remote.workers(), ...base };
    } catch (err) {
      throw new LabError(`cannot read the workers from Redis at ${remote.address.shown}: ${redactText((err as Error).message)}`, 503);
    }
  }

  set(req: QueueRequest): Promise<WorkersView> {
    const next = this.#changing.then(() => this.#set(req));
    this.#changing = next.catch(() => {});
    return next;
  }

  async #set(req: QueueRequest): Promise<WorkersView> {
    const onQueue = this.manager.onQueue;
    if (onQueue > 0 && this.#remote) {
      throw new LabError(`${onQueue} run${onQueue === 1 ? ' is' : 's are'} on the queue at ${this.#remote.address.shown}: wait for ${onQueue === 1 ? 'it' : 'them'} to end, or cancel ${onQueue === 1 ? 'it' : 'them'}, before changing where runs train`, 409);
    }
    const remember = (req.remember ?? true) && this.file !== null;
    if (req.url === null) {
      this.#use(null);
      if (this.file) writeQueueSetting(this.file, null);
      this.#remembered = false;
      return this.view();
    }
    const url = withPassword(req.url.trim(), req.password);
    let address: RedisAddress;
    try {
      address = parseRedisUrl(url);
    } catch (err) {
      if (err instanceof RedisUrlError) throw new LabError(err.message, 400);
      throw err;
    }
    let dispatcher: RemoteDispatcher;
    try {
      dispatcher = await RemoteDispatcher.connect(address);
    } catch (err) {
      if (err instanceof RemoteError) throw new LabError(err.message, 503);
      throw err;
    }
    this.#use(dispatcher);
    if (this.file) writeQueueSetting(this.file, remember ? url : null);
    this.#remembered = remember;
    return this.view();
  }

  #use(next: RemoteDispatcher | null): void {
    const old = this.#remote;
    const owned = this.#owned;
    this.manager.setRemote(next);
    this.#remote = next;
    this.#owned = next !== null;
    this.#problem = null;
    if (old && owned && old !== next) void old.close();
  }

  async close(): Promise<void> {
    await this.#changing;
    if (this.#owned) await this.#remote?.close();
  }
}

/** `url` with `password` put in its user part (percent-encoded), when one is given. */
function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url; // parseRedisUrl says what is wrong with it
  }
  u.password = password;
  return u.href.replace(/\/$/, '');
}
