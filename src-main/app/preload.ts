/**
 * The preload (sandboxed, bundled to CommonJS): `window.lab` with exactly one function
 * per LabApi call, each forwarding its arguments to `ipcRenderer.invoke('lab:<call>')`,
 * plus `onEvent(cb) → unsubscribe`. Raw ipcRenderer never reaches the page, and event
 * listeners get the event only (not Electron's IPC event, which holds the sender).
 * A refusal or LabError (an IpcResult with ok: false) becomes a rejected promise: the
 * message for people, prefixed with the status.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { LAB_CALLS, type LabEvent } from '../contract/api.ts';
import { EVENT_CHANNEL, type IpcResult, type LabBridge, callChannel } from './bridge.ts';

/**
 * contextBridge copies only an error's message across, so the status (409 "already
 * exists" → ask to overwrite, 404 …) travels as a `[lab NNN] ` prefix that the
 * renderer's transport (src-renderer/lib/api.ts) parses off again.
 */
function unwrap(answer: IpcResult): unknown {
  if (answer.ok) return answer.result;
  const err = new Error(`[lab ${answer.status}] ${answer.error}`);
  err.name = 'LabError';
  throw err;
}

const calls = Object.fromEntries(
  LAB_CALLS.map((call) => [call, (...args: unknown[]) => ipcRenderer.invoke(callChannel(call), ...args).then((a: IpcResult) => unwrap(a))]),
);

const bridge = {
  ...calls,
  onEvent(listener: (e: LabEvent) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('onEvent needs a function');
    const forward = (_event: unknown, e: LabEvent) => listener(e);
    ipcRenderer.on(EVENT_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  },
} as unknown as LabBridge;

contextBridge.exposeInMainWorld('lab', bridge);
