/**
 * Sweeps and their points × seeds (sweep_runs): the persistent queue. (Skeleton: the
 * sweep work fills it in.)
 */
import type { Db } from './database.ts';
import type { RunSweepLink } from '../contract/records.ts';

export class SweepsRepo {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Links a (point, seed) to the run that trains it (inside the run's creating transaction). */
  attachRun(link: RunSweepLink, runId: number): void {
    void this.#db;
    void link;
    void runId;
    throw new Error('not implemented yet');
  }
}
