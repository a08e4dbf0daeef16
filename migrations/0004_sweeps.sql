-- LoRA Lab schema 4: sweeps (many runs from one starting point and axes over config
-- paths) and their persistent queue. Forward-only (see 0001_initial.sql); applied
-- inside migrate.ts's transaction.
--
-- The queue is a table, not memory: a sweep_runs row per (point, seed) says where that
-- run is, so closing or killing the process that drives a sweep loses nothing and the
-- next process goes on from the rows (src-main/lab/sweep-service.ts).

CREATE TABLE sweeps (
  -- AUTOINCREMENT: runs and the CLI name a sweep by id; a deleted sweep's id is never reused.
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT    NOT NULL,
  -- The SweepSpec as given (contract/sweep.ts), kept whole so a sweep can be shown and re-made.
  spec          TEXT    NOT NULL CHECK (json_valid(spec) AND json_type(spec) = 'object'),
  -- The resolved starting config with the spec's overrides applied: every point's config
  -- is this plus the point's axis values and its seed.
  config        TEXT    NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
  -- The model its fine-tunes start from. SET NULL, not RESTRICT: once a run exists, the
  -- runs' own RESTRICT keeps the model; before that a deleted base makes the sweep fail
  -- with a clear error (the spec still names the id) instead of a raw constraint error
  -- on the model's delete.
  base_model_id INTEGER REFERENCES models (id) ON DELETE SET NULL,
  status        TEXT    NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'cancelled', 'failed')),
  -- The process (host/pid) driving it while running: a sweep whose owner died is paused
  -- at the next open, and resume refuses one a live process drives.
  owner         TEXT,
  created_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  error         TEXT
) STRICT;

CREATE INDEX sweeps_base_model ON sweeps (base_model_id) WHERE base_model_id IS NOT NULL;
CREATE INDEX sweeps_status ON sweeps (status);

CREATE TABLE sweep_runs (
  sweep_id   INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  point      INTEGER NOT NULL CHECK (point >= 0),
  seed_index INTEGER NOT NULL CHECK (seed_index >= 0),
  -- The point's axis values by config path (JSON object), and the seed of this run.
  params     TEXT    NOT NULL CHECK (json_valid(params) AND json_type(params) = 'object'),
  seed       INTEGER NOT NULL,
  -- The run that trains it, once created. A deleted run leaves the row (its state says
  -- what happened) and a point is never given a second run (SweepsRepo.attachRun).
  run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'pruned')),
  -- Times its run was started (a run trained in a process that died starts again: 2 …).
  attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- The order runs are started in (point-major, seeds inner).
  position   INTEGER NOT NULL CHECK (position >= 0),
  -- ASHA: the metric's value at each rung this run reached ({"step": value}), kept here
  -- so a resumed sweep prunes against the same history.
  rungs      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(rungs) AND json_type(rungs) = 'object'),
  PRIMARY KEY (sweep_id, point, seed_index)
) STRICT;

-- The next pending row in order, and the FK child index for runs' deletes (one run, one row).
CREATE INDEX sweep_runs_queue ON sweep_runs (sweep_id, state, position);
CREATE UNIQUE INDEX sweep_runs_run ON sweep_runs (run_id) WHERE run_id IS NOT NULL;

-- A run knows its sweep and place there; deleting the sweep unlinks its runs, which stay.
ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN sweep_point INTEGER;
ALTER TABLE runs ADD COLUMN sweep_seed_index INTEGER;
-- Which attempt the run's stored results are: 1, or more after its process died mid-run.
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
CREATE INDEX runs_sweep ON runs (sweep_id) WHERE sweep_id IS NOT NULL;
