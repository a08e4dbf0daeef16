-- LoRA Lab schema 5: LoRA variants (docs/math.md, LoRA variants). An adapter records
-- its variant (`lora` or `dora`), how it was initialised (now also `pissa`, `olora`)
-- and whether it trained as LoRA-FA (A frozen). Forward-only (see 0001_initial.sql);
-- applied inside migrate.ts's transaction.
--
-- SQLite cannot widen a CHECK in place, so the table is rebuilt by SQLite's own
-- procedure: migrate.ts turns foreign keys off around the transaction (dropping the
-- old table then fires no ON DELETE action on runs, tensors or merge previews, whose
-- references follow the name) and checks every reference before committing. Ids are
-- kept, so those references stay valid.

CREATE TABLE adapters_v5 (
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
  init          TEXT    NOT NULL CHECK (init IN ('kaiming', 'gaussian', 'pissa', 'olora')),
  -- DoRA adapters hold a <layer>.lora_magnitude_vector tensor per target beside A and B.
  variant       TEXT    NOT NULL DEFAULT 'lora' CHECK (variant IN ('lora', 'dora')),
  freeze_a      INTEGER NOT NULL DEFAULT 0 CHECK (freeze_a IN (0, 1)),
  origin        TEXT    CHECK (origin IS NULL OR json_valid(origin)),
  created_at    INTEGER NOT NULL
) STRICT;

INSERT INTO adapters_v5 (id, name, run_id, base_model_id, r, alpha, scaling, scaling_rule, targets, init, origin, created_at)
  SELECT id, name, run_id, base_model_id, r, alpha, scaling, scaling_rule, targets, init, origin, created_at FROM adapters;

DROP TABLE adapters;
ALTER TABLE adapters_v5 RENAME TO adapters;

CREATE INDEX adapters_run ON adapters (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX adapters_base_model ON adapters (base_model_id);
