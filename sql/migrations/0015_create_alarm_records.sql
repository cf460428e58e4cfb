-- A3: one row per alarm occurrence, built from alarm.event by analytics.alarms.build.
--
-- An occurrence starts with an annunciated activation (an ALM event) of one tag and condition
-- and runs through the ISA-18.2 / IEC 62682 state model: acknowledged, returned to normal and
-- cleared (back in the normal state: both acknowledged and returned). Re-alarms of an
-- occurrence that is still active are counted on it, not as new occurrences. Activations
-- while the alarm was shelved, suppressed or out of service are kept (the audit of A17 needs
-- them) but flagged as not annunciated; statistics and KPIs count annunciated, not excluded
-- records only (A18 sets ``excluded``).
--
-- The key (tag_id, condition, raised) lets the builder re-derive a record from its events
-- as often as it likes (late imports, acks arriving later) without losing what others
-- wrote on it (``excluded``; cause and action live in their own table keyed by ``id``).
--
-- Chunks of 30 days: a year for 200 units is about 10 M records, ~0.8 M a chunk.

CREATE TABLE alarm.record (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    raised         timestamptz NOT NULL,
    tag_id         integer NOT NULL,
    condition      text NOT NULL,
    point_id       integer,
    enterprise_id  integer,
    unit_id        integer,
    equipment_id   integer,
    shift_team_id  integer,
    priority       text CHECK (priority IN ('emergency', 'high', 'low', 'journal')),
    alarm_type     text CHECK (alarm_type IN ('process', 'equipment', 'instrument', 'safety')),
    limit_value    double precision,
    value          double precision,
    message        text,
    acked          timestamptz,
    acked_by       text,
    returned       timestamptz,
    cleared        timestamptz,
    realarms       integer NOT NULL DEFAULT 0 CHECK (realarms >= 0),
    shelved        boolean NOT NULL DEFAULT false,
    suppressed     boolean NOT NULL DEFAULT false,
    out_of_service boolean NOT NULL DEFAULT false,
    annunciated    boolean NOT NULL DEFAULT true,
    excluded       boolean NOT NULL DEFAULT false,
    built_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (acked IS NULL OR acked >= raised),
    CHECK (returned IS NULL OR returned >= raised),
    CHECK (cleared IS NULL OR cleared >= raised)
);
SELECT create_hypertable('alarm.record', by_range('raised', INTERVAL '30 days'));
-- Time before condition: the same key also serves "this tag's records in a time range".
CREATE UNIQUE INDEX record_occurrence_key ON alarm.record (tag_id, raised, condition);
CREATE INDEX record_id_idx ON alarm.record (id);
CREATE INDEX record_unit_idx ON alarm.record (unit_id, raised);
-- Standing alarms are read at the live edge: only the few still active.
CREATE INDEX record_active_idx ON alarm.record (raised) WHERE returned IS NULL;

-- The builder's progress: every event before ``watermark`` has been turned into records.
CREATE TABLE alarm.record_build (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark        timestamptz,
    last_run_at      timestamptz,
    last_duration_ms integer,
    last_tags        integer,
    last_records     integer,
    last_error       text,
    runs             bigint NOT NULL DEFAULT 0
);
INSERT INTO alarm.record_build (singleton) VALUES (true);

-- Events written below the watermark (a late import, a replayed spool): the tags and times
-- whose records the next build re-derives.
CREATE TABLE alarm.record_dirty (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag_id integer NOT NULL,
    time   timestamptz NOT NULL
);

-- The watermark as a constant function the planner inlines: events at the live edge pay one
-- comparison in the trigger's WHEN clause; the builder replaces it as it moves on.
CREATE FUNCTION alarm.record_threshold() RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT timestamptz '-infinity' $$;

CREATE FUNCTION alarm.log_late_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO alarm.record_dirty (tag_id, time) VALUES (OLD.tag_id, OLD.time);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO alarm.record_dirty (tag_id, time) VALUES (NEW.tag_id, NEW.time);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER event_late_insert AFTER INSERT ON alarm.event FOR EACH ROW
    WHEN (NEW.time < alarm.record_threshold()) EXECUTE FUNCTION alarm.log_late_event();
CREATE TRIGGER event_late_update AFTER UPDATE ON alarm.event FOR EACH ROW
    WHEN (OLD.time < alarm.record_threshold() OR NEW.time < alarm.record_threshold())
    EXECUTE FUNCTION alarm.log_late_event();
CREATE TRIGGER event_late_delete AFTER DELETE ON alarm.event FOR EACH ROW
    WHEN (OLD.time < alarm.record_threshold()) EXECUTE FUNCTION alarm.log_late_event();
