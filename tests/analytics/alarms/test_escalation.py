"""A13: unacknowledged process alarms escalate through the workflows engine; the DCS
acknowledgement stops the escalation and the return to normal resolves the alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from analytics.alarms.escalation import SOURCE, alert_key, sync_escalations
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.workflows.alerting_servers import make_group, make_user
from workflows import alert_config, alerting

TEST = Actor(None, "test")


def _record(conn: psycopg.Connection, ent: int, tag: int, raised: datetime, prio: str) -> None:
    conn.execute(
        "INSERT INTO alarm.record (raised, tag_id, condition, enterprise_id, priority, value,"
        " limit_value) VALUES (%s, %s, 'HI', %s, %s, 91.5, 90)",
        (raised, tag, ent, prio),
    )


def _alert(conn: psycopg.Connection, key: str) -> tuple[str, bool, int] | None:
    row = conn.execute(
        "SELECT state, acked_at IS NOT NULL, tier FROM workflow.alert"
        " WHERE source = %s AND key = %s",
        (SOURCE, key),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def _count(conn: psycopg.Connection, key: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM workflow.alert WHERE source = %s AND key = %s", (SOURCE, key)
    ).fetchone()
    return int(row[0]) if row else 0


def test_process_alarm_escalates_until_the_dcs_acknowledges_then_resolves(
    conn: psycopg.Connection,
) -> None:
    """An emergency alarm unacknowledged for 6 minutes reaches tier 2 (5 min); the DCS ack at
    7 min stops it before tier 3 (15 min); the return at 20 min resolves it. A journal alarm
    and an already acknowledged one raise nothing."""
    ent, _ = make_enterprise(conn)
    tag = registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "name": "PIA-301"})
    quiet = registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "name": "PI-302"})
    op, tech, mgr = (make_group(conn, [make_user(conn, enterprise_id=ent)], ent) for _ in "abc")
    alert_config.insert(conn, TEST, "escalation_policy", {
        "enterprise_id": ent, "code": "a13", "until": "ack",
        "tiers": [{"after_s": 0, "groups": [op], "channels": ["inapp"]},
                  {"after_s": 300, "groups": [tech], "channels": ["inapp"]},
                  {"after_s": 900, "groups": [mgr], "channels": ["inapp"]}],
    })  # fmt: skip
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    _record(conn, ent, tag, t0, "emergency")
    _record(conn, ent, quiet, t0, "journal")
    key = alert_key(tag, "HI", t0)

    # The session's other tests have records too: count this test's alerts, not the sync's.
    assert sync_escalations(conn, now=t0 + timedelta(seconds=10)).raised >= 1
    assert _alert(conn, key) == ("firing", False, 0)
    assert _alert(conn, alert_key(quiet, "HI", t0)) is None
    sync_escalations(conn, now=t0 + timedelta(seconds=20))
    assert _count(conn, key) == 1  # once

    alerting.escalate(conn, now=t0 + timedelta(minutes=6))
    assert _alert(conn, key) == ("firing", False, 1)  # the technicians are told

    conn.execute(
        "UPDATE alarm.record SET acked = %s, acked_by = 'op-zhang' WHERE tag_id = %s",
        (t0 + timedelta(minutes=7), tag),
    )
    assert sync_escalations(conn, now=t0 + timedelta(minutes=7, seconds=5)).acknowledged >= 1
    alerting.escalate(conn, now=t0 + timedelta(minutes=20))
    assert _alert(conn, key) == ("firing", True, 1)  # management never told

    conn.execute(
        "UPDATE alarm.record SET returned = %s WHERE tag_id = %s",
        (t0 + timedelta(minutes=20), tag),
    )
    assert sync_escalations(conn, now=t0 + timedelta(minutes=20, seconds=5)).resolved >= 1
    state = _alert(conn, key)
    assert state is not None and state[0] == "resolved"
    # Resolved (or closed by a person) is final for this occurrence: never raised again.
    conn.execute("UPDATE alarm.record SET returned = NULL, acked = NULL WHERE tag_id = %s", (tag,))
    sync_escalations(conn, now=t0 + timedelta(minutes=21))
    assert _count(conn, key) == 1
