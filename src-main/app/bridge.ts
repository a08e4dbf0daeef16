/**
 * The IPC contract between the preload and the main process, in one place: channel
 * names, the answer envelope and the shape of `window.lab`. No Electron imports, so
 * the preload, the main process and the tests share it.
 */
import type { LabApi, LabCall, LabEvent } from '../contract/api.ts';

/** Lab events go to the window on this one channel. */
export const EVENT_CHANNEL = 'lab:event';

/** One invoke channel per LabApi call: `lab:<call>`. */
export function callChannel(call: LabCall): `lab:${LabCall}` {
  return `lab:${call}`;
}

/**
 * What a call's handler answers. Handlers never throw across IPC (Electron would flatten
 * the error into "Error invoking remote method …"): a refusal or a LabError comes back
 * as data with an HTTP-like status, the same shape as web mode's RpcResponse.
 */
export type IpcResult<T = unknown> = { ok: true; result: T } | { ok: false; error: string; status: number };

/** What the preload exposes as `window.lab`: the LabApi calls plus one event subscription. */
export type LabBridge = Omit<LabApi, 'subscribe'> & {
  onEvent(listener: (e: LabEvent) => void): () => void;
};
