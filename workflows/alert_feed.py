"""The ``alert`` feed (P13, R5, R8, R9): gas-detector, pump and process-rule alerts upward.

These alarms are alerts of the alerting engine (``workflow.alert``), not alarm events, so the
``alarm_event`` feed does not carry them. Sending side: a deferred trigger on
``workflow.alert_history`` (``exchange.enqueue_alert`` in sql/definitions/exchange.sql) queues,
in the transaction that changed the alert, a snapshot of it after every transition, level
change, acknowledgement and closing. Categories sent: ``gas`` (rule alerts on gas detectors),
``process`` (other rule alerts), ``pump`` (vibration strategies), ``pump_health`` (hardware
self-diagnosis). Video alarms have their own reviewed feed, process-alarm escalations go up as
``alarm_event``, contractor positioning alerts carry personal data and stay home.

Receiving side (``workflows.upward_receive.HANDLERS["alert"]``)::

    apply_alert(conn, token_info, item.data)     # in receive()'s transaction

files the snapshot as an alert of the origin enterprise: source ``exchange``, key and
``origin_key`` the origin's identity of the incident, ``origin_seq`` the snapshot's number.
A snapshot older than the one stored (a retried item arriving after a newer one) changes
nothing, so an alert never moves backwards. Received alerts have no escalation policy and
``workflows.alerting.escalate`` skips them: the people of the origin enterprise were notified
there; here they are for statistics (R8). The item is forwarded unchanged (same key), so a
city passes its enterprises' alerts on to the province.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg
from psycopg.types.json import Jsonb

from workflows.feed_items import aware_time
from workflows.upward import enqueue

if TYPE_CHECKING:
    from hazwatch.tokens import TokenInfo

KIND: Final = "alert"
#: Categories the feed carries (exchange.enqueue_alert sends these only).
CATEGORIES: Final = ("gas", "process", "pump", "pump_health")
#: Why the other categories are refused when they arrive anyway.
NOT_CARRIED: Final = {
    "video": "video alarms go up on the video_alarm feed after human review (V20, R7)",
    "process_alarm": "process alarms go up as alarm_event",
    "positioning": "contractor positioning alerts carry personal data and stay in the enterprise",
}
PRIORITIES: Final = ("emergency", "high", "low")
LEVELS: Final = ("warning", "alarm", "danger")
STATES: Final = ("pending", "firing", "resolved", "nodata", "error", "normal")
MAX_TEXT: Final = 2000
MAX_LABELS: Final = 50
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _reject(message: str) -> Exception:
    from workflows.upward_receive import ItemRejected  # it imports this module: import late

    return ItemRejected(f"alert: {message}")


def _text(data: dict[str, Any], field: str, *, required: bool = True, limit: int = 500) -> str:
    v = data.get(field)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise _reject(f"{field} must be non-empty text")
    if len(v) > limit or "\x00" in v:
        raise _reject(f"{field} is longer than {limit} characters or holds a NUL")
    return v


def _time(data: dict[str, Any], field: str, *, required: bool = False) -> datetime | None:
    v = data.get(field)
    if v is None and not required:
        return None
    return aware_time(v, field, _reject)


def _choice(data: dict[str, Any], field: str, allowed: tuple[str, ...], null: bool = False) -> Any:
    v = data.get(field)
    if v is None and null:
        return None
    if v not in allowed:
        raise _reject(f"{field} {v!r:.40}: one of {', '.join(allowed)}")
    return v


def parse(data: dict[str, Any]) -> dict[str, Any]:
    """The item's fields checked (ItemRejected names the first bad one), as stored here.

    >>> parse({"origin_key": "E1|pump|strategy:3|2026-11-01T00:00:00.000000Z", "seq": 7,
    ...        "key": "E1|pump|strategy:3|2026-11-01T00:00:00.000000Z|7",
    ...        "enterprise_code": "E1", "category": "pump", "source": "pump",
    ...        "priority": "high", "level": "alarm", "state": "firing",
    ...        "started_at": "2026-11-01T08:00:00+08:00", "labels": {}})["seq"]
    7
    """
    category = data.get("category")
    if category in NOT_CARRIED:
        raise _reject(f"category {category!r} is not carried by this feed: {NOT_CARRIED[category]}")
    category = _choice(data, "category", CATEGORIES)
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise _reject(f"seq must be a positive integer, not {seq!r:.20}")
    origin = _text(data, "origin_key")
    if data.get("key") != f"{origin}|{seq}":
        raise _reject("key must be '<origin_key>|<seq>'")
    owners = {data.get("enterprise_code"), data.get("enterprise_name")} - {None, ""}
    if origin.split("|", 1)[0] not in owners:
        raise _reject("origin_key must begin with the enterprise's code (or name)")
    source = _text(data, "source", limit=41)
    if not _SOURCE.match(source):
        raise _reject(f"source {source!r:.40} is not a source code")
    value = data.get("value")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise _reject(f"value must be a finite number or null, not {value!r:.20}")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise _reject(f"labels must be an object of at most {MAX_LABELS} text values")
    for k, v in labels.items():
        if not isinstance(v, str) or len(k) > 100 or len(v) > 500 or "\x00" in k + v:
            raise _reject(f"label {k!r:.40} must be text (keys ≤ 100, values ≤ 500 characters)")
    out = {
        "origin_key": origin,
        "seq": seq,
        "category": category,
        "source": source,
        "priority": _choice(data, "priority", PRIORITIES),
        "level": _choice(data, "level", LEVELS, null=True),
        "state": _choice(data, "state", STATES),
        "value": float(value) if value is not None else None,
        "summary": _text(data, "summary", required=False, limit=MAX_TEXT),
        "started_at": _time(data, "started_at", required=True),
        **{f: _time(data, f) for f in ("fired_at", "resolved_at", "acked_at", "closed_at")},
    }
    # What the origin's local pages find an alert by, kept as labels here (the alerts page and
    # silences of this level read labels).
    here = {str(k): v for k, v in labels.items()}
    here.setdefault("source", source)
    for label, field in (("unit", "unit_code"), ("parameter", "tag")):
        v = data.get(field)
        if isinstance(v, str) and v:
            here.setdefault(label, v[:500])
    out["labels"] = here
    return out


_UPSERT = """
INSERT INTO workflow.alert (source, key, enterprise_id, priority, labels, state, level, value,
    summary, started_at, fired_at, resolved_at, acked_at, closed_at, category, origin_key,
    origin_seq, updated_at)
