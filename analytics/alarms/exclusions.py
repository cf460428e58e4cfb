"""A18 exclusion approval: alarms taken out of statistics and KPIs once approved.

Two kinds of request (annex 4, 3.4): by **tag** (a ledger tag whose alarms are abnormal, e.g. a
transmitter under repair: all its records, or those of one condition, raised in an optional
period ``[starts, ends)``), or by **record** (one or more records picked from the alarm list).
A request is an approval instance of kind ``alarm.exclusion``; on the last approval ``apply``
writes the exclusions (``alarm.exclusion``, audited) and sets ``alarm.record.excluded`` on the
records they cover, which every statistic and KPI leaves out (``AlarmRecord.counted``; the
rollups see the update as a change of those buckets). Records built later for an excluded tag
are marked by ``mark_excluded`` (the record builder's and the scheduler's job).

    inst = request_tag_exclusion(conn, engineer, tag_id=7, condition="H",
                                 starts=t0, ends=t1, reason="变送器检修")
    inst = request_record_exclusion(conn, engineer, record_ids=[101, 102], reason="联锁测试")
    mark_excluded(conn)                        # -> records newly marked
    revoke(conn, admin, exclusion_id, reason="检修完成")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from analytics.alarms.records import AlarmRecord
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor, acting
from workflows import approvals
from workflows.feed_items import aware_time

KIND: Final = "alarm.exclusion"
TITLE: Final = {"zh": "报警剔除审批", "en": "Alarm exclusion"}
MAX_RECORDS: Final = 1000


class ExclusionError(HazwatchError):
    """A request or exclusion that is refused; the message names the field."""


@dataclass(frozen=True)
class Exclusion:
    scope: str  # tag | record
    tag_id: int
    condition: str | None = None
    record_id: int | None = None
    starts: datetime | None = None
    ends: datetime | None = None
    id: int | None = None

    def covers(self, r: AlarmRecord) -> bool:
        """Whether this exclusion takes the record out of statistics.

        >>> Exclusion("tag", 7, "H").covers(record_of_tag_7_H)
        True
        """
        if self.scope == "record":
            return r.id is not None and r.id == self.record_id
        return (
            r.tag_id == self.tag_id
            and (self.condition is None or r.condition == self.condition)
            and (self.starts is None or r.raised >= self.starts)
            and (self.ends is None or r.raised < self.ends)
        )


def apply_to(records: Iterable[AlarmRecord], exclusions: Sequence[Exclusion]) -> list[bool]:
    """Per record, whether any exclusion covers it (pure; ``mark_excluded`` in SQL)."""
    return [any(x.covers(r) for x in exclusions) for r in records]


def check_tag_payload(payload: Mapping[str, Any]) -> None:
    if not isinstance(payload.get("tag_id"), int):
        raise ExclusionError("tag_id: a tag of the ledger is required")
    starts, ends = _time(payload, "starts"), _time(payload, "ends")
    if starts is not None and ends is not None and starts >= ends:
        raise ExclusionError("ends: must be after starts")


def _time(payload: Mapping[str, Any], key: str) -> datetime | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return aware_time(value, key, ExclusionError)


def validate(conn: psycopg.Connection | None, payload: Mapping[str, Any]) -> None:
    """Shape of a request's payload (the engine calls it before submitting)."""
    scope = payload.get("scope")
    if scope == "tag":
        check_tag_payload(payload)
    elif scope == "record":
        recs = payload.get("records")
        if not isinstance(recs, list) or not recs:
            raise ExclusionError("records: pick at least one record")
        if len(recs) > MAX_RECORDS:
            raise ExclusionError(f"records: at most {MAX_RECORDS} in one request")
    else:
        raise ExclusionError(f"scope: 'tag' or 'record', not {scope!r}")
    if not str(payload.get("reason") or "").strip():
        raise ExclusionError("reason: say why these alarms should not count")


def _submit(conn: psycopg.Connection, actor: Actor, enterprise_id: int, subject: str,
            payload: dict[str, Any]) -> int:  # fmt: skip
    validate(conn, payload)
    payload["requested_by"] = actor.name
    return int(
        approvals.submit(
            conn, actor, kind=KIND, enterprise_id=enterprise_id, subject=subject[:200],
            payload=payload,
        )
    )  # fmt: skip


