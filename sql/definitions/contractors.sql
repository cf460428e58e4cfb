-- Contractor registers (migration 0019) are audited like every register: who changed what and
-- why (hazwatch.registers.acting sets the actor). The encrypted ID-card number never reaches the
-- log (trigger argument); its masked form and keyed hash do.

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'qualification', 'project', 'employment', 'certificate', 'qualification_rule',
        'equipment', 'violation', 'incident', 'hazard', 'attachment', 'course', 'question',
        'exam_rule', 'entry_application', 'training_record', 'access_system', 'attendance',
        'blacklist']
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

CREATE OR REPLACE TRIGGER person_audit
    AFTER INSERT OR UPDATE OR DELETE ON contractor.person
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('id_cipher');
CREATE OR REPLACE TRIGGER person_touch
    BEFORE UPDATE ON contractor.person
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
