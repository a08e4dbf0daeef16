/**
 * The IPC layer in front of a real Lab on a temporary database: a foreign sender (other
 * origin, a subframe, another window, a destroyed or detached frame) and a malformed
 * payload are refused before the Lab is touched; valid calls reach the Lab and come
 * back as IpcResults; Lab events go to our page only. Electron's ipcMain is mocked.
 */
import { join } from 'node:path';
import { type MockInstance, afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LAB_CALLS, type LabCall } from '../../src-main/contract/api.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import type { IpcResult } from '../../src-main/app/bridge.ts';
import { type FrameLike, type LabWindow, isTrustedSender, registerIpc } from '../../src-main/app/ipc.ts';
import { tempDir } from '../helpers/tmp.ts';

type Handler = (event: unknown, ...args: unknown[]) => Promise<IpcResult> | IpcResult;
const electron = vi.hoisted(() => ({ handlers: new Map<string, (event: unknown, ...args: unknown[]) => unknown>() }));
vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, fn: (event: unknown, ...args: unknown[]) => unknown) => {
      if (electron.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      electron.handlers.set(channel, fn);
    },
    removeHandler: (channel: string) => electron.handlers.delete(channel),
  },
}));

const APP_PAGE = 'app://lora-lab/index.html';

function frame(url: string, opts: { parent?: unknown; destroyed?: boolean; detached?: boolean } = {}): FrameLike {
  return { url, parent: opts.parent ?? null, detached: opts.detached ?? false, isDestroyed: () => opts.destroyed ?? false };
}

function makeWindow(url = APP_PAGE) {
  const sent: unknown[][] = [];
  let destroyed = false;
  const page = { url };
  const win: LabWindow = {
    isDestroyed: () => destroyed,
    webContents: { id: 7, isDestroyed: () => destroyed, getURL: () => page.url, send: (...a: unknown[]) => void sent.push(a) },
  };
  return { win, sent, page, destroy: () => (destroyed = true) };
}

const ours = (f: FrameLike | null = frame(APP_PAGE), senderId = 7) => ({ sender: { id: senderId }, senderFrame: f });

