/**
 * Where the app's own pages live: `app://lora-lab/`, a privileged standard scheme
 * (see app-protocol.ts), so the renderer has a real origin that IPC handlers can check
 * and that a CSP's 'self' means. Pure functions, no Electron imports.
 */

export const APP_SCHEME = 'app';
export const APP_HOST = 'lora-lab';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX = `${APP_ORIGIN}/index.html`;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * True for a URL of our app's origin. Compared by parts: Node's URL gives the origin of
 * a non-special scheme as "null", so `new URL(url).origin === APP_ORIGIN` would never hold.
 */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

/**
 * The URL to hand to the system browser, or null to drop it. Only http(s): a link the
 * page opens must never reach `shell.openExternal` as file:, smb: or an app's custom
 * scheme (the classic way from a renderer to running a program).
 */
export function externalUrl(url: string): string | null {
  const u = parse(url);
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.username !== '' || u.password !== '') return null;
  return u.href;
}
