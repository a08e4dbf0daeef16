/**
 * The Content-Security-Policy of the UI, in web mode and in Electron alike: only the
 * app's own scripts, no inline script, no network but its own origin. (Its own module so
 * the Electron main bundle does not pull in the web server.)
 */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";
