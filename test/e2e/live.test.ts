/**
 * Runs made by another process show up live (issue 12, item 1): the Runs page open in a
 * real browser over web mode, while the real `lora-lab` command trains a run and tags it
 * on the same database file. The row appears, shows live progress, turns completed, and
 * gets its tag — all without a reload.
 */
import type { ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2E, saveScreenshot, startE2E } from '../helpers/browser.ts';
import { lab as cli, labProcess } from '../helpers/cli.ts';

let e2e: E2E | undefined;
let page: Page;
let dbFile: string;
let trainer: ChildProcess | undefined;

beforeAll(async () => {
  e2e = await startE2E({ prefix: 'lora-lab-e2e-live-' });
  page = e2e.page;
  dbFile = e2e.lab.store.file;
});

afterAll(async () => {
  if (trainer && trainer.exitCode === null) trainer.kill('SIGKILL');
  await e2e?.close();
});

describe('changes from the command line, live in the app', () => {
  it('a `lora-lab train` on the same database appears on the open Runs page with live progress, then completed; `lora-lab tag` adds its tag', async () => {
    await page.evaluate(() => (location.hash = '#/runs'));
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await page.getByText('No runs yet').waitFor();
    // Marks this document: a reload would lose it. And a MutationObserver records what the
    // row showed while it trained, however briefly.
    await page.evaluate(() => {
      const w = window as unknown as { sameDocument: boolean; liveRow: { running: boolean; progress: number } };
      w.sameDocument = true;
      w.liveRow = { running: false, progress: 0 };
      new MutationObserver(() => {
        const row = document.querySelector('tr[data-run-id]');
        if (!row?.querySelector('[data-status="running"]')) return;
        w.liveRow.running = true;
        const now = Number(row.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow') ?? 0);
        w.liveRow.progress = Math.max(w.liveRow.progress, now);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });

    // A real second process: the CLI trains a tiny run (a few seconds) on the app's database file.
    trainer = labProcess([
      'train', '--db', dbFile, '--name', 'trained by the CLI', '--sizes', '784,16,10', '--epochs', '10', '--steps', '1500',
      '--batch-size', '16', '--train-limit', '3200', '--test-limit', '300', '-q',
    ]);
    let stderr = '';
    trainer.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => trainer!.once('exit', resolve));

    const row = page.locator('tr[data-run-id]', { hasText: 'trained by the CLI' });
    await row.waitFor({ timeout: 30_000 });
    await row.locator('[data-status="completed"]').waitFor({ timeout: 60_000 });
    expect(await exited, stderr).toBe(0);
    const live = await page.evaluate(() => (window as unknown as { liveRow: { running: boolean; progress: number } }).liveRow);
    expect(live.running).toBe(true);
    // Progress read from the CLI's writes to the row: a step count past 0 was on screen.
    expect(live.progress).toBeGreaterThan(0);
    await expect(row.locator('td', { hasText: '%' }).first().textContent()).resolves.toMatch(/\d+(\.\d+)?%/);

    const id = Number(await row.getAttribute('data-run-id'));
    const tagged = await cli(['tag', String(id), 'from-the-cli', '--db', dbFile]);
    expect(tagged.code, tagged.stderr).toBe(0);
    await row.locator('.chip:visible', { hasText: 'from-the-cli' }).first().waitFor({ timeout: 10_000 });

    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await saveScreenshot(page, 'runs-live-from-cli');
    expect(e2e!.pageErrors).toEqual([]);
  });
});