def request_tag_exclusion(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    tag_id: int,
    reason: str,
    condition: str | None = None,
    starts: datetime | None = None,
    ends: datetime | None = None,
) -> int:
    """Request that the tag's alarms (one condition or all, in a period or always) not count."""
    row = conn.execute(
        "SELECT name, enterprise_id FROM registry.tag WHERE id = %s", (tag_id,)
    ).fetchone()
    if row is None:
        raise ExclusionError(f"tag_id: no tag with id {tag_id}")
    payload = {
        "scope": "tag",
        "tag_id": tag_id,
        "tag": row[0],
        "condition": condition or None,
        "starts": starts.isoformat() if starts else None,
        "ends": ends.isoformat() if ends else None,
        "reason": reason.strip(),
    }
    check_tag_payload(payload)
    what = f"{row[0]}.{condition}" if condition else row[0]
    period = f" {starts:%Y-%m-%d %H:%M}–{ends:%Y-%m-%d %H:%M}" if starts and ends else ""
    return _submit(conn, actor, int(row[1]), f"剔除 {what}{period}: {reason.strip()}", payload)


def request_record_exclusion(
    conn: psycopg.Connection, actor: Actor, *, record_ids: Sequence[int], reason: str
) -> int:
    """Request that these records (all of one enterprise) not count."""
    ids = sorted(set(record_ids))
    if not ids:
        raise ExclusionError("records: pick at least one record")
    rows = conn.execute(
        "SELECT r.id, r.tag_id, r.condition, r.raised, r.enterprise_id, t.name"
        " FROM alarm.record r LEFT JOIN registry.tag t ON t.id = r.tag_id"
        " WHERE r.id = ANY(%s) ORDER BY r.raised",
        (ids,),
    ).fetchall()
    missing = sorted(set(ids) - {r[0] for r in rows})
    if missing:
        raise ExclusionError(f"records: no record with id {', '.join(map(str, missing))}")
    enterprises = {r[4] for r in rows}
    if len(enterprises) != 1 or None in enterprises:
        raise ExclusionError("records: pick records of one enterprise per request")
    payload = {
        "scope": "record",
        "records": [
            {"record_id": i, "tag_id": t, "condition": c, "raised": raised.isoformat()}
            for i, t, c, raised, _e, _n in rows
        ],
        "reason": reason.strip(),
    }
    subject = f"剔除 {len(rows)} 条报警记录 ({rows[0][5]}…): {reason.strip()}"
    return _submit(conn, actor, int(rows[0][4]), subject, payload)


_INSERT = """
INSERT INTO alarm.exclusion (enterprise_id, scope, tag_id, condition, record_id, starts, ends,
                             reason, requested_by, approved_by)
SELECT t.enterprise_id, %s, t.id, %s, %s, %s, %s, %s, %s, %s
FROM registry.tag t WHERE t.id = %s
RETURNING id
"""


def apply(conn: psycopg.Connection, actor: Actor, payload: Mapping[str, Any]) -> None:
    """Write the approved exclusions and mark the records they cover."""
    validate(conn, payload)
    reason = str(payload["reason"]).strip()
    requested = payload.get("requested_by")
    ids: list[int] = []
    with acting(conn, actor, f"{KIND}: {reason}"):
        if payload["scope"] == "tag":
            items = [
                ("tag", payload.get("condition"), None, _time(payload, "starts"),
                 _time(payload, "ends"), int(payload["tag_id"]))
            ]  # fmt: skip
        else:
            items = [
                ("record", r["condition"], int(r["record_id"]), _time(r, "raised"), None,
                 int(r["tag_id"]))
                for r in payload["records"]
            ]  # fmt: skip
        for scope, cond, rec, starts, ends, tag in items:
            row = conn.execute(
                _INSERT, (scope, cond, rec, starts, ends, reason, requested, actor.name, tag)
            ).fetchone()
            if row is None:
                raise ExclusionError(f"tag_id: no tag with id {tag}")
            ids.append(int(row[0]))
        mark_excluded(conn, exclusion_ids=ids)


