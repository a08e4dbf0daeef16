-- LoRA Lab schema 2: merge previews kept in the database, so the Merge page's previews
-- survive a reload and a restart, and a saved one remembers what it was saved as.
-- Forward-only (see 0001_initial.sql); applied inside migrate.ts's transaction.
--
-- A preview is a record of what was evaluated, not a dependent of its inputs: deleting
-- its base model or the model/adapter it was saved as must not be refused because of
-- it, and must not erase it either. So the links are ON DELETE SET NULL and the names at
-- the time are kept beside them; the page then says "its base was deleted". The adapters
-- of the request live in request JSON (no foreign key possible): their absence is
-- detected when the previews are listed.

CREATE TABLE merge_previews (
  id               INTEGER PRIMARY KEY,
  base_model_id    INTEGER REFERENCES models (id) ON DELETE SET NULL,
  -- The MergeRequest as previewed (adapters with weights, method and parameters, testLimit).
  request          TEXT    NOT NULL CHECK (json_valid(request) AND json_type(request) = 'object'),
  -- { base, adapters: [...], combined }: EvalSummary objects without predictions.
  result           TEXT    NOT NULL CHECK (json_valid(result) AND json_type(result) = 'object'),
  base_name        TEXT    NOT NULL,
  -- The adapters' names at the time, in request order.
  adapter_names    TEXT    NOT NULL CHECK (json_valid(adapter_names) AND json_type(adapter_names) = 'array'),
  -- What it was saved as, once saved (the name stays when the saved thing is deleted).
  saved_kind       TEXT    CHECK (saved_kind IN ('model', 'adapter')),
  saved_name       TEXT,
  saved_model_id   INTEGER REFERENCES models (id) ON DELETE SET NULL,
  saved_adapter_id INTEGER REFERENCES adapters (id) ON DELETE SET NULL,
  saved_at         INTEGER,
  created_at       INTEGER NOT NULL,
  CHECK ((saved_kind IS NULL) = (saved_name IS NULL) AND (saved_kind IS NULL) = (saved_at IS NULL)),
  CHECK (saved_model_id IS NULL OR saved_kind = 'model'),
  CHECK (saved_adapter_id IS NULL OR saved_kind = 'adapter')
) STRICT;

CREATE INDEX merge_previews_created ON merge_previews (created_at DESC, id DESC);
-- Foreign-key children need an index each, or every parent delete scans the table.
CREATE INDEX merge_previews_base_model ON merge_previews (base_model_id) WHERE base_model_id IS NOT NULL;
CREATE INDEX merge_previews_saved_model ON merge_previews (saved_model_id) WHERE saved_model_id IS NOT NULL;
CREATE INDEX merge_previews_saved_adapter ON merge_previews (saved_adapter_id) WHERE saved_adapter_id IS NOT NULL;
