-- Enqueue what goes upward in the transaction that wrote it, so a crash between "written"
-- and "queued" cannot lose an alarm (R7). Re-runnable.

CREATE OR REPLACE FUNCTION exchange.enqueue_alarm_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM exchange.feed WHERE kind = 'alarm_event' AND enabled) THEN
        RETURN NULL;
    END IF;
    SELECT tg.name AS tag, tg.description, tg.eng_unit, e.code AS enterprise_code,
           e.name AS enterprise_name, u.code AS unit_code
      INTO t
      FROM registry.tag tg
      JOIN registry.enterprise e ON e.id = tg.enterprise_id
      LEFT JOIN registry.unit u ON u.id = tg.unit_id
     WHERE tg.id = NEW.tag_id;
    INSERT INTO exchange.outbox (kind, key, data)
    VALUES (
        'alarm_event',
        concat_ws('|', coalesce(t.enterprise_code, t.enterprise_name), t.tag,
                  to_char(NEW.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                  NEW.kind, NEW.condition),
        jsonb_build_object(
            'enterprise_code', t.enterprise_code, 'enterprise_name', t.enterprise_name,
            'unit_code', t.unit_code, 'tag', t.tag, 'description', t.description,
            'eng_unit', t.eng_unit, 'event', to_jsonb(NEW) - 'tag_id' - 'point_id'))
    ON CONFLICT (kind, key) DO NOTHING;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER alarm_event_upward
    AFTER INSERT ON alarm.event
    FOR EACH ROW EXECUTE FUNCTION exchange.enqueue_alarm_event();

CREATE OR REPLACE TRIGGER peer_key_audit
    AFTER INSERT OR UPDATE OR DELETE ON exchange.peer_key
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER peer_key_touch
    BEFORE UPDATE ON exchange.peer_key
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
