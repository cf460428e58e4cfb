-- Risk monitoring registers (migration 0023, R2-R5): audited, updated_at kept current.

CREATE OR REPLACE TRIGGER hazardous_process_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.hazardous_process
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE OR REPLACE TRIGGER process_parameter_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.process_parameter
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER process_parameter_touch
    BEFORE UPDATE ON registry.process_parameter
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER unit_process_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.unit_process
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER unit_process_touch
    BEFORE UPDATE ON registry.unit_process
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER hazard_point_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.hazard_point
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER hazard_point_touch
    BEFORE UPDATE ON registry.hazard_point
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER stored_chemical_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.stored_chemical
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER stored_chemical_touch
    BEFORE UPDATE ON registry.stored_chemical
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER loading_area_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.loading_area
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER loading_area_touch
    BEFORE UPDATE ON registry.loading_area
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
