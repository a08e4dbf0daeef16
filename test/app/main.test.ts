/**
 * The main process's lifecycle with Electron's modules replaced by stand-ins (no binary
 * here) and everything of ours real: at start it registers app:// before ready, opens
 * the Lab in userData, hardens the session, registers IPC and opens the hardened window;
 * quitting waits for the Lab to close; a broken database is shown in plain words; a
 * second instance quits.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LAB_CALLS } from '../../src-main/contract/api.ts';
import { rendererDir } from '../../src-main/server/static-dir.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openStore } from '../../src-main/store/store.ts';
import { defaultConfig } from '../../src-main/contract/config.ts';
import { corruptTablePage, sha256File } from '../store/helpers.ts';

const fake = vi.hoisted(() => ({
  state: null as null | {
    paths: Record<string, string>;
    lock: boolean;
    log: string[];
    listeners: Map<string, ((...a: unknown[]) => void)[]>;
    windows: { options: Record<string, unknown>; url: string | null }[];
    handlers: Set<string>;
    dialogs: { title: string; body: string }[];
    /** The button a message box "clicks" (0: Quit, 1: Start with a fresh database). */
    answer: number;
    exitCode: number | null;
    quitted: boolean;
    ready: () => void;
    whenReady: Promise<void>;
  },
}));

function reset(appData: string, lock = true) {
  let ready!: () => void;
  const whenReady = new Promise<void>((r) => (ready = r));
  fake.state = { paths: { appData }, lock, log: [], listeners: new Map(), windows: [], handlers: new Set(), dialogs: [], answer: 0, exitCode: null, quitted: false, ready, whenReady };
}

vi.mock('electron', () => {
  const s = () => fake.state!;
  const emit = (name: string, ...a: unknown[]) => {
    for (const l of s().listeners.get(name) ?? []) l(...a);
  };
  const app = {
    on(name: string, l: (...a: unknown[]) => void) {
      s().listeners.set(name, [...(s().listeners.get(name) ?? []), l]);
      return app;
    },
    setPath: (name: string, p: string) => void (s().paths[name] = p),
    getPath: (name: string) => s().paths[name] ?? `/nonexistent/${name}`,
    requestSingleInstanceLock: () => s().lock,
    whenReady: () => {
      s().log.push('whenReady');
      return s().whenReady;
    },
    isPackaged: false,
    quit: () => {
      s().log.push('quit');
      let prevented = false;
      emit('will-quit', { preventDefault: () => (prevented = true) });
      if (!prevented) s().quitted = true;
    },
    exit: (code: number) => {
      s().exitCode = code;
    },
  };
  class BrowserWindow {
    readonly webContents = { id: 1, isDestroyed: () => false, getURL: () => this.url ?? '', send: () => undefined };
    url: string | null = null;
    readonly record: { options: Record<string, unknown>; url: string | null };
    constructor(options: Record<string, unknown>) {
      this.record = { options, url: null };
      s().windows.push(this.record);
    }
    once() {}
    on() {}
    isDestroyed() {
      return false;
    }
    async loadURL(url: string) {
      this.url = url;
      this.record.url = url;
    }
  }
  const defaultSession = {
    protocol: { handle: (scheme: string) => s().log.push(`protocol.handle ${scheme}`) },
    setPermissionRequestHandler: () => s().log.push('permission request handler'),
    setPermissionCheckHandler: () => s().log.push('permission check handler'),
    webRequest: { onBeforeRequest: () => s().log.push('request filter') },
  };
  return {
    app,
    BrowserWindow,
    session: { defaultSession },
    protocol: { registerSchemesAsPrivileged: (schemes: { scheme: string }[]) => s().log.push(`register ${schemes.map((x) => x.scheme).join()}`) },
    ipcMain: { handle: (ch: string) => s().handlers.add(ch), removeHandler: (ch: string) => s().handlers.delete(ch) },
    dialog: {
      showErrorBox: (title: string, body: string) => s().dialogs.push({ title, body }),
      showMessageBoxSync: (o: { title?: string; message: string; detail?: string }) => {
        s().dialogs.push({ title: o.title ?? o.message, body: o.detail ?? o.message });
        return s().answer;
      },
    },
    nativeTheme: { shouldUseDarkColors: false },
    shell: { openExternal: async () => undefined },
    utilityProcess: { fork: () => { throw new Error('no trainer is started in these tests'); } },
  };
});

