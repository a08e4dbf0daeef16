/**
 * The main-process side of window.lab: one `ipcMain.handle` per LabApi call. Every call
 * is checked before the Lab sees it — the sender must be our window's main frame showing
 * our app:// origin, and the arguments must pass the call's payload schema — and every
 * answer is an IpcResult, so a LabError reaches the page with its message and status.
 * Lab events are forwarded to the window on one channel.
 */
import { ipcMain } from 'electron';
import { LAB_CALLS, type LabApi, type LabCall, LabError } from '../contract/api.ts';
import { validateArgs } from '../contract/schemas.ts';
import { EVENT_CHANNEL, type IpcResult, callChannel } from './bridge.ts';
import { isAppUrl } from './origin.ts';

/** What the sender check reads of an Electron WebFrameMain. */
export interface FrameLike {
  readonly url: string;
  readonly parent: unknown;
  readonly detached: boolean;
  isDestroyed(): boolean;
}

/** What the sender check reads of an IpcMainInvokeEvent. */
export interface SenderLike {
  readonly sender: { readonly id: number };
  readonly senderFrame: FrameLike | null;
}

/** The window the Lab talks to (a BrowserWindow). */
export interface LabWindow {
  isDestroyed(): boolean;
  readonly webContents: {
    readonly id: number;
    isDestroyed(): boolean;
    getURL(): string;
    send(channel: string, ...args: unknown[]): void;
  };
}

/**
 * True only for our window's main frame, alive and showing app://lora-lab. A subframe,
 * another window, a frame gone or navigated elsewhere, or any other origin is refused.
 */
export function isTrustedSender(event: SenderLike, win: LabWindow | null): boolean {
  try {
    if (!win || win.isDestroyed() || win.webContents.isDestroyed()) return false;
    if (event.sender.id !== win.webContents.id) return false;
    const frame = event.senderFrame;
    if (!frame || frame.isDestroyed() || frame.detached) return false;
    return frame.parent === null && isAppUrl(frame.url);
  } catch {
    // A disposed frame throws on access: not a sender we trust.
    return false;
  }
}

export const REFUSED: IpcResult<never> = { ok: false, error: 'refused: this frame may not use LoRA Lab', status: 403 };

/** Validates the arguments, calls the Lab, and wraps the outcome (never throws). */
export async function callLab(lab: LabApi, call: LabCall, args: unknown[]): Promise<IpcResult> {
  try {
    const checked = validateArgs(call, args);
    const fn = lab[call] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn.apply(lab, checked);
    return { ok: true, result: result ?? null };
  } catch (err) {
    if (err instanceof LabError) return { ok: false, error: err.message, status: err.status };
    console.error(`LoRA Lab: ${call} failed:`, err);
    return { ok: false, error: `internal error: ${err instanceof Error ? err.message : String(err)}`, status: 500 };
  }
}

/** Registers the handlers and the event forwarding; returns what undoes both. */
export function registerIpc(lab: LabApi, getWindow: () => LabWindow | null): () => void {
  for (const call of LAB_CALLS) {
    ipcMain.handle(callChannel(call), (event, ...args: unknown[]) => {
      if (!isTrustedSender(event, getWindow())) {
        console.warn(`LoRA Lab: refused ${call} from ${safeUrl(event.senderFrame)}`);
        return REFUSED;
      }
      return callLab(lab, call, args);
    });
  }
  const off = lab.subscribe((e) => {
    const win = getWindow();
    if (!win || win.isDestroyed() || win.webContents.isDestroyed()) return;
    // Only to our own page: events carry run data.
    if (isAppUrl(win.webContents.getURL())) win.webContents.send(EVENT_CHANNEL, e);
  });
  return () => {
    off();
    for (const call of LAB_CALLS) ipcMain.removeHandler(callChannel(call));
  };
}

function safeUrl(frame: FrameLike | null): string {
  try {
    return frame ? frame.url.slice(0, 200) : 'a destroyed frame';
  } catch {
    return 'a destroyed frame';
  }
}
