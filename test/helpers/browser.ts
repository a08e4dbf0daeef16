/**
 * The browser harness the end-to-end tests (and the UI bench) share: a real Lab on a
 * temporary database, the web-mode server with the built UI, Debian chromium driven by
 * playwright-core, and full-page screenshots.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { queueFileFor } from '../../src-main/remote/settings.ts';
import type { RemoteDispatcher } from '../../src-main/remote/dispatcher.ts';
import { Lab } from '../../src-main/lab/lab.ts';
import { type RunningServer, startServer } from '../../src-main/server/server.ts';
import { tempDir } from './tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The built UI; LORA_LAB_UI_DIR points at another build (one made with LORA_LAB_UI_OUT). */
export const STATIC_DIR = process.env['LORA_LAB_UI_DIR'] || join(root, 'dist', 'renderer');
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Headless, and quiet: this machine has no network, so nothing may try to reach one. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const SHOTS_DIR = join(root, 'test-results', 'screenshots');
const DOCS_DIR = join(root, 'docs', 'screenshots');

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface E2E {
  lab: Lab;
  server: RunningServer;
  browser: Browser;
  page: Page;
  /** Uncaught page errors and console errors the caller did not claim. */
  pageErrors: string[];
  close(): Promise<void>;
}

export interface E2EOptions {
  prefix: string;
  concurrency?: number;
  /** Remote workers: the lab sends its runs to this queue. */
  remote?: RemoteDispatcher;
  /** The lab remembers the queue set on its Workers page beside its database, as the app and serve do. */
  rememberQueue?: boolean;
  /** Return true for a console error the test expects (it is then not a page error). */
  expectedConsoleError?: (text: string) => boolean;
}

/** Lab, server, browser and one page at the app's URL (token included). */
export async function startE2E(opts: E2EOptions): Promise<E2E> {
  if (!existsSync(join(STATIC_DIR, 'index.html'))) throw new Error('the UI is not built: run `node scripts/build.mjs` (npm test does)');
  mkdirSync(SHOTS_DIR, { recursive: true });
  const tmp = tempDir(opts.prefix);
  const lab = Lab.open(join(tmp.dir, 'lab.db'), {
    concurrency: opts.concurrency ?? 1,
    ...(opts.remote ? { remote: opts.remote } : {}),
    ...(opts.rememberQueue ? { queueFile: queueFileFor(join(tmp.dir, 'lab.db')) } : {}),
    host: { env: { ...process.env, LORA_LAB_BACKEND: process.env['LORA_LAB_BACKEND'] || 'wasm' } },
  });
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    await lab.close();
    tmp.cleanup();
  };
  try {
    server = await startServer({ lab, staticDir: STATIC_DIR });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light', deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !opts.expectedConsoleError?.(m.text())) pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(server.url);
    return { lab, server, browser, page, pageErrors, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Full-page screenshot to test-results/screenshots/NAME.png; the README's copy in
 * docs/screenshots/ is refreshed on request only (UPDATE_SCREENSHOTS=1 npm test), so an
 * ordinary test run leaves the working tree clean.
 */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  // From the top (a sticky header would otherwise land mid-page), no hover, charts laid out.
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  const file = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS'] === '1') {
    mkdirSync(DOCS_DIR, { recursive: true });
    copyFileSync(file, join(DOCS_DIR, `${name}.png`));
  }
}
