-- Video registers (issue 9) are audited like every register and keep updated_at current.
-- Machine state (video.worker, video.task_lease, video.task_status) is not audited: leases are
-- renewed every few seconds and would bury the log.

CREATE OR REPLACE TRIGGER node_audit
    AFTER INSERT OR UPDATE OR DELETE ON video.node
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER node_touch
    BEFORE UPDATE ON video.node
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER algorithm_audit
    AFTER INSERT OR UPDATE OR DELETE ON video.algorithm
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER algorithm_touch
    BEFORE UPDATE ON video.algorithm
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER algorithm_version_audit
    AFTER INSERT OR UPDATE OR DELETE ON video.algorithm_version
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER algorithm_version_touch
    BEFORE UPDATE ON video.algorithm_version
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER task_audit
    AFTER INSERT OR UPDATE OR DELETE ON video.task
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER task_touch
    BEFORE UPDATE ON video.task
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();

CREATE OR REPLACE TRIGGER task_algorithm_audit
    AFTER INSERT OR UPDATE OR DELETE ON video.task_algorithm
    FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE OR REPLACE TRIGGER task_algorithm_touch
    BEFORE UPDATE ON video.task_algorithm
    FOR EACH ROW EXECUTE FUNCTION audit.touch_updated_at();
