-- LoRA Lab schema 6: full fine-tuning as a run kind (issue 16). A `full` run trains
-- every weight of a stored base on the slice, with the same data, steps and optimizer
-- as a LoRA run, and stores the result as a model of kind `finetuned` whose parent is
-- that base (its update is W − W0). Forward-only (see 0001_initial.sql); applied inside
-- migrate.ts's transaction.
--
-- SQLite cannot widen a CHECK in place, so both tables are rebuilt by SQLite's own
-- procedure (as 0005 did for adapters): migrate.ts turns foreign keys off around the
-- transaction and checks every reference before committing. Ids, every column added
-- since 0001 (0003: dataset_id, exit_reason; 0004: sweep_id, sweep_point,
-- sweep_seed_index, attempt) and every index are kept.

CREATE TABLE models_v6 (
  id              INTEGER PRIMARY KEY,
  name            TEXT    NOT NULL,
  kind            TEXT    NOT NULL CHECK (kind IN ('base', 'merged', 'imported', 'finetuned')),
  sizes           TEXT    NOT NULL CHECK (json_valid(sizes) AND json_type(sizes) = 'array'),
  -- A merged or fine-tuned model keeps its base alive: deleting the parent must be refused.
  parent_model_id INTEGER REFERENCES models (id) ON DELETE RESTRICT,
  -- Lineage survives the run's deletion through origin, so only the link is dropped.
  source_run_id   INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  origin          TEXT    CHECK (origin IS NULL OR json_valid(origin)),
  created_at      INTEGER NOT NULL,
  dataset_id      INTEGER REFERENCES datasets (id) ON DELETE RESTRICT
) STRICT;

INSERT INTO models_v6 (id, name, kind, sizes, parent_model_id, source_run_id, origin, created_at, dataset_id)
  SELECT id, name, kind, sizes, parent_model_id, source_run_id, origin, created_at, dataset_id FROM models;

DROP TABLE models;
ALTER TABLE models_v6 RENAME TO models;

CREATE INDEX models_parent ON models (parent_model_id) WHERE parent_model_id IS NOT NULL;
CREATE INDEX models_source_run ON models (source_run_id) WHERE source_run_id IS NOT NULL;
CREATE INDEX models_dataset ON models (dataset_id) WHERE dataset_id IS NOT NULL;

CREATE TABLE runs_v6 (
  id               INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL,
  kind             TEXT    NOT NULL CHECK (kind IN ('base', 'lora', 'full')),
  status           TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
  config           TEXT    NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
  -- The model a run starts from (LoRA and full fine-tunes): it cannot vanish under the run.
  base_model_id    INTEGER REFERENCES models (id) ON DELETE RESTRICT,
  -- What the run produced: a base or full run's model, a LoRA run's adapter.
  model_id         INTEGER REFERENCES models (id) ON DELETE SET NULL,
  adapter_id       INTEGER REFERENCES adapters (id) ON DELETE SET NULL,
  backend          TEXT,
  device           TEXT,
  -- The process (host/pid) that queued or runs it: the app and a CLI can share one
  -- file, and start-up recovery must interrupt only runs whose process is gone.
  owner            TEXT,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  error            TEXT,
  tags             TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
  notes            TEXT    NOT NULL DEFAULT '',
  summary          TEXT    CHECK (summary IS NULL OR json_valid(summary)),
  progress         TEXT    CHECK (progress IS NULL OR json_valid(progress)),
  dataset_id       INTEGER REFERENCES datasets (id) ON DELETE RESTRICT,
  exit_reason      TEXT    CHECK (exit_reason IS NULL OR exit_reason IN ('clean-exit', 'abnormal-exit', 'killed', 'crashed', 'oom', 'launch-failed', 'integrity-failure', 'memory-eviction')),
  sweep_id         INTEGER REFERENCES sweeps (id) ON DELETE SET NULL,
  sweep_point      INTEGER,
  sweep_seed_index INTEGER,
  attempt          INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1)
) STRICT;

INSERT INTO runs_v6 (id, name, kind, status, config, base_model_id, model_id, adapter_id, backend, device, owner, created_at, started_at, finished_at,
                     error, tags, notes, summary, progress, dataset_id, exit_reason, sweep_id, sweep_point, sweep_seed_index, attempt)
  SELECT id, name, kind, status, config, base_model_id, model_id, adapter_id, backend, device, owner, created_at, started_at, finished_at,
         error, tags, notes, summary, progress, dataset_id, exit_reason, sweep_id, sweep_point, sweep_seed_index, attempt FROM runs;

DROP TABLE runs;
ALTER TABLE runs_v6 RENAME TO runs;

CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_base_model ON runs (base_model_id) WHERE base_model_id IS NOT NULL;
CREATE INDEX runs_model ON runs (model_id) WHERE model_id IS NOT NULL;
CREATE INDEX runs_adapter ON runs (adapter_id) WHERE adapter_id IS NOT NULL;
CREATE INDEX runs_dataset ON runs (dataset_id) WHERE dataset_id IS NOT NULL;
CREATE INDEX runs_sweep ON runs (sweep_id) WHERE sweep_id IS NOT NULL;
