-- Audit machinery. The actor comes from transaction-local settings that hazwatch.registers
-- sets (hazwatch.actor_id, hazwatch.actor, hazwatch.reason); a change made outside hazwatch
-- (psql, a migration) is still logged, with the database user as actor.

CREATE OR REPLACE FUNCTION audit.log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- Trigger arguments name columns never copied into the log (password hashes); a name
    -- prefixed with '~' is also left out, and a change to it alone is not logged at all
    -- (usage stamps such as last_used_at). TG_ARGV is NULL without arguments.
    args text[] := coalesce(TG_ARGV::text[], '{}');
    ignored text[] := ARRAY(SELECT substr(a, 2) FROM unnest(args) a WHERE a LIKE '~%');
    hidden text[] := ARRAY(SELECT a FROM unnest(args) a WHERE a NOT LIKE '~%') || ignored;
    old_row jsonb;
    new_row jsonb;
    key text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN old_row := to_jsonb(OLD) - hidden; END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN new_row := to_jsonb(NEW) - hidden; END IF;
    IF TG_OP = 'UPDATE' THEN
        IF to_jsonb(OLD) - 'updated_at' - ignored = to_jsonb(NEW) - 'updated_at' - ignored THEN
            RETURN NEW;  -- a no-op update (or one of ignored columns only) is not a change
        END IF;
        IF old_row - 'updated_at' = new_row - 'updated_at' THEN
            -- Only a hidden column changed (a password): say so without copying it.
            new_row := new_row || jsonb_build_object('_hidden_changed', hidden);
        END IF;
    END IF;
    key := coalesce(new_row ->> 'id', old_row ->> 'id');
    IF key IS NULL THEN
        -- Tables keyed by several columns (alarm_relation): the whole row identifies it.
        key := coalesce(new_row, old_row)::text;
    END IF;
    INSERT INTO audit.log (actor_id, actor, action, entity, entity_id, before, after, reason)
    VALUES (
        nullif(current_setting('hazwatch.actor_id', true), '')::integer,
        coalesce(nullif(current_setting('hazwatch.actor', true), ''), 'db:' || session_user),
        lower(TG_OP),
        TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
        key,
        old_row,
        new_row,
        nullif(current_setting('hazwatch.reason', true), '')
    );
    RETURN coalesce(NEW, OLD);
END;
$$;

CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE OR REPLACE TRIGGER log_append_only
    BEFORE UPDATE OR DELETE ON audit.log
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE OR REPLACE TRIGGER log_no_truncate
    BEFORE TRUNCATE ON audit.log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

CREATE OR REPLACE FUNCTION audit.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
