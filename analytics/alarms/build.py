"""The record builder job: alarm.event -> alarm.record, incremental (A3).

Each run, under an advisory lock (several schedulers may run):

1. raises the event threshold to ``now`` while holding ``SHARE ROW EXCLUSIVE`` on alarm.event
   for that short transaction, so every event either committed before (and is read below) or
   arrives later; a late one (time below the threshold) is logged in alarm.record_dirty by a
   trigger (a re-imported old log, a replayed spool);
2. finds the tags with events since the last run and the tags in the dirty log, each with the
   earliest time touched;
3. per tag, replays from the start of the oldest occurrence still open at that time (so an
   ACK or RTN reaches the record it belongs to), with the tag's shelve / suppress / service
   modes as the events before left them, and upserts the records on their key
   ``(tag_id, condition, raised)``: ``id`` and ``excluded`` survive, unchanged rows are not
   rewritten (so the rollups see only real changes), records no longer produced are deleted.

    with connect(settings, autocommit=True) as conn:
        result = build(conn)          # -> BuildResult(tags=12, written=40, deleted=0, ...)

Bounds, by design: an occurrence raised more than ``REOPEN_LOOKBACK`` before a late event and
already returned to normal is not re-derived; modes are read from the ``MODE_LOOKBACK`` before
the replay starts (shelving is time-limited; a tag out of service longer re-appears in
service for records older than that).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from analytics.alarms.records import (
    MODE_EVENTS,
    AlarmRecord,
    Modes,
    PointInfo,
    ShiftCalendar,
    TagInfo,
    replay,
)
from hazwatch.errors import HazwatchError
from ingest.types import AlarmEvent

if TYPE_CHECKING:
    from hazwatch.scheduler import Job

LOCK_KEY = "hazwatch.alarm_records"
REOPEN_LOOKBACK = timedelta(days=7)
MODE_LOOKBACK = timedelta(days=90)
#: Tags replayed per transaction.
BATCH_TAGS = 200
_MODE_KINDS = ["SHELVE", "UNSHELVE", "SUPPRESS", "UNSUPPRESS", "OOS", "INS"]

#: Columns the builder writes (everything but ``id``, ``excluded`` and ``built_at``).
WRITE_COLUMNS = (
    "raised", "tag_id", "condition", "point_id", "enterprise_id", "unit_id", "equipment_id",
    "shift_team_id", "priority", "alarm_type", "limit_value", "value", "message", "acked",
    "acked_by", "returned", "cleared", "realarms", "shelved", "suppressed", "out_of_service",
    "annunciated",
)  # fmt: skip
_STAGE_TYPES = (
    "timestamptz", "int4", "text", "int4", "int4", "int4", "int4", "int4", "text", "text",
    "float8", "float8", "text", "timestamptz", "text", "timestamptz", "timestamptz", "int4",
    "bool", "bool", "bool", "bool",
)  # fmt: skip


@dataclass
class BuildResult:
    watermark: datetime | None
    tags: int = 0
    written: int = 0
    deleted: int = 0
    duration_s: float = 0.0


def record_row(rec: AlarmRecord) -> tuple[Any, ...]:
    return tuple(getattr(rec, c) for c in WRITE_COLUMNS)


def build(conn: psycopg.Connection, now: datetime | None = None) -> BuildResult:
    """Bring alarm.record up to date with alarm.event; safe to run concurrently and often."""
    if not conn.autocommit:
        raise HazwatchError("the record builder needs an autocommit connection")
    now = now or datetime.now(UTC)
    started = time.monotonic()
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_KEY,))
    try:
        result = _build_locked(conn, now)
    except (psycopg.Error, HazwatchError) as exc:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.execute("UPDATE alarm.record_build SET last_error = %s", (str(exc)[:2000],))
        raise HazwatchError(f"building alarm records failed: {exc}".strip()) from exc
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK_KEY,))
    result.duration_s = time.monotonic() - started
    conn.execute(
        "UPDATE alarm.record_build SET last_run_at = now(), last_duration_ms = %s,"
        " last_tags = %s, last_records = %s, last_error = NULL, runs = runs + 1",
        (int(result.duration_s * 1000), result.tags, result.written),
    )
    return result


def _threshold_sql(value: datetime) -> sql.Composed:
    body = f"SELECT timestamptz '{value.astimezone(UTC).isoformat()}'"
    return sql.SQL(
        "CREATE OR REPLACE FUNCTION alarm.record_threshold() RETURNS timestamptz"
        " LANGUAGE sql STABLE PARALLEL SAFE AS {}"
    ).format(sql.Literal(body))


def _build_locked(conn: psycopg.Connection, now: datetime) -> BuildResult:
    row = conn.execute("SELECT watermark FROM alarm.record_build").fetchone()
    wm: datetime | None = row[0] if row else None
    target = max(now, wm) if wm is not None else now
    with conn.transaction():
        conn.execute("LOCK TABLE alarm.event IN SHARE ROW EXCLUSIVE MODE")
        behind = conn.execute("SELECT alarm.record_threshold() < %s", (target,)).fetchone()
        if behind and behind[0]:
            conn.execute(_threshold_sql(target))
    touched: dict[int, datetime] = {}
    if wm is None:
        new = conn.execute(
            "SELECT tag_id, min(time) FROM alarm.event WHERE time < %s GROUP BY tag_id", (target,)
        )
    else:
        new = conn.execute(
            "SELECT tag_id, min(time) FROM alarm.event WHERE time >= %s AND time < %s"
            " GROUP BY tag_id",
            (wm, target),
        )
    for tag_id, t in new:
        touched[tag_id] = t
    dirty = conn.execute("SELECT id, tag_id, time FROM alarm.record_dirty").fetchall()
    for _, tag_id, t in dirty:
        touched[tag_id] = min(t, touched.get(tag_id, t))
    result = BuildResult(watermark=target, tags=len(touched))
    items = sorted(touched.items())
    for i in range(0, len(items), BATCH_TAGS):
        with conn.transaction():
            written, deleted = _rebuild_tags(conn, dict(items[i : i + BATCH_TAGS]), target)
            result.written += written
            result.deleted += deleted
    with conn.transaction():
        if dirty:
            conn.execute(
                "DELETE FROM alarm.record_dirty WHERE id = ANY(%s)", ([d[0] for d in dirty],)
            )
        conn.execute("UPDATE alarm.record_build SET watermark = %s", (target,))
    return result


def _rebuild_tags(
    conn: psycopg.Connection, touched: dict[int, datetime], target: datetime
) -> tuple[int, int]:
    tag_ids = list(touched)
    times = [touched[t] for t in tag_ids]
    # Replay from the oldest occurrence whose state may still change at the touched time.
    starts = dict(
        conn.execute(
            """
            SELECT d.tag_id, least(
                d.t0,
                (SELECT min(r.raised) FROM alarm.record r
                 WHERE r.returned IS NULL AND r.tag_id = d.tag_id AND r.raised < d.t0),
                (SELECT min(r.raised) FROM alarm.record r
                 WHERE r.tag_id = d.tag_id AND r.raised < d.t0
                   AND r.raised >= d.t0 - %s::interval
                   AND (r.cleared IS NULL OR r.cleared >= d.t0 OR r.returned >= d.t0)))
            FROM unnest(%s::int[], %s::timestamptz[]) AS d(tag_id, t0)
            """,
            (REOPEN_LOOKBACK, tag_ids, times),
        ).fetchall()
    )
    start_list = [starts[t] for t in tag_ids]
    infos = _tag_infos(conn, tag_ids)
    points = _points(conn, tag_ids)
    modes = _modes(conn, tag_ids, start_list)
    shifts = _shifts(conn, {i.enterprise_id for i in infos.values() if i.enterprise_id},
                     min(start_list), target)  # fmt: skip
    events: dict[int, list[AlarmEvent]] = defaultdict(list)
    for r in conn.execute(
        """
        SELECT e.time, e.tag_id, e.kind, e.condition, e.point_id, e.priority, e.category,
               e.limit_value, e.value, e.message, e.operator, e.source, e.source_event_id
        FROM unnest(%s::int[], %s::timestamptz[]) AS d(tag_id, t0)
        JOIN alarm.event e ON e.tag_id = d.tag_id AND e.time >= d.t0 AND e.time < %s
        """,
        (tag_ids, start_list, target),
    ):
        events[r[1]].append(AlarmEvent(*r))
    records: list[AlarmRecord] = []
    for tag_id in tag_ids:
        info = infos.get(tag_id, TagInfo(tag_id, f"#{tag_id}"))
        cal = shifts.get(info.enterprise_id, ShiftCalendar()) if info.enterprise_id else None
        records += replay(
            events.get(tag_id, []),
            tag=info,
            points=points.get(tag_id, {}),
            shifts=cal,
            modes=modes.get(tag_id, Modes()),
        )
    return _write(conn, records, tag_ids, start_list, target)


def _tag_infos(conn: psycopg.Connection, tag_ids: list[int]) -> dict[int, TagInfo]:
    # A tag without a unit in the register falls back to the unit the DCS log named
    # (imports keep it in the event's attributes), matched by code or name.
    rows = conn.execute(
        """
        SELECT t.id, t.name, t.enterprise_id, coalesce(t.unit_id, eq.unit_id, (
                   SELECT u.id FROM registry.unit u
                   WHERE u.enterprise_id = t.enterprise_id AND (u.code = a.unit OR u.name = a.unit)
                   ORDER BY u.id LIMIT 1)),
               t.equipment_id
        FROM registry.tag t
        LEFT JOIN registry.equipment eq ON eq.id = t.equipment_id
        LEFT JOIN LATERAL (
            SELECT e.attributes ->> 'unit' AS unit FROM alarm.event e
            WHERE e.tag_id = t.id AND e.attributes ? 'unit' AND t.unit_id IS NULL
            ORDER BY e.time DESC LIMIT 1) a ON true
        WHERE t.id = ANY(%s)
        """,
        (tag_ids,),
    ).fetchall()
    return {r[0]: TagInfo(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def _points(conn: psycopg.Connection, tag_ids: list[int]) -> dict[int, dict[str, PointInfo]]:
    out: dict[int, dict[str, PointInfo]] = defaultdict(dict)
    for tag_id, cond, pid, prio, cat, limit in conn.execute(
        "SELECT tag_id, condition, id, priority, category, limit_value"
        " FROM registry.alarm_point WHERE tag_id = ANY(%s)",
        (tag_ids,),
    ):
        out[tag_id][cond] = PointInfo(pid, prio, cat, limit)
    return out


def _modes(
    conn: psycopg.Connection, tag_ids: list[int], starts: list[datetime]
) -> dict[int, Modes]:
    out: dict[int, Modes] = defaultdict(Modes)
    for tag_id, _t, kind, cond in conn.execute(
        """
        SELECT e.tag_id, e.time, e.kind, e.condition
        FROM unnest(%s::int[], %s::timestamptz[]) AS d(tag_id, t0)
        JOIN alarm.event e ON e.tag_id = d.tag_id AND e.time < d.t0
                          AND e.time >= d.t0 - %s::interval AND e.kind = ANY(%s)
        ORDER BY e.tag_id, e.time
        """,
        (tag_ids, starts, MODE_LOOKBACK, _MODE_KINDS),
    ):
        mode, on = MODE_EVENTS[kind]
        out[tag_id].set(cond or "", mode, on)
    return out


def _shifts(
    conn: psycopg.Connection, enterprises: Iterable[int], lo: datetime, hi: datetime
) -> dict[int, ShiftCalendar]:
    spans: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    far = datetime(9999, 1, 1, tzinfo=UTC)
    for ent, start, end, team in conn.execute(
        "SELECT enterprise_id, lower(during), upper(during), shift_team_id FROM registry.shift"
        " WHERE enterprise_id = ANY(%s) AND during && tstzrange(%s, %s)",
        (list(enterprises), lo, hi),
    ):
        first = start or datetime(1, 1, 1, tzinfo=UTC)
        spans[ent].append((first, end or far, team))
    return {ent: ShiftCalendar(s) for ent, s in spans.items()}


def _write(
    conn: psycopg.Connection,
    records: list[AlarmRecord],
    tag_ids: list[int],
    starts: list[datetime],
    target: datetime,
) -> tuple[int, int]:
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS record_stage ({}) ON COMMIT DELETE ROWS")
        .format(sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
            for c, t in zip(WRITE_COLUMNS, _STAGE_TYPES, strict=True)
        ))
    )  # fmt: skip
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in WRITE_COLUMNS)
    with conn.cursor() as cur:
        with cur.copy(
            sql.SQL("COPY pg_temp.record_stage ({}) FROM STDIN (FORMAT BINARY)").format(cols)
        ) as copy:
            copy.set_types(list(_STAGE_TYPES))
            for rec in records:
                copy.write_row(record_row(rec))
        deleted = cur.execute(
            """
            DELETE FROM alarm.record r
            USING unnest(%s::int[], %s::timestamptz[]) AS d(tag_id, t0)
            WHERE r.tag_id = d.tag_id AND r.raised >= d.t0 AND r.raised < %s
              AND NOT EXISTS (SELECT 1 FROM pg_temp.record_stage s WHERE s.tag_id = r.tag_id
                              AND s.condition = r.condition AND s.raised = r.raised)
            """,
            (tag_ids, starts, target),
        ).rowcount
        keyless = [c for c in WRITE_COLUMNS if c not in ("tag_id", "condition", "raised")]
        sets = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in keyless
        )
        old = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in keyless)
        new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in keyless)
        # A new record of a tag under an approved, open exclusion (A18) starts out excluded;
        # rebuilding an existing record never touches ``excluded``.
        written = cur.execute(
            sql.SQL(
                "INSERT INTO alarm.record AS r ({cols}, excluded) SELECT {cols}, EXISTS ("
                "SELECT 1 FROM alarm.exclusion x WHERE x.scope = 'tag' AND x.revoked_at IS NULL"
                " AND x.tag_id = s.tag_id AND (x.condition IS NULL OR x.condition = s.condition)"
                " AND (x.starts IS NULL OR s.raised >= x.starts)"
                " AND (x.ends IS NULL OR s.raised < x.ends)) FROM pg_temp.record_stage s"
                " ON CONFLICT (tag_id, condition, raised) DO UPDATE SET {sets}, built_at = now()"
                " WHERE ({old}) IS DISTINCT FROM ({new})"
            ).format(cols=cols, sets=sets, old=old, new=new)
        ).rowcount
    return max(written, 0), max(deleted, 0)


#: How often the scheduler turns new alarm events into records.
BUILD_EVERY = timedelta(seconds=30)


def record_builder_job() -> Job:
    """The scheduler job running ``build`` every ``BUILD_EVERY``."""
    from hazwatch.scheduler import Job

    def run(conn: psycopg.Connection) -> str:
        res = build(conn)
        return f"{res.tags} tags, {res.written} records written, {res.deleted} deleted"

    return Job("alarm records", BUILD_EVERY, run)
