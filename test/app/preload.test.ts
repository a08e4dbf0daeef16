/**
 * The preload's contract: window.lab is exactly the LabApi calls plus onEvent, each call
 * forwards its arguments to ipcRenderer.invoke('lab:<call>'), and raw ipcRenderer (or
 * Electron's IPC event) never reaches the page. Electron's bridge is mocked; the preload
 * itself is the real module.
 */
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LAB_CALLS } from '../../src-main/contract/api.ts';

const electron = vi.hoisted(() => {
  const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
  return {
    exposed: new Map<string, unknown>(),
    listeners,
    invoke: vi.fn(async (..._a: unknown[]): Promise<unknown> => ({ ok: true, result: null })),
  };
});

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => electron.exposed.set(key, api),
  },
  ipcRenderer: {
    invoke: electron.invoke,
    on: (channel: string, l: (...a: unknown[]) => void) => {
      if (!electron.listeners.has(channel)) electron.listeners.set(channel, new Set());
      electron.listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: (...a: unknown[]) => void) => electron.listeners.get(channel)?.delete(l),
  },
}));

type Fn = (...a: unknown[]) => unknown;
let lab: Record<string, Fn>;

beforeAll(async () => {
  await import('../../src-main/app/preload.ts');
  lab = electron.exposed.get('lab') as Record<string, Fn>;
});

beforeEach(() => electron.invoke.mockClear());

describe('preload', () => {
  it('exposes one object, window.lab, and nothing else', () => {
    expect([...electron.exposed.keys()]).toEqual(['lab']);
  });

  it('has exactly one function per LabApi call plus onEvent', () => {
    expect(Object.keys(lab).sort()).toEqual([...LAB_CALLS, 'onEvent'].sort());
    for (const key of Object.keys(lab)) expect(typeof lab[key]).toBe('function');
  });

  it('never hands out ipcRenderer or its methods', () => {
    const values = Object.values(lab);
    for (const v of values) {
      expect(v).not.toBe(electron.invoke);
      expect(Object.keys(v as object)).toEqual([]);
    }
    expect(JSON.stringify(Object.keys(lab))).not.toMatch(/ipc|send|invoke|on\b/i);
  });

  it.each(LAB_CALLS)('%s forwards its arguments to ipcRenderer.invoke("lab:%s")', async (call) => {
    const args = [{ a: 1 }, 'two', 3];
    electron.invoke.mockResolvedValueOnce({ ok: true, result: { call } });
    await expect(lab[call]!(...args)).resolves.toEqual({ call });
    expect(electron.invoke).toHaveBeenCalledTimes(1);
    expect(electron.invoke).toHaveBeenCalledWith(`lab:${call}`, ...args);
  });

  it('passes no arguments when given none', async () => {
    await lab['presets']!();
    expect(electron.invoke).toHaveBeenCalledWith('lab:presets');
  });

  it('turns a refusal or LabError into a rejection with the message for people and its status', async () => {
    electron.invoke.mockResolvedValueOnce({ ok: false, error: 'run 9 does not exist', status: 404 });
    const err = await (lab['getRun']!(9) as Promise<unknown>).catch((e: unknown) => e);
    expect((err as Error).message).toBe('[lab 404] run 9 does not exist');
    // What the page's transport makes of it (src-renderer/lib/api.ts).
    const { electronError } = await import('../../src-renderer/lib/api.ts');
    const parsed = electronError(new Error(`Error invoking remote method 'lab:getRun': LabError: ${(err as Error).message}`));
    expect(parsed).toMatchObject({ message: 'run 9 does not exist', status: 404 });
  });

  it('onEvent delivers only the LabEvent, and its unsubscribe stops delivery', () => {
    const got: unknown[] = [];
    const off = lab['onEvent']!((e: unknown) => got.push(e)) as () => void;
    const channel = electron.listeners.get('lab:event');
    expect(channel?.size).toBe(1);
    const ipcEvent = { sender: { invoke: electron.invoke }, ports: [] };
    const labEvent = { type: 'run-deleted', id: 3 };
    for (const l of channel!) l(ipcEvent, labEvent);
    expect(got).toEqual([labEvent]);
    off();
    expect(electron.listeners.get('lab:event')?.size).toBe(0);
  });

  it('onEvent refuses a non-function', () => {
    expect(() => lab['onEvent']!('alert(1)')).toThrow(TypeError);
  });
});
