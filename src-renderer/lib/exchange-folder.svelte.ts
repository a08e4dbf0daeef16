/**
 * The exchange folder as the Data and Models pages list it (what can be imported, what
 * exports wrote): its entries as last read, or why they could not be read.
 */
import type { FolderEntry } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';
import { Coalesced } from './coalesce.ts';

export interface FolderListing {
  folder: string;
  entries: FolderEntry[];
}

export class ExchangeFolder {
  #listing = $state.raw<FolderListing | null>(null);
  #error = $state<string | null>(null);
  readonly #reload = new Coalesced(() => void this.load(), 200);

  get listing(): FolderListing | null { return this.#listing; }
  get error(): string | null { return this.#error; }

  async load(): Promise<void> {
    try {
      this.#listing = await lab.listFolder();
      this.#error = null;
    } catch (err) {
      this.#error = errorText(err);
    }
  }

  /** Reads it again shortly: a task that ended (an export) may have written into it. */
  schedule(): void {
    this.#reload.ask();
  }

  stop(): void {
    this.#reload.cancel();
  }
}
