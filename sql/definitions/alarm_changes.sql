-- Audit triggers of the alarm-change tables (migration 0016) and the ledger guard of A16.

CREATE OR REPLACE TRIGGER note_audit
    AFTER INSERT OR UPDATE OR DELETE ON alarm.note
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER note_touch
    BEFORE UPDATE ON alarm.note
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER exclusion_audit
    AFTER INSERT OR UPDATE OR DELETE ON alarm.exclusion
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER exclusion_touch
    BEFORE UPDATE ON alarm.exclusion
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

-- A16: the alarm settings of the ledger change only through an approved ledger change
-- (analytics.alarms.ledger applies it with hazwatch.approval set in its transaction). New
-- points may still be loaded directly (the initial ledger, the demo plant); descriptive
-- columns (cause, consequence, response) are free to edit.
CREATE OR REPLACE FUNCTION registry.alarm_point_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('hazwatch.approval', true), '') <> '' THEN
        RETURN coalesce(NEW, OLD);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'alarm point % (tag %, %) may only be removed through an approved '
            'ledger change', OLD.id, OLD.tag_id, OLD.condition
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (OLD.tag_id, OLD.condition, OLD.limit_value, OLD.priority, OLD.category, OLD.deadband,
        OLD.on_delay_s, OLD.off_delay_s, OLD.enabled, OLD.is_interlock)
       IS DISTINCT FROM
       (NEW.tag_id, NEW.condition, NEW.limit_value, NEW.priority, NEW.category, NEW.deadband,
        NEW.on_delay_s, NEW.off_delay_s, NEW.enabled, NEW.is_interlock) THEN
        RAISE EXCEPTION 'alarm point % (tag %, %): its settings change only through an '
            'approved ledger change', OLD.id, OLD.tag_id, OLD.condition
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER alarm_point_guard
    BEFORE UPDATE OR DELETE ON registry.alarm_point
    FOR EACH ROW EXECUTE FUNCTION registry.alarm_point_guard();
