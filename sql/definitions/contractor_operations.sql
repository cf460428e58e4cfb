-- Contractor operations (migration 0021): audit and touch triggers, and the C13 rule that a
-- contractor person's records are kept at least one year after the exit.

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'geofence', 'positioning_tag', 'exit_record', 'work_permit', 'stop_order',
        'eval_template', 'eval_item', 'evaluation', 'eval_score', 'qualified']
    LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON'
                       ' contractor.%I FOR EACH ROW EXECUTE FUNCTION audit.log_change()',
                       t || '_audit', t);
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON contractor.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at()',
                       t || '_touch', t);
    END LOOP;
END;
$$;

-- The stamps of the positioning feed change with every position; only what people change
-- (binding, return, period) is worth a log entry.
CREATE OR REPLACE TRIGGER positioning_tag_audit
    AFTER INSERT OR UPDATE OR DELETE ON contractor.positioning_tag
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('~last_x', '~last_y', '~last_at');

-- C13: the first day a person's records may be deleted, or NULL when they may go now. The
-- records are the person, the employments and what shows the person's work on site (entries,
-- attendance, training, exams, exits); certificates and violations stay correctable (the
-- retention job deletes the certificates with the person and keeps the violations, without
-- the person). A person who never came on site (no approved
-- entry, no attendance) may be removed at once as a mistaken registration; otherwise records
-- stay while any employment is active and until 366 days (one year, whatever the calendar)
-- after the latest exit.
CREATE OR REPLACE FUNCTION contractor.kept_until(p_person integer) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM contractor.entry_application a
                         WHERE a.person_id = p_person AND a.status = 'approved')
             AND NOT EXISTS (SELECT 1 FROM contractor.attendance d WHERE d.person_id = p_person)
            THEN NULL
        WHEN EXISTS (SELECT 1 FROM contractor.employment e
                     WHERE e.person_id = p_person AND e.status = 'active')
            THEN 'infinity'::date
        ELSE (SELECT max(e.left_on) + 366 FROM contractor.employment e
              WHERE e.person_id = p_person)
    END
$$;

CREATE OR REPLACE FUNCTION contractor.refuse_early_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pid integer := (to_jsonb(OLD) ->> 'person_id')::integer;
    code text;
    until date;
BEGIN
    IF TG_TABLE_NAME = 'person' THEN
        pid := OLD.id;
    END IF;
    IF pid IS NULL THEN
        RETURN OLD;
    END IF;
    until := contractor.kept_until(pid);
    IF until IS NOT NULL AND until > current_date THEN
        SELECT person_code INTO code FROM contractor.person WHERE id = pid;
        IF until = 'infinity'::date THEN
            RAISE EXCEPTION 'C13: contractor personnel records are kept at least one year after exit; % is still employed (record the exit first), contractor.% not deleted',
                coalesce(code, pid::text), TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation',
                      DETAIL = format('C13: %s is still employed: contractor personnel records'
                                      ' are kept at least one year after exit', code);
        END IF;
        RAISE EXCEPTION 'C13: contractor personnel records are kept at least one year after exit; % may be deleted from %, contractor.% not deleted',
            coalesce(code, pid::text), until, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation',
                  DETAIL = format('C13: records of %s are kept at least one year after exit;'
                                  ' they may be deleted from %s', code, until);
    END IF;
    RETURN OLD;
END;
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'person', 'employment', 'entry_application', 'attendance', 'training_record',
        'exam_attempt', 'exit_record']
    LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE DELETE ON contractor.%I'
                       ' FOR EACH ROW EXECUTE FUNCTION contractor.refuse_early_delete()',
                       t || '_keep_c13', t);
    END LOOP;
END;
$$;
