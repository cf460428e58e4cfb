-- Alerting configuration (rules, policies, silences, mute times, calendars, channels,
-- preferences) is audited like a register; secrets never reach the log.

CREATE OR REPLACE TRIGGER calendar_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.calendar
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER calendar_touch
    BEFORE UPDATE ON workflow.calendar
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER channel_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.channel
    FOR EACH ROW EXECUTE FUNCTION audit.log_change('secret');
CREATE OR REPLACE TRIGGER channel_touch
    BEFORE UPDATE ON workflow.channel
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER notify_preference_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.notify_preference
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER notify_preference_touch
    BEFORE UPDATE ON workflow.notify_preference
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER alert_rule_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.alert_rule
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER alert_rule_touch
    BEFORE UPDATE ON workflow.alert_rule
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER silence_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.silence
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER silence_touch
    BEFORE UPDATE ON workflow.silence
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER mute_time_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.mute_time
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER mute_time_touch
    BEFORE UPDATE ON workflow.mute_time
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER escalation_policy_audit
    AFTER INSERT OR UPDATE OR DELETE ON workflow.escalation_policy
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER escalation_policy_touch
    BEFORE UPDATE ON workflow.escalation_policy
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