VALUES ('exchange', %(origin_key)s, %(enterprise_id)s, %(priority)s, %(labels)s, %(state)s,
    %(level)s, %(value)s, %(summary)s, %(started_at)s, %(fired_at)s, %(resolved_at)s,
    %(acked_at)s, %(closed_at)s, %(category)s, %(origin_key)s, %(seq)s, now())
ON CONFLICT (origin_key) WHERE origin_key IS NOT NULL DO UPDATE SET
    priority = EXCLUDED.priority, labels = EXCLUDED.labels, state = EXCLUDED.state,
    level = EXCLUDED.level, value = EXCLUDED.value, summary = EXCLUDED.summary,
    fired_at = EXCLUDED.fired_at, resolved_at = EXCLUDED.resolved_at,
    acked_at = EXCLUDED.acked_at, closed_at = EXCLUDED.closed_at,
    category = EXCLUDED.category, origin_seq = EXCLUDED.origin_seq, updated_at = now()
WHERE workflow.alert.origin_seq < EXCLUDED.origin_seq
  AND workflow.alert.enterprise_id = EXCLUDED.enterprise_id
RETURNING id
"""


def store(conn: psycopg.Connection, enterprise_id: int, alert: dict[str, Any]) -> int | None:
    """Insert or update the received alert; its id, or None when a newer snapshot is stored."""
    params = {**alert, "enterprise_id": enterprise_id, "labels": Jsonb(alert["labels"])}
    try:
        with conn.transaction():
            row = conn.execute(_UPSERT, params).fetchone()
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        raise _reject(f"refused: {exc.diag.message_primary}") from None
    if row is not None:
        return int(row[0])
    owner = conn.execute(
        "SELECT enterprise_id FROM workflow.alert WHERE origin_key = %s", (alert["origin_key"],)
    ).fetchone()
    if owner is not None and owner[0] != enterprise_id:
        raise _reject("origin_key belongs to an alert of another enterprise here")
    return None


def apply_alert(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    """Receiving side: check scope and fields, store (newer snapshots only), forward."""
    from workflows.upward_receive import _enterprise_in_scope

    enterprise_id = _enterprise_in_scope(conn, info, data)
    store(conn, enterprise_id, parse(data))
    # Forwarded even when older than what is stored: the level above decides the same way.
    enqueue(conn, KIND, str(data["key"]), data)
