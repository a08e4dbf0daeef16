/**
 * The renderer's one door to the Lab: a `LabApi` over whichever transport this page has.
 *  - Electron: the preload exposes `window.lab` (one function per LAB_CALLS entry plus
 *    `onEvent(cb) → unsubscribe`); calls and events go over IPC.
 *  - Browser (web mode): each call is `POST /api/<call>` with a wire-encoded body, events
 *    arrive on one WebSocket at /api/events that reconnects by itself. The token travels
 *    in an HttpOnly cookie the server set when the page was opened with `?token=…`.
 * Nothing else in src-renderer knows which one it is.
 */
import { LAB_CALLS, type LabApi, type LabCall, type LabEvent } from '../../src-main/contract/api.ts';
import { EVENTS_PATH, type RpcResponse, callPath, decodeWire, encodeWire } from '../../src-main/lab/wire.ts';

type Calls = Omit<LabApi, 'subscribe'>;

/** What the Electron preload puts on `window.lab`. */
export interface PreloadLab extends Calls {
  onEvent(listener: (e: LabEvent) => void): () => void;
}

declare global {
  interface Window {
    lab?: PreloadLab;
  }
}

/** An API failure with a message meant for people (shown in forms and toasts). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    /** HTTP-like status: 400 bad input, 404 missing, 409 conflict, 0 unreachable. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** The message of anything thrown, cleaned of transport noise. */
export function errorText(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  // ipcRenderer.invoke wraps errors: "Error invoking remote method 'x': LabError: …".
  return raw.replace(/^Error invoking remote method '[^']*':\s*/, '').replace(/^(?:Lab|Api|Config)?Error:\s*/, '');
}

export type Connection = 'connecting' | 'open' | 'closed';

function isPreload(v: unknown): v is PreloadLab {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o['onEvent'] === 'function' && LAB_CALLS.every((c) => typeof o[c] === 'function');
}

// ── web mode: HTTP calls ─────────────────────────────────────────────────────

async function httpCall(call: LabCall, args: unknown[]): Promise<unknown> {
  // Trailing undefined arguments would travel as null and fail the payload schema.
  while (args.length && args[args.length - 1] === undefined) args.pop();
  const body = encodeWire({ args });
  let res: Response;
  try {
    res = await fetch(callPath(call), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body,
      // Small calls survive the page closing (a delayed delete flushed on pagehide).
      keepalive: body.length < 16_000,
    });
  } catch {
    throw new ApiError('LoRA Lab does not answer. Is `lora-lab serve` still running?', 0);
  }
  let answer: RpcResponse;
  try {
    answer = decodeWire(await res.text()) as RpcResponse;
  } catch {
    throw new ApiError(`unexpected answer from LoRA Lab (HTTP ${res.status})`, res.status);
  }
  if (answer.ok) return answer.result;
  if (res.status === 401) throw new ApiError('Not authorised: open the URL that `lora-lab serve` printed (it carries the token).', 401);
  throw new ApiError(answer.error, answer.status);
}

// ── web mode: the event socket ───────────────────────────────────────────────

class EventSocket {
  readonly #listeners = new Set<(e: LabEvent) => void>();
  readonly #connection = new Set<(c: Connection, reconnected: boolean) => void>();
  #ws: WebSocket | null = null;
  #state: Connection = 'connecting';
  #everOpen = false;
  #retryMs = 500;
  #timer: ReturnType<typeof setTimeout> | null = null;

  get state(): Connection {
    return this.#state;
  }

  subscribe(listener: (e: LabEvent) => void): () => void {
    this.#listeners.add(listener);
    this.#ensure();
    return () => this.#listeners.delete(listener);
  }

  onConnection(cb: (c: Connection, reconnected: boolean) => void): () => void {
    this.#connection.add(cb);
    this.#ensure();
    return () => this.#connection.delete(cb);
  }

  #ensure(): void {
    if (this.#ws || this.#timer) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${EVENTS_PATH}`;
    const ws = new WebSocket(url);
    this.#ws = ws;
    ws.onopen = () => {
      const reconnected = this.#everOpen;
      this.#everOpen = true;
      this.#retryMs = 500;
      this.#set('open', reconnected);
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let e: LabEvent;
      try {
        e = decodeWire(m.data) as LabEvent;
      } catch {
        return;
      }
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch (err) {
          console.error('event listener failed', err);
        }
      }
    };
    ws.onclose = () => {
      this.#ws = null;
      this.#set('closed', false);
      // Back off to 5 s; events missed meanwhile are caught up by a reload on reconnect.
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#set('connecting', false);
        this.#ensure();
      }, this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5000);
    };
  }

  #set(c: Connection, reconnected: boolean): void {
    if (this.#state === c && !reconnected) return;
    this.#state = c;
    for (const cb of this.#connection) cb(c, reconnected);
  }
}

// ── the client ───────────────────────────────────────────────────────────────

/**
 * contextBridge copies only an error's message, so the preload sends the status as a
 * `[lab NNN] ` prefix (src-main/app/preload.ts); it is parsed off here.
 */
export function electronError(err: unknown): ApiError {
  const text = errorText(err);
  const m = /^\[lab (\d{3})\] ([\s\S]*)$/.exec(text);
  return m ? new ApiError(m[2] as string, Number(m[1])) : new ApiError(text, 400);
}

function electronCall(fn: (...a: unknown[]) => Promise<unknown>): (...a: unknown[]) => Promise<unknown> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw electronError(err);
    }
  };
}

const preload = typeof window !== 'undefined' && isPreload(window.lab) ? window.lab : null;
const socket = preload ? null : new EventSocket();

function makeClient(): LabApi {
  const calls: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
  for (const call of LAB_CALLS) {
    calls[call] = preload ? electronCall((preload[call] as (...a: unknown[]) => Promise<unknown>).bind(preload)) : (...args) => httpCall(call, args);
  }
  const subscribe = (listener: (e: LabEvent) => void) => (preload ? preload.onEvent(listener) : socket!.subscribe(listener));
  return { ...calls, subscribe } as unknown as LabApi;
}

/** The Lab, whatever the transport. */
export const lab: LabApi = makeClient();

export const transport: 'electron' | 'http' = preload ? 'electron' : 'http';

/**
 * Connection changes of the event stream. `reconnected` is true when the stream came
 * back after a drop: events may have been missed, so listeners reload. IPC never drops.
 */
export function onConnection(cb: (c: Connection, reconnected: boolean) => void): () => void {
  if (!socket) {
    cb('open', false);
    return () => undefined;
  }
  cb(socket.state, false);
  return socket.onConnection(cb);
}

/**
 * Web mode: the token in the address bar has done its job (the server answered with a
 * cookie), so drop it from the URL — it should not end up in bookmarks or screenshots.
 */
export function forgetTokenInUrl(): void {
  if (preload || typeof location === 'undefined') return;
  const url = new URL(location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

/**
 * What a live page state does on start: events to `onEvent`, a reload after a
 * reconnect (events were missed), a first load now. The returned stop undoes both and
 * runs `cleanup` (a pending coalesced reload, say).
 */
export function followLab(onEvent: (e: LabEvent) => void, load: () => Promise<void>, cleanup: () => void = () => undefined): () => void {
  const offEvents = lab.subscribe(onEvent);
  const offConn = onConnection((_c, reconnected) => {
    if (reconnected) void load();
  });
  void load();
  return () => {
    offEvents();
    offConn();
    cleanup();
  };
}

