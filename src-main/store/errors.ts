/**
 * The store's errors. Each names what it is about (a path, a run, a tensor) so the CLI
 * and the UI can show `err.message` as is; callers tell them apart with `instanceof`.
 */

export class StoreError extends Error {
  override name = 'StoreError';
}

/** The database file was written by a newer LoRA Lab; it is refused, never guessed at. */
export class SchemaTooNewError extends StoreError {
  override name = 'SchemaTooNewError';
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${file} was written by a newer LoRA Lab (schema ${found}, this version knows ${known}); it was left untouched`,
    );
  }
}

/** The migrations folder itself is wrong (gap, duplicate, bad name): a packaging bug. */
export class MigrationError extends StoreError {
  override name = 'MigrationError';
}

export class NotADatabaseError extends StoreError {
  override name = 'NotADatabaseError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file} is not a LoRA Lab database (${detail}); it was left untouched`);
  }
}

/**
 * The file is an SQLite database of ours, but part of it cannot be read (SQLite's
 * quick check failed at open, or a statement raised SQLITE_CORRUPT later). Nothing more
 * is written to it; the way out is a fresh database with this file kept aside.
 */
export class DamagedDatabaseError extends StoreError {
  override name = 'DamagedDatabaseError';
  constructor(
    readonly file: string,
    detail: string,
    /** Found at open (nothing was written) or while in use (writing stopped). */
    readonly when: 'open' | 'use' = 'open',
  ) {
    super(`${file} is damaged (${detail}), so LoRA Lab ${when === 'open' ? 'left it untouched' : 'stopped writing to it'}`);
  }
}

/** A file LoRA Lab may set aside to start afresh: not ours at all, or ours but damaged. */
export function isUnusableDatabase(err: unknown): err is NotADatabaseError | DamagedDatabaseError {
  return err instanceof NotADatabaseError || err instanceof DamagedDatabaseError;
}

export class NotFoundError extends StoreError {
  override name = 'NotFoundError';
  constructor(
    readonly what: 'run' | 'model' | 'adapter' | 'data set',
    readonly id: number,
  ) {
    super(`no ${what} with id ${id}`);
  }
}

/** A run status change that the run lifecycle does not allow (e.g. completed → running). */
export class TransitionError extends StoreError {
  override name = 'TransitionError';
}

export interface Ref {
  id: number;
  name: string;
}

export interface Dependents {
  runs: Ref[];
  adapters: Ref[];
  models: Ref[];
}

export function hasDependents(d: Dependents): boolean {
  return d.runs.length + d.adapters.length + d.models.length > 0;
}

export function describeDependents(d: Dependents): string {
  const part = (label: string, refs: Ref[]) => refs.map((r) => `${label} ${r.id} "${r.name}"`);
  return [...part('run', d.runs), ...part('adapter', d.adapters), ...part('model', d.models)].join(', ');
}

/** Deleting a model (or a data set) that runs, adapters or other models still need. */
export class DependencyError extends StoreError {
  override name = 'DependencyError';
  constructor(
    readonly model: Ref,
    readonly dependents: Dependents,
    readonly what: 'model' | 'data set' = 'model',
  ) {
    super(`${what} ${model.id} "${model.name}" is used by ${describeDependents(dependents)}; delete those first`);
  }
}

/** A stored tensor whose bytes no longer match their checksum (disk or manual damage). */
export class ChecksumError extends StoreError {
  override name = 'ChecksumError';
  constructor(
    readonly tensor: string,
    readonly owner: string,
  ) {
    super(`tensor ${tensor} of ${owner} is corrupted: its data does not match the stored sha-256 checksum`);
  }
}
