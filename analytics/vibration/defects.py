"""Pump alarm handling (P6): view → handle → convert to a defect (approval) → close.

    record_view(conn, actor, alert_id)                       # who looked, when
    record_handling(conn, actor, alert_id, "已到现场测振, 复测 7.8 mm/s")   # also acknowledges
    iid = request_defect(conn, actor, alert_id, title="P-101A 驱动端不平衡",
                         description="…", fault="unbalance")  # approval pump.alarm_to_defect
    act(conn, approver, iid, "approve", "同意")                # apply: the defect is opened
    case_id = close_defect(conn, actor, defect_id, cause="叶轮结垢",
                           action_taken="清理叶轮并做动平衡")
    close_alarm(conn, actor, alert_id, "误报：传感器松动")       # an alarm that needs no defect

Closing a defect closes its alarm and files the case (P12) with the spectra snapshot of the
capture nearest the alarm (``analytics.vibration.cases.snapshot``). Every step is audited:
handling rows and defects by triggers, alarm actions by the alerting engine, the conversion by
the approval engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from analytics.vibration.faults import RECORDED_FAULTS
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting
from workflows import approvals
from workflows.alerting import AlertError, acknowledge
from workflows.alerting import close as close_alert

KIND: Final = "pump.alarm_to_defect"
TITLE: Final = {"zh": "机泵报警转缺陷", "en": "Pump alarm to defect"}
SOURCES: Final = ("pump", "pump_health")
FAULTS: Final = RECORDED_FAULTS


class DefectError(HazwatchError):
    """A handling step that cannot be done; the message says which field or state and why."""


def _pump_alert(conn: psycopg.Connection, alert_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM workflow.alert WHERE id = %s", (alert_id,)).fetchone()
    if row is None:
        raise DefectError(f"alert_id {alert_id}: no such alarm")
    if row["source"] not in SOURCES:
        raise DefectError(f"alert_id {alert_id}: a {row['source']} alarm, not a pump alarm")
    return row


def equipment_of(alert: Mapping[str, Any]) -> int | None:
    raw = (alert.get("labels") or {}).get("equipment_id")
    return int(raw) if raw and str(raw).isdigit() else None


def record_view(conn: psycopg.Connection, actor: Actor, alert_id: int) -> None:
    """Record that ``actor`` opened the alarm (once per actor)."""
    _pump_alert(conn, alert_id)
    with acting(conn, actor, "pump alarm viewed"):
        conn.execute(
            """INSERT INTO vib.alarm_handling (alert_id, action, actor_id, actor)
               SELECT %s, 'view', %s, %s WHERE NOT EXISTS (SELECT 1 FROM vib.alarm_handling
                   WHERE alert_id = %s AND action = 'view' AND actor = %s)""",
            (alert_id, actor.id, actor.name, alert_id, actor.name),
        )


def record_handling(
    conn: psycopg.Connection,
    actor: Actor,
    alert_id: int,
    note: str,
    *,
    now: datetime | None = None,
) -> int:
    """Record a handling step; the first one also acknowledges the alarm (stops escalation)."""
    note = (note or "").strip()
    if not note:
        raise DefectError("note: say what was done (现场检查、复测、调整…)")
    alert = _pump_alert(conn, alert_id)
    if alert["closed_at"] is not None:
        raise DefectError(f"alert_id {alert_id}: the alarm is closed")
    now = now or datetime.now(UTC)
    with conn.transaction():
        with acting(conn, actor, "pump alarm handled"):
            row = conn.execute(
                "INSERT INTO vib.alarm_handling (alert_id, action, note, actor_id, actor, at)"
                " VALUES (%s, 'handle', %s, %s, %s, %s) RETURNING id",
                (alert_id, note, actor.id, actor.name, now),
            ).fetchone()
        if alert["acked_at"] is None:
            acknowledge(conn, alert_id, actor, note, now=now)
    assert row is not None
    return int(row[0])


def handling(conn: psycopg.Connection, alert_id: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM vib.alarm_handling WHERE alert_id = %s ORDER BY at, id", (alert_id,)
        ).fetchall()


def validate(conn: psycopg.Connection, payload: Mapping[str, Any]) -> None:
    """The approval engine's check of a conversion request."""
    for key in ("alert_id", "title"):
        if not payload.get(key):
            raise DefectError(f"{key}: required")
    try:
        alert_id = int(payload["alert_id"])
    except (TypeError, ValueError):
        raise DefectError(f"alert_id {payload['alert_id']!r}: not a number") from None
    alert = _pump_alert(conn, alert_id)
    if equipment_of(alert) is None:
        raise DefectError(f"alert_id {alert_id}: the alarm names no pump (label equipment_id)")
    fault = payload.get("fault") or "other"
    if fault not in FAULTS:
        raise DefectError(f"fault {fault!r}: one of {', '.join(FAULTS)}")
    if conn.execute("SELECT 1 FROM vib.defect WHERE alert_id = %s", (alert_id,)).fetchone():
        raise DefectError(f"alert_id {alert_id}: already converted to a defect")


