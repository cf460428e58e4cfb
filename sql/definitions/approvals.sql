-- Approval definitions, their steps and reminder settings are configuration that decides who
-- approves what: every change is audited like a register (workflows.approval_defs writes them
-- inside hazwatch.registers.acting, so the log names the administrator). Instance actions are
-- logged by workflows.approvals itself with their own action names (submit, approve, ...).

CREATE OR REPLACE TRIGGER approval_definition_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.approval_definition
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER approval_definition_touch
    BEFORE UPDATE ON workflow.approval_definition
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER approval_step_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.approval_step
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER approval_step_touch
    BEFORE UPDATE ON workflow.approval_step
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER approval_instance_touch
    BEFORE UPDATE ON workflow.approval_instance
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER reminder_setting_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.reminder_setting
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER reminder_setting_touch
    BEFORE UPDATE ON workflow.reminder_setting
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
