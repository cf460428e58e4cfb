-- Pump workflow tables (issue 8, migration 0020) are audited and keep updated_at current.
-- vib.strategy_state is the evaluator's memory, not a register: not audited.
CREATE OR REPLACE TRIGGER alarm_strategy_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.alarm_strategy
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER alarm_strategy_touch
    BEFORE UPDATE ON vib.alarm_strategy
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
CREATE OR REPLACE TRIGGER alarm_handling_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.alarm_handling
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER defect_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.defect
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER defect_touch
    BEFORE UPDATE ON vib.defect
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
-- The spectra snapshot is large and never edited by hand: left out of the audit rows.
CREATE OR REPLACE TRIGGER fault_case_audit
    AFTER INSERT OR UPDATE OR DELETE ON vib.fault_case
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('spectra');
CREATE OR REPLACE TRIGGER fault_case_touch
    BEFORE UPDATE ON vib.fault_case
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
CREATE OR REPLACE TRIGGER report_run_audit
    AFTER INSERT OR DELETE ON vib.report_run
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('html');