_MARK = """
UPDATE alarm.record r SET excluded = true
FROM alarm.exclusion x
WHERE x.revoked_at IS NULL AND r.tag_id = x.tag_id
  AND CASE WHEN x.scope = 'record' THEN r.id = x.record_id
           ELSE (x.condition IS NULL OR r.condition = x.condition)
                AND (x.starts IS NULL OR r.raised >= x.starts)
                AND (x.ends IS NULL OR r.raised < x.ends) END
  AND NOT r.excluded
  AND (%(ids)s::int[] IS NULL OR x.id = ANY(%(ids)s))
  AND (%(since)s::timestamptz IS NULL OR r.raised >= %(since)s)
"""

# The revoked exclusion's records, unless another active exclusion still covers them.
_UNMARK = """
UPDATE alarm.record r SET excluded = false
FROM alarm.exclusion x0
WHERE x0.id = %(id)s AND r.excluded AND r.tag_id = x0.tag_id
  AND CASE WHEN x0.scope = 'record' THEN r.id = x0.record_id
           ELSE (x0.condition IS NULL OR r.condition = x0.condition)
                AND (x0.starts IS NULL OR r.raised >= x0.starts)
                AND (x0.ends IS NULL OR r.raised < x0.ends) END
  AND NOT EXISTS (
      SELECT 1 FROM alarm.exclusion x
      WHERE x.revoked_at IS NULL AND r.tag_id = x.tag_id
        AND CASE WHEN x.scope = 'record' THEN r.id = x.record_id
                 ELSE (x.condition IS NULL OR r.condition = x.condition)
                      AND (x.starts IS NULL OR r.raised >= x.starts)
                      AND (x.ends IS NULL OR r.raised < x.ends) END)
"""


def mark_excluded(
    conn: psycopg.Connection,
    *,
    exclusion_ids: Sequence[int] | None = None,
    since: datetime | None = None,
) -> int:
    """Set ``excluded`` on records covered by active exclusions (all, or these); returns how
    many records changed. ``since`` limits it to records raised from then (the builder's
    newest records)."""
    cur = conn.execute(
        _MARK,
        {"ids": None if exclusion_ids is None else list(exclusion_ids), "since": since},
    )
    return cur.rowcount


def revoke(conn: psycopg.Connection, actor: Actor, exclusion_id: int, *, reason: str) -> int:
    """End an exclusion (administrators): its records count again unless another active
    exclusion covers them. Returns how many records count again."""
    if not reason.strip():
        raise ExclusionError("reason: say why the exclusion ends")
    with acting(conn, actor, f"{KIND} revoked: {reason.strip()}"):
        row = conn.execute(
            "UPDATE alarm.exclusion SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL"
            " RETURNING id",
            (exclusion_id,),
        ).fetchone()
        if row is None:
            raise ExclusionError(f"no active exclusion with id {exclusion_id}")
        cur = conn.execute(_UNMARK, {"id": exclusion_id})
        return cur.rowcount


def active_exclusions(
    conn: psycopg.Connection, enterprise_ids: Sequence[int] | None
) -> list[dict[str, Any]]:
    """Active exclusions (of these enterprises, or all) with the tag name, newest first."""
    rows = conn.execute(
        """SELECT x.id, x.scope, x.tag_id, t.name, x.condition, x.record_id, x.starts, x.ends,
                  x.reason, x.requested_by, x.approved_by, x.created_at, x.enterprise_id
           FROM alarm.exclusion x JOIN registry.tag t ON t.id = x.tag_id
           WHERE x.revoked_at IS NULL
             AND (%(ents)s::int[] IS NULL OR x.enterprise_id = ANY(%(ents)s))
           ORDER BY x.created_at DESC, x.id DESC LIMIT 500""",
        {"ents": None if enterprise_ids is None else list(enterprise_ids)},
    ).fetchall()
    keys = ("id", "scope", "tag_id", "tag", "condition", "record_id", "starts", "ends",
            "reason", "requested_by", "approved_by", "created_at", "enterprise_id")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def exclusion_job() -> Any:
    """The scheduler job marking records built after their exclusion was approved."""
    from datetime import timedelta

    from hazwatch.scheduler import Job

    def run(conn: psycopg.Connection) -> str:
        return f"{mark_excluded(conn)} records excluded"

    return Job("alarm exclusions", timedelta(minutes=1), run)


def register_kind() -> None:
    """Make the engine know the kind (done on import; registering again is harmless)."""
    approvals.register_kind(KIND, title=TITLE, apply=apply, validate=validate)


register_kind()
