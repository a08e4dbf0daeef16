/**
 * The store: one open database and one repository per table. The Lab service owns the
 * only Store of the process (the main process is the single writer).
 */
import { AdaptersRepo } from './adapters.ts';
import { DamageWatch } from './damage.ts';
import { DatasetsRepo } from './datasets.ts';
import type { Db, OpenOptions } from './database.ts';
import { defaultDbPath, openDatabase } from './database.ts';
import type { DamagedDatabaseError } from './errors.ts';
import { EvaluationsRepo } from './evaluations.ts';
import { MergePreviewsRepo } from './merge-previews.ts';
import { MetricsRepo } from './metrics.ts';
import { ModelsRepo } from './models.ts';
import { RunsRepo } from './runs.ts';
import { SweepsRepo } from './sweeps.ts';
import { TensorsRepo } from './tensors.ts';

export class Store {
  readonly models: ModelsRepo;
  readonly adapters: AdaptersRepo;
  readonly tensors: TensorsRepo;
  readonly runs: RunsRepo;
  readonly metrics: MetricsRepo;
  readonly evaluations: EvaluationsRepo;
  readonly mergePreviews: MergePreviewsRepo;
  readonly datasets: DatasetsRepo;
  readonly sweeps: SweepsRepo;
  readonly #watch: DamageWatch;

  constructor(readonly db: Db) {
    // First, so every statement the repositories prepare is watched for SQLITE_CORRUPT.
    this.#watch = new DamageWatch(db);
    this.models = new ModelsRepo(db);
    this.adapters = new AdaptersRepo(db);
    this.tensors = new TensorsRepo(db);
    this.runs = new RunsRepo(db, this.models);
    this.metrics = new MetricsRepo(db);
    this.evaluations = new EvaluationsRepo(db);
    this.mergePreviews = new MergePreviewsRepo(db);
    this.datasets = new DatasetsRepo(db);
    this.sweeps = new SweepsRepo(db);
  }

  /**
   * Damage met while in use (SQLITE_CORRUPT from any statement), or null. Once set, the
   * connection is query_only and every statement throws this error.
   */
  get damaged(): DamagedDatabaseError | null {
    return this.#watch.damaged;
  }

  /** The database file (absolute), or `:memory:`. */
  get file(): string {
    return this.db.name;
  }

  /**
   * Runs `fn` in one transaction (nested calls become savepoints), e.g. storing a
   * model, its tensors and the run's link to it all-or-nothing. `fn` must be
   * synchronous: better-sqlite3 commits when it returns.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Opens (creating and migrating as needed) the database at `file`, default `defaultDbPath()`. */
export function openStore(file: string = defaultDbPath(), options: OpenOptions = {}): Store {
  return new Store(openDatabase(file, options));
}

export { defaultDbPath };
