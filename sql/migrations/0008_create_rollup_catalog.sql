-- Rollup and retention machinery (issue 3). Internal schema: nothing here is a public name.
-- On the Apache edition hazwatch maintains rollups itself; the state below is what
-- `hazwatch rollups status` shows. Materialisations and generated functions also live here.
CREATE SCHEMA IF NOT EXISTS _hazwatch;

CREATE TABLE _hazwatch.rollup (
    name             text PRIMARY KEY,           -- public view name, e.g. ts.sample_1m
    source           text NOT NULL,              -- hypertable or lower rollup it reads
    bucket_width     interval NOT NULL,
    implementation   text NOT NULL CHECK (implementation IN ('incremental', 'continuous')),
    definition_hash  text NOT NULL,              -- a changed declaration rebuilds the rollup
    watermark        timestamptz,                -- NULL: nothing materialised yet
    last_run_at      timestamptz,
    last_duration_ms integer,
    last_rows        bigint,
    last_error       text,
    last_error_at    timestamptz,
    runs             bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Late or corrected rows of a raw source, as the invalidation triggers saw them.
CREATE TABLE _hazwatch.invalidation_log (
    source text NOT NULL,
    lo     timestamptz NOT NULL,
    hi     timestamptz NOT NULL
);
CREATE INDEX invalidation_log_source_idx ON _hazwatch.invalidation_log (source);

-- The same, fanned out to each rollup that must recompute the range.
CREATE TABLE _hazwatch.rollup_invalidation (
    rollup text NOT NULL REFERENCES _hazwatch.rollup (name) ON DELETE CASCADE,
    lo     timestamptz NOT NULL,
    hi     timestamptz NOT NULL
);
CREATE INDEX rollup_invalidation_rollup_idx ON _hazwatch.rollup_invalidation (rollup);

-- Oldest time still held by a relation after retention: rollups never recompute below it.
CREATE TABLE _hazwatch.retention_state (
    relation    text PRIMARY KEY,
    horizon     timestamptz NOT NULL,
    last_run_at timestamptz NOT NULL,
    dropped     integer NOT NULL DEFAULT 0
);
