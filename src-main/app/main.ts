/**
 * The Electron main process: one instance, one Lab (the per-user database the CLI uses too, trainers
 * as utility processes), the app:// page in one hardened window, IPC as the page's only
 * way in. Quitting closes the Lab first, so running trainers are stopped and their runs
 * marked before the process ends.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserWindow, Notification, app, dialog, nativeTheme, session, shell } from 'electron';
import { Lab } from '../lab/lab.ts';
import { queueFileFor } from '../remote/settings.ts';
import { defaultDbPath, setAsideDamaged } from '../store/database.ts';
import { isUnusableDatabase } from '../store/errors.ts';
import { rendererDir } from '../server/static-dir.ts';
import { registerAppScheme, serveApp } from './app-protocol.ts';
import { registerIpc } from './ipc.ts';
import { type Notice, startNotifier } from './notifier.ts';
import { hardenSession } from './session.ts';
import { startupErrorMessage } from './startup-error.ts';
import { spawnUtilityTrainer, trainerGone } from './utility-port.ts';
import { createWindow, guardContents } from './window.ts';

// dist/main.js sits beside preload.cjs, trainer.js and renderer/.
const PRELOAD = fileURLToPath(new URL('./preload.cjs', import.meta.url));
/** Closing trainers waits at most 5 s each (in parallel); past this, quit anyway. */
const CLOSE_TIMEOUT_MS = 15_000;

let lab: Lab | null = null;
let win: BrowserWindow | null = null;
let disposeIpc: (() => void) | null = null;
let stopNotifier: (() => void) | null = null;
let closing: Promise<void> | null = null;

// The same folder in development and packaged (package.json's name is lora-lab, the product LoRA Lab).
app.setPath('userData', join(app.getPath('appData'), 'LoRA Lab'));
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  // Why a trainer died (crashed, killed, out of memory …): its port puts the reason on the run.
  app.on('child-process-gone', (_event, details) => void trainerGone(details));
  app.on('web-contents-created', (_event, contents) => guardContents(contents, (url) => void shell.openExternal(url)));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (lab && !win) openWindow();
  });
  app.on('will-quit', (event) => {
    if (!lab) return;
    // Keep the process until the Lab has stopped its trainers, then quit for real.
    event.preventDefault();
    void closeLab().finally(() => app.quit());
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());
  void app.whenReady().then(start);
}

function start(): void {
  // The same file the CLI and web mode use (LORA_LAB_DB overrides): runs started there show up here.
  let dbFile: string;
  try {
    dbFile = defaultDbPath();
  } catch (err) {
    // LORA_LAB_DB set but empty: said in words, never a guess at another file.
    dialog.showErrorBox('LoRA Lab cannot open its database', (err as Error).message);
    app.exit(1);
    return;
  }
  // The whole file is checked (under a second for half a gigabyte): damage anywhere is found
  // at start, where a fresh database can still be offered.
  // The queue set on the Workers page is remembered beside the database (never in it).
  const open = () => Lab.open(dbFile, { host: { spawn: spawnUtilityTrainer }, fullCheck: true, resumeSweeps: true, queueFile: queueFileFor(dbFile) });
  try {
    lab = open();
  } catch (err) {
    const m = startupErrorMessage(err, dbFile);
    // Not ours or damaged: offer a fresh database. Anything else (a folder, a bad path) is only explained.
    if (!isUnusableDatabase(err)) {
      dialog.showErrorBox(m.title, m.body);
      app.exit(1);
      return;
    }
    // A damaged file: offer a fresh database, keeping the damaged one aside (renamed).
    const choice = dialog.showMessageBoxSync({
      type: 'error',
      title: m.title,
      message: m.title,
      detail: m.body,
      buttons: ['Quit', 'Start with a fresh database'],
      defaultId: 0,
      cancelId: 0,
    });
    if (choice !== 1) {
      app.exit(1);
      return;
    }
    try {
      const aside = setAsideDamaged(dbFile);
      lab = open();
      dialog.showMessageBoxSync({ type: 'info', title: 'LoRA Lab', message: 'LoRA Lab started with a fresh database.', detail: `The damaged file was kept as ${aside}.`, buttons: ['OK'] });
    } catch (again) {
      const m2 = startupErrorMessage(again, dbFile);
      dialog.showErrorBox(m2.title, m2.body);
      app.exit(1);
      return;
    }
  }
  const renderer = rendererDir();
  if (!renderer) {
    dialog.showErrorBox('LoRA Lab is not built', 'The user interface is missing (dist/renderer). Run `npm run build` in the project folder.');
    void closeLab().finally(() => app.exit(1));
    return;
  }
  hardenSession(session.defaultSession);
  serveApp(session.defaultSession, renderer);
  disposeIpc = registerIpc(lab, () => win);
  // Remote workers: the remembered queue, when it can be reached (why not is shown on the Workers page).
  void lab.connectRememberedQueue().catch(() => undefined);
  // Sweeps and long runs that end are told here, by the OS; the renderer then tells nothing (it knows it runs in Electron).
  stopNotifier = startNotifier(lab, showNotice);
  openWindow();
}

function showNotice(n: Notice): void {
  if (!Notification.isSupported()) return;
  const note = new Notification({ title: n.title, body: n.body });
  note.on('click', () => {
    if (!win) openWindow();
    win?.show();
    win?.focus();
  });
  note.show();
}

function openWindow(): void {
  const w = createWindow({ preload: PRELOAD, dark: nativeTheme.shouldUseDarkColors, devTools: !app.isPackaged });
  w.on('closed', () => {
    if (win === w) win = null;
  });
  win = w;
}

/** Closes the Lab once (trainers killed, queued runs cancelled), bounded in time. */
function closeLab(): Promise<void> {
  closing ??= (async () => {
    const l = lab;
    disposeIpc?.();
    disposeIpc = null;
    stopNotifier?.();
    stopNotifier = null;
    if (!l) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.error('LoRA Lab: trainers did not stop in time; quitting anyway.');
        resolve();
      }, CLOSE_TIMEOUT_MS);
    });
    try {
      await Promise.race([l.close(), timeout]);
    } catch (err) {
      console.error('LoRA Lab: closing the lab failed:', err);
    } finally {
      clearTimeout(timer);
      lab = null;
    }
  })();
  return closing;
}