const tmp = tempDir();
afterAll(tmp.cleanup);
const savedDb = process.env['LORA_LAB_DB'];
const savedXdg = process.env['XDG_DATA_HOME'];
let signalListeners: { SIGINT: unknown[]; SIGTERM: unknown[] };

beforeEach(() => {
  delete process.env['LORA_LAB_DB'];
  signalListeners = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  vi.resetModules();
});
afterEach(() => {
  if (savedDb !== undefined) process.env['LORA_LAB_DB'] = savedDb;
  if (savedXdg !== undefined) process.env['XDG_DATA_HOME'] = savedXdg;
  else delete process.env['XDG_DATA_HOME'];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    for (const l of process.listeners(sig)) if (!signalListeners[sig].includes(l)) process.removeListener(sig, l as () => void);
  }
});

/** The app's database is the per-user one the CLI uses (XDG on Linux): point it into the test's folder. */
const dbIn = (appData: string) => join(appData, 'lora-lab', 'lab.db');

async function startMain(appData: string, lock = true, answer = 0) {
  process.env['XDG_DATA_HOME'] = appData;
  reset(appData, lock);
  fake.state!.answer = answer;
  await import('../../src-main/app/main.ts');
  const s = fake.state!;
  s.ready();
  await new Promise((r) => setTimeout(r, 50));
  return s;
}

async function quit(s: NonNullable<typeof fake.state>) {
  const { app } = await import('electron');
  app.quit();
  for (let i = 0; i < 100 && !s.quitted; i++) await new Promise((r) => setTimeout(r, 20));
}

