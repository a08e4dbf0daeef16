-- LoRA Lab schema 1. Forward-only: never edit a released migration, add 0002_… instead.
-- Applied by src-main/store/migrate.ts inside one transaction together with
-- PRAGMA user_version, so no BEGIN/COMMIT here.
--
-- runs, models and adapters reference each other (a base run produces a model, a LoRA
-- run produces an adapter, a merged model comes from a run). SQLite resolves foreign
-- keys when rows are written, not when tables are created, so the forward references
-- below are fine. Times are milliseconds since the Unix epoch; JSON columns hold JSON
-- text checked with json_valid().

CREATE TABLE models (
  id              INTEGER PRIMARY KEY,
  name            TEXT    NOT NULL,
  kind            TEXT    NOT NULL CHECK (kind IN ('base', 'merged', 'imported')),
  sizes           TEXT    NOT NULL CHECK (json_valid(sizes) AND json_type(sizes) = 'array'),
  -- A merged model keeps its base alive: deleting the parent must be refused.
  parent_model_id INTEGER REFERENCES models (id) ON DELETE RESTRICT,
  -- Lineage survives the run's deletion through origin, so only the link is dropped.
  source_run_id   INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  origin          TEXT    CHECK (origin IS NULL OR json_valid(origin)),
  created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('base', 'lora')),
  status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
  config        TEXT    NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
  -- The model a run starts from (LoRA runs): it cannot vanish under the run.
  base_model_id INTEGER REFERENCES models (id) ON DELETE RESTRICT,
  -- What the run produced: a base run's model, a LoRA run's adapter.
  model_id      INTEGER REFERENCES models (id) ON DELETE SET NULL,
  adapter_id    INTEGER REFERENCES adapters (id) ON DELETE SET NULL,
  backend       TEXT,
  device        TEXT,
  -- The process (host/pid) that queued or runs it: the app and a CLI can share one
  -- file, and start-up recovery must interrupt only runs whose process is gone.
  owner         TEXT,
  created_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER,
  error         TEXT,
  tags          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
  notes         TEXT    NOT NULL DEFAULT '',
  summary       TEXT    CHECK (summary IS NULL OR json_valid(summary)),
  progress      TEXT    CHECK (progress IS NULL OR json_valid(progress))
) STRICT;

CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_status ON runs (status);
-- Foreign-key children need an index each, or every parent delete scans the table.
CREATE INDEX runs_base_model ON runs (base_model_id) WHERE base_model_id IS NOT NULL;
CREATE INDEX runs_model ON runs (model_id) WHERE model_id IS NOT NULL;
CREATE INDEX runs_adapter ON runs (adapter_id) WHERE adapter_id IS NOT NULL;
CREATE INDEX models_parent ON models (parent_model_id) WHERE parent_model_id IS NOT NULL;
CREATE INDEX models_source_run ON models (source_run_id) WHERE source_run_id IS NOT NULL;

CREATE TABLE adapters (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  -- NULL for an imported adapter; a run's adapter goes when the run goes.
  run_id        INTEGER REFERENCES runs (id) ON DELETE CASCADE,
  base_model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE RESTRICT,
  r             INTEGER NOT NULL CHECK (r >= 1),
  alpha         REAL    NOT NULL,
  scaling       REAL    NOT NULL,
  scaling_rule  TEXT    NOT NULL CHECK (scaling_rule IN ('standard', 'rslora')),
  targets       TEXT    NOT NULL CHECK (json_valid(targets) AND json_type(targets) = 'array'),
  init          TEXT    NOT NULL CHECK (init IN ('kaiming', 'gaussian')),
  origin        TEXT    CHECK (origin IS NULL OR json_valid(origin)),
  created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX adapters_run ON adapters (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX adapters_base_model ON adapters (base_model_id);

CREATE TABLE tensors (
  id         INTEGER PRIMARY KEY,
  model_id   INTEGER REFERENCES models (id) ON DELETE CASCADE,
  adapter_id INTEGER REFERENCES adapters (id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  dtype      TEXT    NOT NULL CHECK (dtype IN ('float32')),
  shape      TEXT    NOT NULL CHECK (json_valid(shape) AND json_type(shape) = 'array'),
  -- Little-endian float32, PyTorch orientation; checksum = sha-256 hex of data.
  data       BLOB    NOT NULL,
  checksum   TEXT    NOT NULL CHECK (length(checksum) = 64),
  CHECK ((model_id IS NULL) <> (adapter_id IS NULL)),
  UNIQUE (model_id, name),
  UNIQUE (adapter_id, name)
) STRICT;

-- One row per point; the primary key is the read path (per run, per run and key, by
-- step), and WITHOUT ROWID keeps the points clustered in that order with no second
-- b-tree to update on ingest. value is NULL for NaN (SQLite has no NaN).
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key    TEXT    NOT NULL,
  step   INTEGER NOT NULL,
  value  REAL,
  time   INTEGER NOT NULL,
  PRIMARY KEY (run_id, key, step)
) STRICT, WITHOUT ROWID;

CREATE TABLE evaluations (
  run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  phase           TEXT    NOT NULL CHECK (phase IN ('before', 'after')),
  step            INTEGER NOT NULL,
  accuracy        REAL    NOT NULL,
  loss            REAL,
  total           INTEGER NOT NULL,
  correct         INTEGER NOT NULL,
  wrong_per_class TEXT    NOT NULL CHECK (json_valid(wrong_per_class)),
  count_per_class TEXT    NOT NULL CHECK (json_valid(count_per_class)),
  confusion       TEXT    NOT NULL CHECK (json_valid(confusion)),
  predictions     BLOB    NOT NULL,
  PRIMARY KEY (run_id, phase)
) STRICT;
