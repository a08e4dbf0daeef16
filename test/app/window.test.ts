/**
 * The window and session follow Electron's security checklist: isolated, sandboxed
 * renderer without Node, web security on, no webviews; navigation and window.open are
 * denied (http(s) targets go to the system browser, nothing else does); permissions are
 * refused; the app makes no network requests. Electron itself is mocked (no binary here).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { Session, WebContents } from 'electron';

vi.mock('electron', () => ({ BrowserWindow: class {} }));

const { windowOptions, guardContents } = await import('../../src-main/app/window.ts');
const { hardenSession, permissionAllowed, requestAllowed } = await import('../../src-main/app/session.ts');
const { APP_INDEX, externalUrl, isAppUrl } = await import('../../src-main/app/origin.ts');

describe('windowOptions', () => {
  const opts = windowOptions({ preload: '/app/dist/preload.cjs', dark: false, devTools: false });
  const web = opts.webPreferences!;

  it('isolates and sandboxes the renderer, without Node', () => {
    expect(web.contextIsolation).toBe(true);
    expect(web.sandbox).toBe(true);
    expect(web.nodeIntegration).toBe(false);
    expect(web.nodeIntegrationInWorker).toBe(false);
    expect(web.nodeIntegrationInSubFrames).toBe(false);
  });

  it('keeps web security on and risky features off', () => {
    expect(web.webSecurity).toBe(true);
    expect(web.allowRunningInsecureContent).toBe(false);
    expect(web.webviewTag).toBe(false);
    expect(web.experimentalFeatures).toBe(false);
    expect(web.navigateOnDragDrop).toBe(false);
    expect(web.plugins).toBe(false);
    expect(web.enableBlinkFeatures).toBeUndefined();
    expect(web.spellcheck).toBe(false);
  });

  it('loads only the preload it is given, and DevTools only when asked', () => {
    expect(web.preload).toBe('/app/dist/preload.cjs');
    expect(web.devTools).toBe(false);
    expect(windowOptions({ preload: 'p', dark: true, devTools: true }).webPreferences!.devTools).toBe(true);
  });

  it('opens hidden (shown when ready) with a background that matches the theme', () => {
    expect(opts.show).toBe(false);
    expect(opts.backgroundColor).toBe('#ffffff');
    expect(windowOptions({ preload: 'p', dark: true, devTools: false }).backgroundColor).not.toBe('#ffffff');
  });

  it('loads the page from the app:// origin', () => {
    expect(APP_INDEX).toBe('app://lora-lab/index.html');
    expect(isAppUrl(APP_INDEX)).toBe(true);
  });
});

/** A stand-in for WebContents that records the handlers guardContents installs. */
function fakeContents() {
  const emitter = new EventEmitter();
  let openHandler: ((d: { url: string }) => { action: string }) | null = null;
  const contents = Object.assign(emitter, {
    setWindowOpenHandler: (h: typeof openHandler) => {
      openHandler = h;
    },
  });
  const navEvent = (url: string, extra: object = {}) => ({ url, preventDefault: vi.fn(), ...extra });
  return { contents: contents as unknown as WebContents, emitter, open: (url: string) => openHandler!({ url }), navEvent };
}

describe('guardContents', () => {
  it('denies every window.open, handing only http(s) to the system browser', () => {
    const f = fakeContents();
    const external = vi.fn();
    guardContents(f.contents, external);
    for (const url of ['https://arxiv.org/abs/2106.09685', 'http://example.com/', 'app://lora-lab/index.html', 'file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'ms-settings:', 'not a url']) {
      expect(f.open(url)).toEqual({ action: 'deny' });
    }
    expect(external.mock.calls).toEqual([['https://arxiv.org/abs/2106.09685'], ['http://example.com/']]);
  });

  it('prevents every navigation of the main frame, even within the app', () => {
    const f = fakeContents();
    const external = vi.fn();
    guardContents(f.contents, external);
    for (const url of ['https://evil.example/', 'app://lora-lab/other.html', 'file:///etc/passwd']) {
      const e = f.navEvent(url);
      f.emitter.emit('will-navigate', e, url);
      expect(e.preventDefault).toHaveBeenCalled();
    }
    expect(external.mock.calls).toEqual([['https://evil.example/']]);
  });

  it('stops subframe navigations, redirects and webviews', () => {
    const f = fakeContents();
    guardContents(f.contents, vi.fn());
    const sub = f.navEvent('https://evil.example/', { isMainFrame: false });
    f.emitter.emit('will-frame-navigate', sub);
    expect(sub.preventDefault).toHaveBeenCalled();
    const redirect = f.navEvent('https://evil.example/');
    f.emitter.emit('will-redirect', redirect);
    expect(redirect.preventDefault).toHaveBeenCalled();
    const webview = f.navEvent('');
    f.emitter.emit('will-attach-webview', webview, {}, {});
    expect(webview.preventDefault).toHaveBeenCalled();
  });
});

describe('externalUrl', () => {
  it('passes http(s) only, never with credentials', () => {
    expect(externalUrl('https://github.com/microsoft/LoRA')).toBe('https://github.com/microsoft/LoRA');
    expect(externalUrl('https://user:pw@example.com/')).toBeNull();
    expect(externalUrl('file:///C:/Windows/System32/calc.exe')).toBeNull();
    expect(externalUrl('vscode://file/etc/passwd')).toBeNull();
  });
});

describe('session', () => {
  it('grants clipboard writes and nothing else', () => {
    expect(permissionAllowed('clipboard-sanitized-write')).toBe(true);
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'clipboard-read', 'hid', 'usb', 'serial', 'fullscreen', 'unknown']) {
      expect(permissionAllowed(p), p).toBe(false);
    }
  });

  it('lets only local requests through', () => {
    for (const url of ['app://lora-lab/index.html', 'app://lora-lab/assets/x.js', 'data:image/png;base64,AA==', 'blob:app://lora-lab/1', 'devtools://devtools/bundled/inspector.html']) {
      expect(requestAllowed(url), url).toBe(true);
    }
    for (const url of ['https://example.com/', 'http://127.0.0.1:8080/', 'ws://127.0.0.1/', 'file:///etc/passwd', 'ftp://x/', 'nonsense']) {
      expect(requestAllowed(url), url).toBe(false);
    }
  });

  it('hardenSession installs the permission and request policies', () => {
    const handlers: Record<string, (...a: never[]) => unknown> = {};
    const session = {
      setPermissionRequestHandler: (h: never) => (handlers['request'] = h),
      setPermissionCheckHandler: (h: never) => (handlers['check'] = h),
      webRequest: { onBeforeRequest: (h: never) => (handlers['before'] = h) },
    } as unknown as Session;
    hardenSession(session);
    const granted: boolean[] = [];
    (handlers['request'] as (w: unknown, p: string, cb: (g: boolean) => void) => void)({}, 'media', (g) => granted.push(g));
    (handlers['request'] as (w: unknown, p: string, cb: (g: boolean) => void) => void)({}, 'clipboard-sanitized-write', (g) => granted.push(g));
    expect(granted).toEqual([false, true]);
    expect((handlers['check'] as (w: unknown, p: string) => boolean)({}, 'geolocation')).toBe(false);
    const answers: unknown[] = [];
    const before = handlers['before'] as (d: { url: string }, cb: (r: unknown) => void) => void;
    before({ url: 'https://tracker.example/x.gif' }, (r) => answers.push(r));
    before({ url: 'app://lora-lab/index.html' }, (r) => answers.push(r));
    expect(answers).toEqual([{ cancel: true }, { cancel: false }]);
  });
});
