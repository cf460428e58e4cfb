-- Pump vibration configuration tables are audited and keep updated_at current (issue 8).
CREATE OR REPLACE TRIGGER bearing_catalogue_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.bearing_catalogue
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER bearing_catalogue_touch
    BEFORE UPDATE ON vib.bearing_catalogue
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
CREATE OR REPLACE TRIGGER severity_limit_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.severity_limit
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER severity_limit_touch
    BEFORE UPDATE ON vib.severity_limit
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
