"""A13: unacknowledged process alarms escalate through the workflows engine.

    result = sync_escalations(conn)          # the scheduler's "alarm escalation" job, every 30 s
    result.raised, result.acknowledged, result.resolved

An annunciated, counted alarm record of priority emergency / high / low that is neither
acknowledged nor returned becomes an alert of source ``process_alarm`` (level danger / alarm /
warning; labels enterprise, unit, parameter, so escalation policies pick tiers per priority
and parameter). The operator's acknowledgement at the DCS acknowledges the alert (escalation of
``until = ack`` policies stops); return to normal, clearing, or an approved exclusion (A18)
resolves it. Journal alarms are never escalated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import psycopg

from hazwatch.registers import Actor
from workflows import alerting

if TYPE_CHECKING:
    from hazwatch.scheduler import Job

SOURCE: Final = "process_alarm"
LEVELS: Final = {"emergency": "danger", "high": "alarm", "low": "warning"}
#: Records raised longer ago than this are not raised as new alerts (the builder runs every
#: 30 s; an alarm this old that nobody escalated before was imported from a log, not live).
RAISE_WINDOW: Final = timedelta(hours=1)


@dataclass(frozen=True)
class EscalationSync:
    raised: int = 0
    acknowledged: int = 0
    resolved: int = 0


def alert_key(tag_id: int, condition: str, raised: datetime) -> str:
    """One alert per alarm occurrence (the record's natural key).

    >>> alert_key(7, "HI", datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    '7|HI|2026-11-22T08:00:00+00:00'
    """
    return f"{tag_id}|{condition}|{raised.astimezone(UTC).isoformat()}"


def sync_escalations(conn: psycopg.Connection, *, now: datetime | None = None) -> EscalationSync:
    now = now or datetime.now(UTC)
    raised = acknowledged = resolved = 0
    fresh = conn.execute(
        "SELECT r.tag_id, r.condition, r.raised, r.priority, r.enterprise_id, r.value,"
        " r.limit_value, t.name, coalesce(t.description, ''), u.code"
        " FROM alarm.record r JOIN registry.tag t ON t.id = r.tag_id"
        " LEFT JOIN registry.unit u ON u.id = r.unit_id"
        " WHERE r.raised >= %s AND r.raised <= %s AND r.annunciated AND NOT r.excluded"
        " AND r.acked IS NULL AND r.returned IS NULL AND r.cleared IS NULL"
        " AND r.priority = ANY(%s)",
        (now - RAISE_WINDOW, now, list(LEVELS)),
    ).fetchall()
    for tag_id, cond, at, prio, ent, value, limit, tag, desc, unit in fresh:
        key = alert_key(tag_id, cond, at)
        if _ever_alerted(conn, key):
            continue  # open, or closed by a person while the DCS alarm stands: not again
        labels = {"parameter": tag, "priority": prio}
        if unit:
            labels["unit"] = unit
        limit_text = f"（限值 {limit:g}）" if limit is not None else ""
        value_text = f" {value:g}" if value is not None else ""
        alerting.raise_external_alert(
            conn, SOURCE, key, LEVELS[prio], labels,
            f"{tag} {desc} {cond} 报警{value_text}{limit_text}，未确认".replace("  ", " "),
            value=value, priority=prio, enterprise_id=ent, now=now,
        )  # fmt: skip
        raised += 1
    open_alerts = conn.execute(
        "SELECT a.id, a.key, a.acked_at FROM workflow.alert a WHERE a.source = %s"
        " AND a.closed_at IS NULL AND a.state NOT IN ('resolved', 'normal')",
        (SOURCE,),
    ).fetchall()
    for alert_id, key, alert_acked in open_alerts:
        tag_id, cond, at = key.split("|", 2)
        rec = conn.execute(
            "SELECT acked, acked_by, returned, cleared, excluded FROM alarm.record"
            " WHERE tag_id = %s AND condition = %s AND raised = %s",
            (int(tag_id), cond, datetime.fromisoformat(at)),
        ).fetchone()
        if rec is None or rec[2] is not None or rec[3] is not None or rec[4]:
            alerting.resolve_external_alert(conn, SOURCE, key, now=now)
            resolved += 1
            continue
        if rec[0] is not None and alert_acked is None:
            who = rec[1] or "DCS"
            alerting.acknowledge(
                conn, alert_id, Actor(None, f"dcs:{who}"),
                f"操作员已在DCS确认（{who}，{rec[0]:%H:%M:%S}）", now=now,
            )  # fmt: skip
            acknowledged += 1
    return EscalationSync(raised, acknowledged, resolved)


def _ever_alerted(conn: psycopg.Connection, key: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM workflow.alert WHERE source = %s AND key = %s)",
        (SOURCE, key),
    ).fetchone()
    return bool(row and row[0])


def escalation_job() -> Job:
    """The scheduler job running ``sync_escalations`` every 30 s (after the record builder)."""
    from hazwatch.scheduler import Job

    def run(conn: psycopg.Connection) -> str:
        res = sync_escalations(conn)
        return f"{res.raised} raised, {res.acknowledged} acknowledged, {res.resolved} resolved"

    return Job("alarm escalation", timedelta(seconds=30), run)
