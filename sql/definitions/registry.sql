-- Every register table is audited and keeps updated_at current. A new register table gets
-- its two lines here.

CREATE OR REPLACE TRIGGER region_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.region
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER region_touch
    BEFORE UPDATE ON registry.region
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER enterprise_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.enterprise
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER enterprise_touch
    BEFORE UPDATE ON registry.enterprise
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER department_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.department
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER department_touch
    BEFORE UPDATE ON registry.department
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER unit_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.unit
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER unit_touch
    BEFORE UPDATE ON registry.unit
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER equipment_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.equipment
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER equipment_touch
    BEFORE UPDATE ON registry.equipment
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER shift_team_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.shift_team
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER shift_team_touch
    BEFORE UPDATE ON registry.shift_team
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER shift_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.shift
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE OR REPLACE TRIGGER tag_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.tag
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER tag_touch
    BEFORE UPDATE ON registry.tag
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER alarm_point_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.alarm_point
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER alarm_point_touch
    BEFORE UPDATE ON registry.alarm_point
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER alarm_relation_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.alarm_relation
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE OR REPLACE TRIGGER gateway_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.gateway
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER gateway_touch
    BEFORE UPDATE ON registry.gateway
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER sensor_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.sensor
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER sensor_touch
    BEFORE UPDATE ON registry.sensor
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER camera_audit
    AFTER INSERT OR UPDATE OR DELETE ON registry.camera
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('secret_enc');
CREATE OR REPLACE TRIGGER camera_touch
    BEFORE UPDATE ON registry.camera
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER app_user_audit
    AFTER INSERT OR UPDATE OR DELETE ON auth.app_user
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('password_hash');
CREATE OR REPLACE TRIGGER app_user_touch
    BEFORE UPDATE ON auth.app_user
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
CREATE OR REPLACE TRIGGER api_token_audit
    AFTER INSERT OR UPDATE OR DELETE ON auth.api_token
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('token_sha256', '~last_used_at');
CREATE OR REPLACE TRIGGER api_token_touch
    BEFORE UPDATE ON auth.api_token
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER user_group_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.user_group
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER user_group_touch
    BEFORE UPDATE ON workflow.user_group
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER user_group_member_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.user_group_member
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER user_group_member_touch
    BEFORE UPDATE ON workflow.user_group_member
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER dashboard_audit
    AFTER INSERT OR UPDATE OR DELETE ON ui.dashboard
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER dashboard_touch
    BEFORE UPDATE ON ui.dashboard
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER company_audit
    AFTER INSERT OR UPDATE OR DELETE ON contractor.company
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER company_touch
    BEFORE UPDATE ON contractor.company
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