def apply(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """On approval: open the defect (the approver is its actor in the audit log)."""
    validate(conn, payload)
    alert = _pump_alert(conn, int(payload["alert_id"]))
    equipment_id = equipment_of(alert)
    row = conn.execute(
        "SELECT u.enterprise_id FROM registry.equipment e JOIN registry.unit u ON u.id = e.unit_id"
        " WHERE e.id = %s",
        (equipment_id,),
    ).fetchone()
    if row is None:
        raise DefectError(f"equipment {equipment_id} of the alarm no longer exists")
    pending = conn.execute(
        # the engine may mark the request approved before it applies it
        "SELECT id FROM workflow.approval_instance WHERE kind = %s"
        " AND state IN ('pending', 'approved') AND payload ->> 'alert_id' = %s"
        " ORDER BY id DESC LIMIT 1",
        (KIND, str(alert["id"])),
    ).fetchone()
    with acting(conn, actor, "pump alarm converted to a defect"):
        conn.execute(
            """INSERT INTO vib.defect (enterprise_id, equipment_id, alert_id, approval_id, title,
                   description, fault, grade, opened_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                row[0],
                equipment_id,
                alert["id"],
                pending[0] if pending else None,
                str(payload["title"]).strip(),
                payload.get("description"),
                payload.get("fault") or "other",
                alert["level"],
                str(payload.get("requester") or actor.name),
            ),
        )


def register_kind() -> None:
    approvals.register_kind(KIND, title=TITLE, apply=apply, validate=validate)


register_kind()


def request_defect(
    conn: psycopg.Connection,
    actor: Actor,
    alert_id: int,
    *,
    title: str,
    description: str | None = None,
    fault: str | None = None,
    now: datetime | None = None,
) -> int:
    """Submit the conversion for approval (definition of ``pump.alarm_to_defect``: the
    equipment department by default); returns the approval request's id."""
    alert = _pump_alert(conn, alert_id)
    if alert["closed_at"] is not None:
        raise DefectError(f"alert_id {alert_id}: the alarm is closed")
    busy = conn.execute(
        "SELECT id FROM workflow.approval_instance WHERE kind = %s AND state = 'pending'"
        " AND payload ->> 'alert_id' = %s",
        (KIND, str(alert_id)),
    ).fetchone()
    if busy:
        raise DefectError(f"alert_id {alert_id}: conversion #{busy[0]} is already waiting")
    payload = {
        "alert_id": alert_id,
        "title": (title or "").strip(),
        "description": description,
        "fault": fault or "other",
        "requester": actor.name,
    }
    return approvals.submit(
        conn,
        actor,
        kind=KIND,
        enterprise_id=alert["enterprise_id"],
        subject=f"报警转缺陷：{payload['title'] or alert['summary']}",
        payload=payload,
        level=alert["level"] or "",
        now=now,
    )


def close_defect(
    conn: psycopg.Connection,
    actor: Actor,
    defect_id: int,
    *,
    cause: str,
    action_taken: str,
    case_title: str | None = None,
    now: datetime | None = None,
) -> int:
    """Close a defect (cause and action required), close its alarm, file the case; returns the
    case id."""
    from analytics.vibration.cases import create_case, snapshot

    cause, action_taken = (cause or "").strip(), (action_taken or "").strip()
    if not cause:
        raise DefectError("cause: required to close a defect (故障原因)")
    if not action_taken:
        raise DefectError("action_taken: required to close a defect (处理措施)")
    now = now or datetime.now(UTC)
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            d = cur.execute(
                "SELECT * FROM vib.defect WHERE id = %s FOR UPDATE", (defect_id,)
            ).fetchone()
        if d is None:
            raise DefectError(f"defect_id {defect_id}: no such defect")
        if d["state"] == "closed":
            raise DefectError(f"defect_id {defect_id}: already closed")
        with acting(conn, actor, f"defect closed: {cause}"):
            conn.execute(
                "UPDATE vib.defect SET state = 'closed', closed_at = %s, closed_by = %s,"
                " cause = %s, action_taken = %s WHERE id = %s",
                (now, actor.name, cause, action_taken, defect_id),
            )
        occurred = now
        if d["alert_id"] is not None:
            row = conn.execute(
                "SELECT closed_at, coalesce(fired_at, started_at) FROM workflow.alert"
                " WHERE id = %s",
                (d["alert_id"],),
            ).fetchone()
            if row is not None:
                occurred = row[1]
                if row[0] is None:
                    close_alert(
                        conn, d["alert_id"], actor, f"缺陷 #{defect_id} 已关闭：{cause}", now=now
                    )
        spectra = snapshot(conn, d["equipment_id"], occurred)
        return create_case(
            conn,
            actor,
            enterprise_id=d["enterprise_id"],
            equipment_id=d["equipment_id"],
            defect_id=defect_id,
            title=case_title or d["title"],
            fault=d["fault"] or "other",
            grade=d["grade"],
            description=d["description"],
            cause=cause,
            action_taken=action_taken,
            occurred_at=occurred,
            spectra=spectra,
        )


def close_alarm(
    conn: psycopg.Connection,
    actor: Actor,
    alert_id: int,
    comment: str,
    *,
    now: datetime | None = None,
) -> None:
    """Close an alarm that needs no defect (false alarm, handled on the spot)."""
    _pump_alert(conn, alert_id)
    try:
        close_alert(conn, alert_id, actor, comment, now=now)
    except AlertError as exc:
        raise DefectError(str(exc)) from None


def list_defects(
    conn: psycopg.Connection,
    enterprise_ids: list[int] | None,
    *,
    state: str | None = None,
    equipment_id: int | None = None,
) -> list[dict[str, Any]]:
    """Defects in scope (``enterprise_ids`` None: all), open first, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT d.*, e.code AS equipment_code, e.name AS equipment_name,
                      c.id AS case_id
               FROM vib.defect d JOIN registry.equipment e ON e.id = d.equipment_id
               LEFT JOIN vib.fault_case c ON c.defect_id = d.id
               WHERE (%(ents)s::integer[] IS NULL OR d.enterprise_id = ANY(%(ents)s))
                 AND (%(state)s::text IS NULL OR d.state = %(state)s)
                 AND (%(eq)s::integer IS NULL OR d.equipment_id = %(eq)s)
               ORDER BY d.state = 'closed', d.opened_at DESC, d.id DESC""",
            {"ents": enterprise_ids, "state": state, "eq": equipment_id},
        ).fetchall()


def pump_alarms(
    conn: psycopg.Connection,
    enterprise_ids: list[int] | None,
    *,
    open_only: bool = True,
    equipment_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Pump alarms (source ``pump``) with their defect and pending conversion, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT a.*, d.id AS defect_id, d.state AS defect_state,
                      (SELECT i.id FROM workflow.approval_instance i WHERE i.kind = %(kind)s
                         AND i.state = 'pending' AND i.payload ->> 'alert_id' = a.id::text
                       LIMIT 1) AS pending_request,
                      (SELECT count(*) FROM vib.alarm_handling h WHERE h.alert_id = a.id
                         AND h.action = 'handle') AS handled
               FROM workflow.alert a LEFT JOIN vib.defect d ON d.alert_id = a.id
               WHERE a.source = 'pump'
                 AND (%(ents)s::integer[] IS NULL OR a.enterprise_id = ANY(%(ents)s))
                 AND (NOT %(open)s OR a.closed_at IS NULL)
                 AND (%(eq)s::text IS NULL OR a.labels ->> 'equipment_id' = %(eq)s)
               ORDER BY a.closed_at IS NOT NULL, a.started_at DESC, a.id DESC LIMIT %(limit)s""",
            {
                "kind": KIND,
                "ents": enterprise_ids,
                "open": open_only,
                "eq": None if equipment_id is None else str(equipment_id),
                "limit": limit,
            },
        ).fetchall()
