/**
 * The one window, configured by Electron's security checklist: an isolated, sandboxed
 * renderer without Node, web security on, no webviews; the page comes from app://
 * (app-protocol.ts, CSP as a header). The page never navigates away and never opens
 * windows: http(s) links go to the system browser, everything else is dropped.
 */
import { BrowserWindow, type BrowserWindowConstructorOptions, type WebContents } from 'electron';
import { APP_INDEX, externalUrl } from './origin.ts';

export interface WindowSettings {
  /** Absolute path of dist/preload.cjs. */
  preload: string;
  /** The OS prefers dark colours (no white flash before the page paints). */
  dark: boolean;
  devTools: boolean;
}

export function windowOptions(s: WindowSettings): BrowserWindowConstructorOptions {
  return {
    title: 'LoRA Lab',
    width: 1320,
    height: 860,
    minWidth: 860,
    minHeight: 560,
    show: false,
    backgroundColor: s.dark ? '#15171c' : '#ffffff',
    webPreferences: {
      preload: s.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      plugins: false,
      safeDialogs: true,
      // Chromium's spellchecker downloads dictionaries from Google: the app stays offline.
      spellcheck: false,
      // A middle click would otherwise open links in a new window, around setWindowOpenHandler.
      disableBlinkFeatures: 'Auxclick',
      devTools: s.devTools,
    },
  };
}

/**
 * Navigation policy for any web contents: window.open and navigations are denied; an
 * http(s) target is handed to `openExternal` (the system browser) instead.
 */
export function guardContents(contents: WebContents, openExternal: (url: string) => void): void {
  const handOff = (url: string) => {
    const ext = externalUrl(url);
    if (ext) openExternal(ext);
  };
  contents.setWindowOpenHandler(({ url }) => {
    handOff(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event) => {
    event.preventDefault();
    handOff(event.url);
  });
  // Subframes too (the app has none; a frame that appears must not wander off).
  contents.on('will-frame-navigate', (event) => {
    if (!event.isMainFrame) event.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

export function createWindow(s: WindowSettings): BrowserWindow {
  const options = windowOptions(s);
  // The security-critical preferences are spelled out again at the constructor, last, so
  // no later edit of windowOptions can weaken them (and static checkers see them here).
  const win = new BrowserWindow({
    ...options,
    webPreferences: { ...options.webPreferences, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, disableBlinkFeatures: 'Auxclick' },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_INDEX);
  return win;
}