describe('main process', () => {
  it('registers app:// before ready, then opens the Lab on the shared per-user database, IPC and the hardened window; quitting closes the Lab first', async () => {
    const appData = join(tmp.dir, 'happy');
    const s = await startMain(appData);
    expect(s.paths['userData']).toBe(join(appData, 'LoRA Lab'));
    expect(s.log.indexOf('register app')).toBeGreaterThanOrEqual(0);
    expect(s.log.indexOf('register app')).toBeLessThan(s.log.indexOf('whenReady'));
    // Trainer crash reasons come from Electron's child-process-gone (trainer/host.ts matches them by service name).
    expect(s.listeners.get('child-process-gone')).toHaveLength(1);
    const db = dbIn(appData);
    expect(existsSync(db)).toBe(true);

    if (rendererDir() === null) {
      // Not built (vitest run without `npm run build`): the app says so and stops.
      expect(s.dialogs).toEqual([{ title: 'LoRA Lab is not built', body: expect.stringMatching(/npm run build/) }]);
      expect(s.exitCode).toBe(1);
      return;
    }
    expect(s.dialogs).toEqual([]);
    expect([...s.handlers].sort()).toEqual(LAB_CALLS.map((c) => `lab:${c}`).sort());
    expect(s.log).toEqual(expect.arrayContaining(['permission request handler', 'permission check handler', 'request filter', 'protocol.handle app']));
    expect(s.windows).toHaveLength(1);
    const win = s.windows[0]!;
    expect(win.url).toBe('app://lora-lab/index.html');
    expect(win.options['webPreferences']).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(String((win.options['webPreferences'] as { preload: string }).preload)).toMatch(/preload\.cjs$/);

    await quit(s);
    expect(s.quitted).toBe(true);
    expect(s.log.filter((l) => l === 'quit')).toHaveLength(2); // held once for the Lab, then for real
    expect(s.handlers.size).toBe(0);
    expect(existsSync(`${db}-wal`)).toBe(false); // the database was closed cleanly
  });

  it('shows a broken database in plain words and exits', async () => {
    const appData = join(tmp.dir, 'broken');
    mkdirSync(join(appData, 'lora-lab'), { recursive: true });
    writeFileSync(dbIn(appData), 'these bytes are not SQLite, not at all, not even close');
    const s = await startMain(appData);
    expect(s.dialogs).toHaveLength(1);
    expect(s.dialogs[0]!.title).toBe('LoRA Lab cannot open its database');
    expect(s.dialogs[0]!.body).toMatch(/is not a LoRA Lab database, or it is damaged/);
    expect(s.dialogs[0]!.body).not.toMatch(/\n\s+at /);
    expect(s.exitCode).toBe(1);
    expect(s.windows).toEqual([]);
    expect(s.handlers.size).toBe(0);
  });

  it('offers a fresh database for a damaged one, keeping the damaged file aside', async () => {
    const appData = join(tmp.dir, 'fresh');
    mkdirSync(join(appData, 'lora-lab'), { recursive: true });
    const garbage = 'these bytes are not SQLite either, and must survive';
    writeFileSync(dbIn(appData), garbage);
    const s = await startMain(appData, true, 1);
    expect(s.dialogs[0]!.body).toMatch(/is not a LoRA Lab database, or it is damaged/);
    expect(s.dialogs[1]!.body).toMatch(/The damaged file was kept as .*lab\.db\.damaged-/);
    expect(s.exitCode).toBeNull();
    const aside = readdirSync(join(appData, 'lora-lab')).find((f) => f.startsWith('lab.db.damaged-'))!;
    expect(readFileSync(join(appData, 'lora-lab', aside), 'utf8')).toBe(garbage);
    expect(existsSync(dbIn(appData))).toBe(true);
    await quit(s);
  });

  it('offers a fresh database for an SQLite file damaged inside (one page of the runs table), keeping it aside byte for byte', async () => {
    const appData = join(tmp.dir, 'damaged-page');
    const db = dbIn(appData);
    const store = openStore(db);
    store.runs.create({ name: 'before the damage', kind: 'base', config: defaultConfig('base') });
    store.close();
    corruptTablePage(db, 'runs');
    const hash = sha256File(db);
    const s = await startMain(appData, true, 1);
    expect(s.dialogs[0]!.body).toMatch(/is damaged: part of it can no longer be read, so nothing was written to it\. Start with a fresh database/);
    expect(s.dialogs[1]!.body).toMatch(/The damaged file was kept as .*lab\.db\.damaged-/);
    const aside = readdirSync(join(appData, 'lora-lab')).find((f) => /^lab\.db\.damaged-.*Z$/.test(f))!;
    expect(sha256File(join(appData, 'lora-lab', aside))).toBe(hash);
    expect(s.exitCode).toBeNull();
    await quit(s);
  });

  it('a folder where the database should be is explained, not offered a fresh start, and never moved', async () => {
    const appData = join(tmp.dir, 'folder');
    mkdirSync(dbIn(appData), { recursive: true });
    writeFileSync(join(dbIn(appData), 'keep.txt'), 'mine');
    const s = await startMain(appData, true, 1); // would click "fresh database" if offered
    expect(s.dialogs).toEqual([{ title: 'LoRA Lab cannot open its database', body: expect.stringMatching(/is a folder, not a database file/) }]);
    expect(s.exitCode).toBe(1);
    expect(readdirSync(join(appData, 'lora-lab'))).toEqual(['lab.db']);
    expect(readdirSync(dbIn(appData))).toEqual(['keep.txt']);
  });

  it('an empty LORA_LAB_DB is said in words instead of opening another file', async () => {
    const appData = join(tmp.dir, 'empty-env');
    process.env['LORA_LAB_DB'] = '';
    try {
      const s = await startMain(appData);
      expect(s.dialogs).toEqual([{ title: 'LoRA Lab cannot open its database', body: expect.stringMatching(/LORA_LAB_DB is set but empty/) }]);
      expect(s.exitCode).toBe(1);
      expect(existsSync(dbIn(appData))).toBe(false);
    } finally {
      delete process.env['LORA_LAB_DB'];
    }
  });

  it('a second instance quits without opening anything', async () => {
    const s = await startMain(join(tmp.dir, 'second'), false);
    expect(s.log).toContain('quit');
    expect(s.log).not.toContain('whenReady');
    expect(s.windows).toEqual([]);
    expect(existsSync(dbIn(join(tmp.dir, 'second')))).toBe(false);
  });
});
