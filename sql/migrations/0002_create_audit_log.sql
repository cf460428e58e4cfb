-- The audit log: every change to a register or approval lands here (non-negotiable 6).
-- Plain table, not a hypertable: low volume, needs a stable identity key, kept for good.
CREATE TABLE audit.log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id    integer,
    actor       text NOT NULL,
    action      text NOT NULL CHECK (action ~ '^[a-z][a-z_]*$'),
    entity      text NOT NULL,
    entity_id   text,
    before      jsonb,
    after       jsonb,
    reason      text
);
CREATE INDEX log_entity_idx ON audit.log (entity, entity_id, at DESC);
CREATE INDEX log_at_idx ON audit.log (at DESC);
CREATE INDEX log_actor_idx ON audit.log (actor_id, at DESC);
COMMENT ON TABLE audit.log IS
    'Append-only: UPDATE and DELETE are refused by trigger (definitions/audit.sql).';
