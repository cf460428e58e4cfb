"""A16: ledger changes only through the approval workflow, approvers by alarm level, audited.
Real database, real approval engine (workflows.approvals) with the definitions of 0014."""

from __future__ import annotations

import psycopg
import pytest

from analytics.alarms import ledger
from analytics.alarms.ledger import LedgerError, approval_level, check_changes, request_change
from hazwatch import registers
from tests.analytics.alarms.analysis_fixtures import TEST_ACTOR, make_site
from workflows import approvals
from workflows.approvals import ApplyError


def limit_of(conn: psycopg.Connection, point: int) -> float:
    row = conn.execute(
        "SELECT limit_value FROM registry.alarm_point WHERE id = %s", (point,)
    ).fetchone()
    assert row is not None
    return float(row[0])


def test_check_changes_pure() -> None:
    current = {"condition": "HH", "limit_value": 90.0, "priority": "high", "enabled": True}
    assert check_changes(current, {"limit_value": "95", "priority": "high"}) == {
        "limit_value": 95.0
    }
    with pytest.raises(LedgerError, match="not a ledger setting: colour"):
        check_changes(current, {"colour": "red"})
    with pytest.raises(LedgerError, match="limit_value: 'abc' is not a number"):
        check_changes(current, {"limit_value": "abc"})
    with pytest.raises(LedgerError, match="deadband: must be 0 or more"):
        check_changes(current, {"deadband": -1})
    with pytest.raises(LedgerError, match="limit_value: a HH alarm needs a limit"):
        check_changes(current, {"limit_value": None})
    with pytest.raises(LedgerError, match="changes nothing"):
        check_changes(current, {"limit_value": 90})
    with pytest.raises(LedgerError, match="priority: one of"):
        check_changes(current, {"priority": "urgent"})
    assert approval_level("high", "emergency") == "emergency"
    assert approval_level("emergency", "low") == "emergency"
    assert approval_level("low", None) == "low"


def test_direct_changes_are_refused(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    point = site.point(conn, site.tag(conn, "TI-1"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="approved ledger change"):
        registers.update(conn, TEST_ACTOR, "alarm_point", point, {"limit_value": 99.0})
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="approved ledger change"):
        registers.delete(conn, TEST_ACTOR, "alarm_point", point)
    # Descriptive texts are not settings: free to edit.
    registers.update(conn, TEST_ACTOR, "alarm_point", point, {"response": "减少进料"})
    assert limit_of(conn, point) == 90.0


def test_change_applied_only_after_approval_and_audited(conn: psycopg.Connection) -> None:
    """High priority: the default definition, 工艺技术审核 (process_tech) then 安全管理审批
    (safety_mgmt). The limit stays 90 until the second approval, then it is 95, written by the
    safety manager with the request's reason in audit.log."""
    site = make_site(conn)
    point = site.point(conn, site.tag(conn, "TI-2"))
    inst = request_change(conn, site.requester, point, {"limit_value": 95.0}, reason="新催化剂工况")
    got = approvals.get_instance(conn, inst)
    assert (got.kind, got.level, got.state, len(got.steps)) == (ledger.KIND, "high", "pending", 2)
    assert limit_of(conn, point) == 90.0
    assert approvals.act(conn, site.tech, inst, "approve", "同意") == "pending"
    assert limit_of(conn, point) == 90.0
    assert approvals.act(conn, site.safety, inst, "approve", "同意") == "approved"
    assert limit_of(conn, point) == 95.0
    rows = conn.execute(
        "SELECT actor, reason, before ->> 'limit_value', after ->> 'limit_value'"
        " FROM audit.log WHERE entity = 'registry.alarm_point' AND entity_id = %s"
        " AND action = 'update'",
        (str(point),),
    ).fetchall()
    assert rows == [(site.safety.name, "alarm.ledger_change: 新催化剂工况", "90", "95")]


def test_emergency_level_needs_leadership(conn: psycopg.Connection) -> None:
    """Raising a point to emergency is decided at the emergency level: three steps, the last
    one 公司领导批准 (leadership); a rejection leaves the ledger as it was."""
    site = make_site(conn)
    point = site.point(conn, site.tag(conn, "PI-3"))
    inst = request_change(conn, site.requester, point, {"priority": "emergency"}, reason="后果严重")
    got = approvals.get_instance(conn, inst)
    assert got.level == "emergency" and len(got.steps) == 3
    approvals.act(conn, site.tech, inst, "approve")
    approvals.act(conn, site.safety, inst, "approve")
    assert approvals.act(conn, site.leader, inst, "reject", "维持原级别") == "rejected"
    row = conn.execute("SELECT priority FROM registry.alarm_point WHERE id = %s", (point,))
    assert row.fetchone() == ("high",)


def test_stale_request_is_not_applied(conn: psycopg.Connection) -> None:
    """Two requests made against limit 90; the first is applied (→ 95). Approving the second
    (→ 100) fails: the ledger no longer has 90; it stays pending with the reason."""
    site = make_site(conn)
    point = site.point(conn, site.tag(conn, "FI-4"))
    first = request_change(conn, site.requester, point, {"limit_value": 95}, reason="a")
    second = request_change(conn, site.requester, point, {"limit_value": 100}, reason="b")
    for inst in (first, second):
        approvals.act(conn, site.tech, inst, "approve")
    approvals.act(conn, site.safety, first, "approve")
    with pytest.raises(ApplyError, match="changed since the request"):
        approvals.act(conn, site.safety, second, "approve")
    assert limit_of(conn, point) == 95.0
    assert approvals.get_instance(conn, second).state == "pending"


def test_request_errors_name_the_field(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    point = site.point(conn, site.tag(conn, "FI-5"))
    with pytest.raises(LedgerError, match="reason"):
        request_change(conn, site.requester, point, {"limit_value": 91}, reason=" ")
    with pytest.raises(LedgerError, match="no alarm point with id"):
        request_change(conn, site.requester, 10**9, {"limit_value": 91}, reason="x")
