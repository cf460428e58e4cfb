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

-- -- The `alert` feed (P13, R5, R8): gas-detector, pump and process-rule alerts ---------------

-- What kind of alarm an alert is, from where it came from (workflow.alert.category). A rule
-- alert is a gas alarm when its tag belongs to a gas detector: a hazard point of a gas role,
-- a registry.sensor of kind gas_* whose code names the tag (`<sensor code>.<gas>`, the MQTT
-- map's convention, or the code itself), or a rule labelled with its gas.
CREATE OR REPLACE FUNCTION exchange.alert_category(p_source text, p_rule_id integer,
                                                   p_labels jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t record;
BEGIN
    CASE p_source
    WHEN 'rule' THEN
        SELECT tg.id, tg.name, tg.enterprise_id INTO t
          FROM workflow.alert_rule r JOIN registry.tag tg ON tg.id = r.tag_id
         WHERE r.id = p_rule_id;
        IF coalesce(p_labels, '{}') ? 'gas'
           OR (t.id IS NOT NULL AND (
               EXISTS (SELECT 1 FROM registry.hazard_point hp WHERE hp.tag_id = t.id
                          AND hp.role IN ('gas_combustible', 'gas_toxic'))
               OR EXISTS (SELECT 1 FROM registry.sensor s WHERE s.enterprise_id = t.enterprise_id
                             AND s.kind IN ('gas_combustible', 'gas_toxic')
                             AND (t.name = s.code
                                  OR left(t.name, length(s.code) + 1) = s.code || '.'))))
        THEN
            RETURN 'gas';
        END IF;
        RETURN 'process';
    WHEN 'pump', 'pump_health', 'video', 'process_alarm' THEN
        RETURN p_source;
    WHEN 'contractor_positioning' THEN
        RETURN 'positioning';
    ELSE
        RETURN 'other';
    END CASE;
END $$;

CREATE OR REPLACE FUNCTION exchange.set_alert_category() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.category := exchange.alert_category(NEW.source, NEW.rule_id, NEW.labels);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER alert_category
    BEFORE INSERT ON workflow.alert
    FOR EACH ROW WHEN (NEW.category IS NULL) EXECUTE FUNCTION exchange.set_alert_category();

-- Alerts opened before the category existed (migration 0024); a no-op afterwards.
UPDATE workflow.alert SET category = exchange.alert_category(source, rule_id, labels)
 WHERE category IS NULL;

-- A snapshot of the alert after each change (transition, level, ack, close) goes on the
-- `alert` feed. Deferred to the commit: the alerting engine writes the history row before it
-- updates the alert (fired_at, state), and the snapshot must show the committed result. One
-- snapshot per alert and transaction (hazwatch.alert_feed_done lists those queued), numbered
-- from exchange.alert_seq at commit: the alert row is locked by the change until then, so a
-- later change of the same alert always gets a larger number and the receiver keeps the
-- newest. Not sent: alerts that never fired (a pending that cleared is no alarm), received
-- alerts (the receiver forwards those unchanged), video (own reviewed feed, V20/R7), process
-- alarm escalations (alarm.event goes up as alarm_event), contractor positioning (personal
-- data stays in the enterprise), alerts of no enterprise.
CREATE OR REPLACE FUNCTION exchange.enqueue_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    a       workflow.alert;
    e       record;
    done    text := coalesce(current_setting('hazwatch.alert_feed_done', true), '');
    tag     text;
    unit    text;
    origin  text;
    seq     bigint;
    sent    jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM exchange.feed WHERE kind = 'alert' AND enabled) THEN
        RETURN NULL;
    END IF;
    IF position(',' || NEW.alert_id || ',' IN done) > 0 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM workflow.alert WHERE id = NEW.alert_id;
    IF NOT FOUND OR a.origin_key IS NOT NULL OR a.fired_at IS NULL
       OR coalesce(a.category, '') NOT IN ('gas', 'process', 'pump', 'pump_health') THEN
        RETURN NULL;
    END IF;
    IF a.rule_id IS NOT NULL THEN
        SELECT tg.name, u.code INTO tag, unit
          FROM workflow.alert_rule r JOIN registry.tag tg ON tg.id = r.tag_id
          LEFT JOIN registry.unit u ON u.id = tg.unit_id
         WHERE r.id = a.rule_id;
    END IF;
    SELECT en.code, en.name INTO e FROM registry.enterprise en
     WHERE en.id = coalesce(a.enterprise_id, (SELECT tg.enterprise_id FROM workflow.alert_rule r
                                               JOIN registry.tag tg ON tg.id = r.tag_id
                                              WHERE r.id = a.rule_id));
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    unit := coalesce(unit, a.labels ->> 'unit',
                     (SELECT u.code FROM registry.equipment q JOIN registry.unit u
                          ON u.id = q.unit_id WHERE q.id::text = a.labels ->> 'equipment_id'));
    -- Local ids (equipment_id, enterprise_id …) mean nothing at another level.
    SELECT coalesce(jsonb_object_agg(k, v), '{}') INTO sent
      FROM jsonb_each(a.labels) AS l (k, v) WHERE k !~ '_id$';
    origin := concat_ws('|', coalesce(e.code, e.name), a.source, a.key,
                        to_char(a.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
    seq := nextval('exchange.alert_seq');
    INSERT INTO exchange.outbox (kind, key, data)
    VALUES (
        'alert', origin || '|' || seq,
        jsonb_build_object(
            'key', origin || '|' || seq, 'origin_key', origin, 'seq', seq,
            'enterprise_code', e.code, 'enterprise_name', e.name, 'unit_code', unit,
            'tag', tag, 'category', a.category, 'source', a.source, 'priority', a.priority,
            'level', a.level, 'state', a.state,
            'value', CASE WHEN a.value IN ('NaN', 'Infinity', '-Infinity') THEN NULL
                          ELSE a.value END,
            'summary', a.summary, 'labels', sent, 'started_at', a.started_at,
            'fired_at', a.fired_at, 'resolved_at', a.resolved_at, 'acked_at', a.acked_at,
            'closed_at', a.closed_at, 'change', NEW.action, 'changed_at', NEW.at))
    ON CONFLICT (kind, key) DO NOTHING;
    PERFORM set_config('hazwatch.alert_feed_done',
                       coalesce(nullif(done, ''), ',') || NEW.alert_id || ',', true);
    RETURN NULL;
END $$;

-- A constraint trigger, to be deferrable; re-created (OR REPLACE does not cover those).
DROP TRIGGER IF EXISTS alert_upward ON workflow.alert_history;
CREATE CONSTRAINT TRIGGER alert_upward
    AFTER INSERT ON workflow.alert_history
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.action IN ('transition', 'level', 'ack', 'close'))
    EXECUTE FUNCTION exchange.enqueue_alert();