describe('IPC handlers over a real Lab', () => {
  const tmp = tempDir();
  let lab: Lab;
  const w = makeWindow();
  let current: LabWindow | null = w.win;
  let dispose: () => void;
  let runId = 0;
  const spies = new Map<LabCall, MockInstance>();

  const call = (event: unknown, name: LabCall, ...args: unknown[]) => {
    const h = electron.handlers.get(`lab:${name}`) as Handler | undefined;
    if (!h) throw new Error(`no handler for ${name}`);
    return Promise.resolve(h(event, ...args));
  };

  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);

  beforeAll(async () => {
    lab = Lab.open(join(tmp.dir, 'lab.db'));
    const config = (await lab.presets()).base;
    runId = lab.store.runs.create({ name: 'stored run', kind: 'base', config, baseModelId: null, status: 'completed' }).id;
    for (const c of LAB_CALLS) spies.set(c, vi.spyOn(lab, c) as unknown as MockInstance);
    dispose = registerIpc(lab, () => current);
  });
  afterEach(() => {
    for (const s of spies.values()) s.mockClear();
    current = w.win;
  });
  afterAll(async () => {
    warn.mockRestore();
    dispose();
    await lab.close();
    tmp.cleanup();
  });

  const untouched = () => {
    for (const [name, s] of spies) expect(s, `${name} was called`).not.toHaveBeenCalled();
  };

  it('registers exactly one handler per LabApi call', () => {
    expect([...electron.handlers.keys()].sort()).toEqual(LAB_CALLS.map((c) => `lab:${c}`).sort());
  });

  it('answers valid calls from our page with the real Lab', async () => {
    const presets = await call(ours(), 'presets');
    expect(presets.ok).toBe(true);
    expect(Object.keys((presets as { result: object }).result).sort()).toEqual(['base', 'classicBase', 'classicLora', 'full', 'lora']);

    const runs = await call(ours(), 'listRuns');
    expect(runs).toMatchObject({ ok: true, result: [{ id: runId, name: 'stored run', status: 'completed' }] });
    expect(await call(ours(), 'listRuns', { status: 'failed' })).toEqual({ ok: true, result: [] });

    const renamed = await call(ours(), 'renameRun', runId, 'renamed over IPC');
    expect(renamed).toMatchObject({ ok: true, result: { id: runId, name: 'renamed over IPC' } });
    expect(lab.store.runs.get(runId).name).toBe('renamed over IPC');
    expect(spies.get('renameRun')).toHaveBeenCalledWith(runId, 'renamed over IPC');
  });

  it('maps a LabError to its message and status', async () => {
    expect(await call(ours(), 'getRun', 999)).toEqual({ ok: false, error: 'run 999 does not exist', status: 404 });
    const cancel = await call(ours(), 'cancelRun', runId);
    expect(cancel).toMatchObject({ ok: false, status: 409 });
    expect((cancel as { error: string }).error).toMatch(/completed/);
  });

  it('forwards Lab events to our page', async () => {
    w.sent.length = 0;
    await call(ours(), 'setTags', runId, ['ipc']);
    expect(w.sent).toContainEqual(['lab:event', expect.objectContaining({ type: 'run', run: expect.objectContaining({ id: runId, tags: ['ipc'] }) })]);
  });

  it('sends no events to a window that shows another page, or is gone', async () => {
    w.sent.length = 0;
    w.page.url = 'https://evil.example/';
    await lab.setNotes(runId, 'while away');
    w.page.url = APP_PAGE;
    current = null;
    await lab.setNotes(runId, 'while closed');
    expect(w.sent).toEqual([]);
  });

  const refused = { ok: false, status: 403, error: expect.stringMatching(/refused/) };
  const foreign: [string, unknown][] = [
    ['another origin (https)', ours(frame('https://evil.example/index.html'))],
    ['a file: page', ours(frame('file:///tmp/index.html'))],
    ['another app:// host', ours(frame('app://lora-lab.evil/index.html'))],
    ['an app:// URL with credentials', ours(frame('app://user:pw@lora-lab/index.html'))],
    ['a devtools page', ours(frame('devtools://devtools/bundled/inspector.html'))],
    ['a subframe of our page', ours(frame(APP_PAGE, { parent: frame(APP_PAGE) }))],
    ['a destroyed frame', ours(frame(APP_PAGE, { destroyed: true }))],
    ['a detached frame', ours(frame(APP_PAGE, { detached: true }))],
    ['no frame (navigated or gone)', ours(null)],
    ['a frame whose access throws (disposed)', ours({ get url(): string { throw new Error('Render frame was disposed'); }, parent: null, detached: false, isDestroyed: () => false })],
    ['another window', ours(frame(APP_PAGE), 8)],
  ];

  it.each(foreign)('refuses %s before the Lab is touched', async (_what, event) => {
    for (const name of ['listRuns', 'renameRun', 'presets'] as const) {
      const args = name === 'renameRun' ? [runId, 'hijacked'] : [];
      expect(await call(event, name, ...args)).toEqual(refused);
    }
    untouched();
    expect(lab.store.runs.get(runId).name).not.toBe('hijacked');
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^LoRA Lab: refused listRuns from /));
  });

  it('refuses every call when our window is gone', async () => {
    current = null;
    expect(await call(ours(), 'presets')).toEqual(refused);
    const gone = makeWindow();
    gone.destroy();
    current = gone.win;
    expect(await call(ours(), 'presets')).toEqual(refused);
    untouched();
  });

  const malformed: [string, LabCall, unknown[]][] = [
    ['an id of the wrong type', 'getRun', ['1']],
    ['a fractional id', 'getRun', [1.5]],
    ['a negative id', 'deleteRun', [-1]],
    ['a missing argument', 'renameRun', [1]],
    ['an extra argument', 'renameRun', [1, 'name', 'extra']],
    ['arguments to a call that takes none', 'presets', [1]],
    ['a huge name', 'renameRun', [1, 'x'.repeat(10_000)]],
    ['huge notes', 'setNotes', [1, 'x'.repeat(100_001)]],
    ['too many tags', 'setTags', [1, Array.from({ length: 51 }, (_, i) => `t${i}`)]],
    ['a tag that is not text', 'setTags', [1, [{}]]],
    ['an unknown filter key', 'listRuns', [{ status: 'completed', where: '1=1' }]],
    ['an unknown status', 'listRuns', [{ status: 'pwned' }]],
    ['a config with an extra key', 'createRun', [{ config: { ...defaultConfig('base'), shell: 'rm -rf /' } }]],
    ['a run input with an extra key', 'createRun', [{ config: defaultConfig('base'), ownerId: 1 }]],
    ['too many samples', 'datasetSamples', [1, 'test', Array.from({ length: 501 }, (_, i) => i)]],
    ['an unknown split', 'datasetSamples', [1, 'validation', [0]]],
    ['an absolute import path', 'importDataset', [{ path: '/etc/passwd' }]],
    ['a test fraction of 1', 'importDataset', [{ path: 'data.csv', testFraction: 1 }]],
    ['an unknown built-in', 'addBuiltinDataset', ['cifar-10']],
    ['too many runs to compare', 'compareRuns', [Array.from({ length: 51 }, (_, i) => i + 1)]],
    ['a non-array where an array belongs', 'compareRuns', ['1,2']],
  ];

  it.each(malformed)('refuses %s with a 400 that says what is wrong', async (_what, name, args) => {
    const answer = await call(ours(), name, ...args);
    expect(answer).toMatchObject({ ok: false, status: 400 });
    expect((answer as { error: string }).error).toMatch(new RegExp(`^${name}: invalid arguments`));
    untouched();
  });
});

describe('isTrustedSender', () => {
  it('trusts our window main frame at app://lora-lab only', () => {
    const { win } = makeWindow();
    expect(isTrustedSender(ours(frame('app://lora-lab/')), win)).toBe(true);
    expect(isTrustedSender(ours(frame('app://lora-lab/#/runs/3')), win)).toBe(true);
    expect(isTrustedSender(ours(frame('app://lora-lab:8080/')), win)).toBe(false);
    expect(isTrustedSender(ours(frame('app://LORA-LAB/')), win)).toBe(false);
    expect(isTrustedSender(ours(frame('http://lora-lab/')), win)).toBe(false);
    expect(isTrustedSender(ours(frame('not a url')), win)).toBe(false);
  });
});

describe('registerIpc cleanup', () => {
  it('removes every handler when disposed', () => {
    expect(electron.handlers.size).toBe(0);
  });
});
