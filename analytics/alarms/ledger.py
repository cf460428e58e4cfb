"""A16 alarm ledger changes through approval, approvers by alarm level.

A change to an alarm point's settings (registry.alarm_point: limit, priority, type, deadband,
on/off delays, enabled, interlock, and the cause/consequence/response texts) is a request of
kind ``alarm.ledger_change`` in the approval engine (``workflows.approvals``). The request's
level is the more critical of the point's current and requested priority, so lowering an
emergency alarm to "low" is approved by the emergency alarms' approvers (the definitions of
migration 0014: emergency → process, safety, leadership; low/journal → process only). Only
once the last step approves does the engine call ``apply``, which writes the change as the
approver through ``hazwatch.registers`` (so ``audit.log`` names who and why) with
``hazwatch.approval`` set in the transaction; the database refuses any other change to these
settings (trigger ``registry.alarm_point_guard``).

    inst = request_change(conn, engineer, point_id, {"limit_value": 95.0}, reason="新工况")
    approvals.act(conn, tech, inst, "approve"); approvals.act(conn, safety, inst, "approve")
    # registry.alarm_point now has limit 95, audit.log has the update by the last approver
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor
from workflows import approvals

KIND: Final = "alarm.ledger_change"
TITLE: Final = {"zh": "报警设置台账变更", "en": "Alarm ledger change"}
#: Least to most critical: the approval level is the higher of before and after.
PRIORITY_RANK: Final = {"journal": 0, "low": 1, "high": 2, "emergency": 3}
CATEGORIES: Final = ("process", "equipment", "instrument", "safety")
NUMBERS: Final = ("limit_value", "deadband", "on_delay_s", "off_delay_s")
FLAGS: Final = ("enabled", "is_interlock")
TEXTS: Final = ("cause", "consequence", "response")
EDITABLE: Final = (
    "limit_value", "priority", "category", "deadband", "on_delay_s", "off_delay_s",
    "enabled", "is_interlock", "cause", "consequence", "response", "response_s",
)  # fmt: skip


class LedgerError(HazwatchError):
    """A ledger change that cannot be requested or applied; the message names the field."""


def check_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The requested values, checked and normalised, that differ from ``current``.

    >>> check_changes({"limit_value": 90.0, "priority": "high"}, {"limit_value": "95"})
    {'limit_value': 95.0}
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise LedgerError(f"not a ledger setting: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, raw in changes.items():
        value = _normalise(name, raw)
        if name == "limit_value" and value is None and current.get("condition") in (
            "HH", "H", "L", "LL", "ROC", "DEV",
        ):  # fmt: skip
            raise LedgerError(f"limit_value: a {current.get('condition')} alarm needs a limit")
        if value != current.get(name):
            out[name] = value
    if not out:
        raise LedgerError("the request changes nothing: every value equals the ledger")
    return out


def _normalise(name: str, raw: Any) -> Any:
    if name in NUMBERS:
        if raw is None or raw == "":
            if name == "limit_value":
                return None
            raise LedgerError(f"{name}: a number is required")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise LedgerError(f"{name}: {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise LedgerError(f"{name}: {raw!r} is not a finite number")
        if name != "limit_value" and value < 0:
            raise LedgerError(f"{name}: must be 0 or more, not {value:g}")
        return value
    if name == "priority":
        if raw not in PRIORITY_RANK:
            raise LedgerError(f"priority: one of {', '.join(PRIORITY_RANK)}, not {raw!r}")
        return raw
    if name == "category":
        if raw not in CATEGORIES:
            raise LedgerError(f"category: one of {', '.join(CATEGORIES)}, not {raw!r}")
        return raw
    if name in FLAGS:
        if not isinstance(raw, bool):
            raise LedgerError(f"{name}: true or false, not {raw!r}")
        return raw
    if name == "response_s":
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise LedgerError(f"response_s: {raw!r} is not a whole number of seconds") from None
        if value <= 0:
            raise LedgerError("response_s: must be more than 0 seconds")
        return value
    text = None if raw is None else str(raw).strip()
    if text is not None and len(text) > 2000:
        raise LedgerError(f"{name}: at most 2000 characters")
    return text or None


def approval_level(before: str, after: str | None) -> str:
    """The more critical of two priorities (the level whose approvers decide)."""
    if after is None or PRIORITY_RANK[before] >= PRIORITY_RANK[after]:
        return before
    return after


def describe(before: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    """``limit_value 90 → 95; enabled true → false`` for subjects and lists."""

    def show(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return f"{v:g}"
        return "-" if v is None else str(v)

    return "; ".join(f"{k} {show(before.get(k))} → {show(v)}" for k, v in changes.items())


_POINT = """
SELECT p.*, t.name AS tag, t.enterprise_id
FROM registry.alarm_point p JOIN registry.tag t ON t.id = p.tag_id
WHERE p.id = %s
"""


def load_point(conn: psycopg.Connection, point_id: int, *, lock: bool = False) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_POINT + (" FOR UPDATE OF p" if lock else ""), (point_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no alarm point with id {point_id}")
    return dict(row)


def request_change(
    conn: psycopg.Connection,
    actor: Actor,
    point_id: int,
    changes: Mapping[str, Any],
    *,
    reason: str,
    attachments: Sequence[Path] = (),
) -> int:
    """Submit a ledger change for approval; returns the approval instance id."""
    if not reason or not reason.strip():
        raise LedgerError("reason: say why the setting should change")
    point = load_point(conn, point_id)
    checked = check_changes(point, changes)
    before = {k: point[k] for k in checked}
    payload = {
        "point_id": point_id,
        "tag_id": point["tag_id"],
        "tag": point["tag"],
        "condition": point["condition"],
        "before": before,
        "changes": checked,
        "reason": reason.strip(),
    }
    subject = f"{point['tag']}.{point['condition']}: {describe(before, checked)}"
    return int(
        approvals.submit(
            conn,
            actor,
            kind=KIND,
            enterprise_id=point["enterprise_id"],
            subject=subject[:200],
            payload=payload,
            level=approval_level(point["priority"], checked.get("priority")),
            attachments=attachments,
        )
    )


def validate(conn: psycopg.Connection | None, payload: Mapping[str, Any]) -> None:
    """Shape of a request's payload (the engine calls it before submitting)."""
    for key in ("point_id", "changes", "before"):
        if key not in payload:
            raise LedgerError(f"payload: {key} is missing")
    if not isinstance(payload["changes"], Mapping) or not payload["changes"]:
        raise LedgerError("payload: changes must name at least one setting")
    unknown = sorted(set(payload["changes"]) - set(EDITABLE))
    if unknown:
        raise LedgerError(f"not a ledger setting: {', '.join(unknown)}")


def apply(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """Write an approved change. Refused when the ledger no longer has the values the
    request was made against (someone changed the point meanwhile): approving a change
    must never overwrite one the approvers did not see."""
    validate(conn, payload)
    point_id = int(payload["point_id"])
    with conn.transaction():
        point = load_point(conn, point_id, lock=True)
        stale = [k for k, v in payload["before"].items() if point.get(k) != v]
        if stale:
            raise LedgerError(
                f"alarm point {point['tag']}.{point['condition']} changed since the request "
                f"({', '.join(sorted(stale))}); submit a new request"
            )
        changes = {k: _normalise(k, v) for k, v in payload["changes"].items()}
        conn.execute("SELECT set_config('hazwatch.approval', %s, true)", (KIND,))
        try:
            registers.update(
                conn,
                actor,
                "alarm_point",
                point_id,
                changes,
                reason=f"{KIND}: {payload.get('reason') or ''}".strip(),
            )
        finally:
            conn.execute("SELECT set_config('hazwatch.approval', '', true)")


def register_kind() -> None:
    """Make the engine know the kind (done on import; registering again is harmless)."""
    approvals.register_kind(KIND, title=TITLE, apply=apply, validate=validate)


register_kind()
