/**
 * What the Data and Models pages share: their lists loaded from the Lab and kept live
 * (events that change them reload them, once per burst; so does a reconnect), whether
 * that failed, and the exchange folder listed beside them (re-read when a task ends:
 * exports write into it, from this window, another or the CLI).
 */
import type { LabEvent } from '../../src-main/contract/api.ts';
import { errorText, lab, onConnection } from './api.ts';
import { Coalesced } from './coalesce.ts';
import { ExchangeFolder, type FolderListing } from './exchange-folder.svelte.ts';

export abstract class LiveLists {
  readonly #exchange = new ExchangeFolder();
  #loading = $state(true);
  #error = $state<string | null>(null);
  readonly #reload = new Coalesced(() => void this.load(), 200);

  get loading(): boolean { return this.#loading; }
  get error(): string | null { return this.#error; }
  get folder(): FolderListing | null { return this.#exchange.listing; }
  get folderError(): string | null { return this.#exchange.error; }

  /** Reads the lists; what it throws is shown as the page's error. */
  protected abstract fetch(): Promise<void>;
  /** An event from the Lab: call `scheduleLoad` when it changes the lists. */
  protected abstract onEvent(e: LabEvent): void;

  start(): () => void {
    const off = lab.subscribe((e) => {
      this.onEvent(e);
      if (e.type === 'task' && e.done >= e.total) this.#exchange.schedule();
    });
    const offConn = onConnection((_c, reconnected) => {
      if (reconnected) void this.load();
    });
    void this.load();
    void this.loadFolder();
    return () => {
      off();
      offConn();
      this.#reload.cancel();
      this.#exchange.stop();
    };
  }

  async load(): Promise<void> {
    try {
      await this.fetch();
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    } finally {
      this.#loading = false;
    }
  }

  loadFolder(): Promise<void> {
    return this.#exchange.load();
  }

  protected scheduleLoad(): void {
    this.#reload.ask();
  }
}
