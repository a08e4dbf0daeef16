/**
 * Session-wide rules: the page may write to the clipboard and nothing else a site could
 * ask for (camera, notifications, geolocation …), and the app never goes online — a
 * request to anything but its own app:// pages (and DevTools) is cancelled, so a CSP
 * slip cannot leak data either.
 */
import type { Session } from 'electron';
import { APP_SCHEME } from './origin.ts';

const GRANTED = new Set<string>(['clipboard-sanitized-write']);
const LOCAL_SCHEMES = new Set<string>([`${APP_SCHEME}:`, 'devtools:', 'data:', 'blob:']);

export function permissionAllowed(permission: string): boolean {
  return GRANTED.has(permission);
}

/** True for requests the app's own pages legitimately make. */
export function requestAllowed(url: string): boolean {
  try {
    return LOCAL_SCHEMES.has(new URL(url).protocol);
  } catch {
    return false;
  }
}

export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_contents, permission, callback) => callback(permissionAllowed(permission)));
  session.setPermissionCheckHandler((_contents, permission) => permissionAllowed(permission));
  session.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !requestAllowed(details.url) }));
}
