"""What panels read from the database, always inside the signed-in user's ``Scope``.

Tags are resolved first (``resolve_tags``: ids, names, variables -> the tags the scope allows);
every later query takes only those ids, so a tag outside the scope never reaches a panel even
when its id is typed into a URL or a definition.

    tags = resolve_tags(conn, scope, ["TEP-XMEAS07", 42, "$tag"], view_state)
    plan = source.choose(start, end)                     # rollup level + bucket width
    points = series(conn, plan, [t.id for t in tags])    # {tag_id: [(bucket, avg, min, max)]}
    values = reduce_values(conn, plan, ids, "last")      # {tag_id: value}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql

from dashboards.auth import Scope
from dashboards.components.variables import ViewState
from dashboards.panels.source import Plan
from dashboards.panels.spec import MAX_TAGS
from hazwatch.rollups.declare import relation

#: How far back the state timeline looks for the alarm state at the start of the range.
STATE_LOOKBACK: Final = timedelta(days=30)
SeriesPoints = dict[int, list[tuple[datetime, float | None, float | None, float | None]]]


@dataclass(frozen=True)
class TagInfo:
    id: int
    name: str
    description: str | None
    eng_unit: str | None
    enterprise_id: int
    unit_id: int | None


def resolve_tags(
    conn: psycopg.Connection, scope: Scope, refs: Sequence[int | str], state: ViewState
) -> list[TagInfo]:
    """The tags a panel shows, in the order of ``refs``; at most ``MAX_TAGS``.

    Names resolve within the enterprise variable when it is set, else in the whole scope;
    ``$tag`` is the tag variable's tags, ``$unit`` every tag of the unit variable's unit.
    """
    ids = [r for r in refs if isinstance(r, int)]
    names = [r for r in refs if isinstance(r, str) and not r.startswith("$")]
    if "$tag" in refs:
        ids.extend(state.var_ints("tag"))
    unit = state.var("unit") if "$unit" in refs else None
    enterprise = state.var("enterprise")
    cond, params = scope.condition("t.enterprise_id")
    query = sql.SQL(
        """
        SELECT t.id, t.name, t.description, t.eng_unit, t.enterprise_id, t.unit_id
        FROM registry.tag t
        WHERE {scope}
          AND (t.id = ANY(%s)
               OR (t.name = ANY(%s) AND (%s::integer IS NULL OR t.enterprise_id = %s::integer))
               OR (%s::integer IS NOT NULL AND t.unit_id = %s::integer
                   AND (%s::integer IS NULL OR t.enterprise_id = %s::integer)))
        ORDER BY t.name, t.id
        LIMIT %s
        """
    ).format(scope=cond)
    ent = int(enterprise) if enterprise else None
    uid = int(unit) if unit else None
    rows = conn.execute(
        query, (*params, ids, names, ent, ent, uid, uid, ent, ent, MAX_TAGS * 4)
    ).fetchall()
    found = [TagInfo(*r) for r in rows]
    order = {ref: i for i, ref in enumerate(ids + names)}

    def rank(tag: TagInfo) -> tuple[int, str]:
        return (min(order.get(tag.id, 10**6), order.get(tag.name, 10**6)), tag.name)

    return sorted(found, key=rank)[:MAX_TAGS]


def visible_tag(conn: psycopg.Connection, scope: Scope, tag_id: int) -> dict[str, Any] | None:
    """One tag with its enterprise and unit names, or None when out of scope or unknown."""
    cond, params = scope.condition("t.enterprise_id")
    row = conn.execute(
        sql.SQL(
            """
            SELECT t.id, t.name, t.description, t.eng_unit, t.range_low, t.range_high,
                   t.kind, t.source, e.name, u.name, t.enterprise_id, t.unit_id
            FROM registry.tag t
            JOIN registry.enterprise e ON e.id = t.enterprise_id
            LEFT JOIN registry.unit u ON u.id = t.unit_id
            WHERE t.id = %s AND {}
            """
        ).format(cond),
        (tag_id, *params),
    ).fetchone()
    if row is None:
        return None
    keys = (
        "id",
        "name",
        "description",
        "eng_unit",
        "range_low",
        "range_high",
        "kind",
        "source",
        "enterprise",
        "unit",
        "enterprise_id",
        "unit_id",
    )
    return dict(zip(keys, row, strict=True))


def series_sql(plan: Plan) -> sql.Composed:
    """``(bucket, tag_id, avg, min, max)`` per bucket of ``plan`` for ``tag_id = ANY(%s)``.

    From a rollup level the average is recombined from ``sum`` and ``n``, so it equals the
    average of the raw values of the bucket (not an average of averages).
    """
    if plan.is_raw:
        return sql.SQL(
            "SELECT time_bucket(%s, time) AS b, tag_id, avg(value), min(value), max(value)"
            " FROM ts.sample WHERE tag_id = ANY(%s) AND time >= %s AND time < %s"
            " GROUP BY 1, 2 ORDER BY 2, 1"
        )
    return sql.SQL(
        "SELECT time_bucket(%s, bucket) AS b, tag_id, sum(sum) / nullif(sum(n), 0),"
        " min(min), max(max)"
        " FROM {} WHERE tag_id = ANY(%s) AND bucket >= %s AND bucket < %s"
        " GROUP BY 1, 2 ORDER BY 2, 1"
    ).format(relation(plan.relation))


def series(conn: psycopg.Connection, plan: Plan, tag_ids: Sequence[int]) -> SeriesPoints:
    """Points of each tag (only buckets holding values; gaps stay gaps)."""
    out: SeriesPoints = {t: [] for t in tag_ids}
    if not tag_ids:
        return out
    rows = conn.execute(
        series_sql(plan), (plan.bucket, list(tag_ids), plan.start, plan.end)
    ).fetchall()
    for bucket, tag, avg, lo, hi in rows:
        out[tag].append((bucket, avg, lo, hi))
    return out


def reduce_values(
    conn: psycopg.Connection, plan: Plan, tag_ids: Sequence[int], how: str
) -> dict[int, float | None]:
    """One number per tag over the plan's window: the last value, or avg / min / max."""
    out: dict[int, float | None] = dict.fromkeys(tag_ids)
    if not tag_ids:
        return out
    if how == "last":
        rows = conn.execute(
            "SELECT t.id, s.value FROM unnest(%s::integer[]) AS t(id)"
            " LEFT JOIN LATERAL (SELECT value FROM ts.sample"
            "   WHERE tag_id = t.id AND time >= %s AND time < %s AND value IS NOT NULL"
            "   ORDER BY time DESC LIMIT 1) s ON true",
            (list(tag_ids), plan.start, plan.end),
        ).fetchall()
        out.update({tag: value for tag, value in rows})
        return out
    if how not in ("avg", "min", "max"):
        raise ValueError(f"unknown reducer {how!r}")
    if plan.is_raw:
        query = sql.SQL(
            "SELECT tag_id, avg(value), min(value), max(value) FROM ts.sample"
            " WHERE tag_id = ANY(%s) AND time >= %s AND time < %s GROUP BY tag_id"
        )
    else:
        query = sql.SQL(
            "SELECT tag_id, sum(sum) / nullif(sum(n), 0), min(min), max(max) FROM {}"
            " WHERE tag_id = ANY(%s) AND bucket >= %s AND bucket < %s GROUP BY tag_id"
        ).format(relation(plan.relation))
    pick = {"avg": 1, "min": 2, "max": 3}[how]
    for row in conn.execute(query, (list(tag_ids), plan.start, plan.end)):
        out[row[0]] = row[pick]
    return out


def alarm_events(
    conn: psycopg.Connection, tag_ids: Sequence[int], start: datetime, end: datetime
) -> list[tuple[int, str, datetime, str, str | None]]:
    """``(tag_id, condition, time, kind, priority)`` of ALM/RTN events: the latest of each
    condition before ``start`` (the state the range opens with), then those inside it."""
    if not tag_ids:
        return []
    return conn.execute(
        """
        (SELECT DISTINCT ON (tag_id, condition) tag_id, condition, time, kind, priority
         FROM alarm.event
         WHERE tag_id = ANY(%s) AND kind IN ('ALM', 'RTN') AND time < %s AND time >= %s
         ORDER BY tag_id, condition, time DESC)
        UNION ALL
        (SELECT tag_id, condition, time, kind, priority FROM alarm.event
         WHERE tag_id = ANY(%s) AND kind IN ('ALM', 'RTN') AND time >= %s AND time < %s)
        ORDER BY 1, 3
        """,
        (list(tag_ids), start, start - STATE_LOOKBACK, list(tag_ids), start, end),
    ).fetchall()


def open_alarm_counts(conn: psycopg.Connection, tag_ids: Sequence[int]) -> dict[int, int]:
    """Conditions of each tag whose latest ALM/RTN event (within a week) is an ALM."""
    if not tag_ids:
        return {}
    rows = conn.execute(
        """
        SELECT tag_id, count(*) FROM (
            SELECT DISTINCT ON (tag_id, condition) tag_id, kind FROM alarm.event
            WHERE tag_id = ANY(%s) AND kind IN ('ALM', 'RTN') AND time > now() - interval '7 days'
            ORDER BY tag_id, condition, time DESC) latest
        WHERE kind = 'ALM' GROUP BY tag_id
        """,
        (list(tag_ids),),
    ).fetchall()
    return {int(t): int(n) for t, n in rows}


def ledger(conn: psycopg.Connection, tag_id: int) -> list[tuple[Any, ...]]:
    """The alarm master database rows (A1) of a tag (call after ``visible_tag``)."""
    return conn.execute(
        "SELECT condition, limit_value, priority, category, deadband, on_delay_s, off_delay_s,"
        " enabled, is_interlock, cause, consequence, response"
        " FROM registry.alarm_point WHERE tag_id = %s ORDER BY condition",
        (tag_id,),
    ).fetchall()


def recent_events(conn: psycopg.Connection, tag_id: int, limit: int = 50) -> list[tuple[Any, ...]]:
    """The latest alarm events of a tag (call after ``visible_tag``)."""
    return conn.execute(
        "SELECT time, kind, condition, priority, value, limit_value, message, operator"
        " FROM alarm.event WHERE tag_id = %s ORDER BY time DESC LIMIT %s",
        (tag_id, limit),
    ).fetchall()


def variable_options(
    conn: psycopg.Connection, scope: Scope, state: ViewState
) -> dict[str, list[tuple[int, str]]]:
    """Choices of the enterprise, unit and tag variables, narrowed by the ones above."""
    cond, params = scope.condition("e.id")
    enterprises = conn.execute(
        sql.SQL(
            "SELECT e.id, e.name FROM registry.enterprise e WHERE {} AND EXISTS"
            " (SELECT 1 FROM registry.tag t WHERE t.enterprise_id = e.id) ORDER BY e.name LIMIT 500"
        ).format(cond),
        params,
    ).fetchall()
    ent = state.var("enterprise")
    ent_id = int(ent) if ent else None
    units = conn.execute(
        sql.SQL(
            "SELECT u.id, u.code || ' ' || u.name FROM registry.unit u"
            " JOIN registry.enterprise e ON e.id = u.enterprise_id"
            " WHERE {} AND (%s::integer IS NULL OR e.id = %s::integer) ORDER BY u.code LIMIT 500"
        ).format(cond),
        (*params, ent_id, ent_id),
    ).fetchall()
    unit = state.var("unit")
    unit_id = int(unit) if unit else None
    tags = conn.execute(
        sql.SQL(
            "SELECT t.id, t.name || coalesce(' ' || t.description, '') FROM registry.tag t"
            " JOIN registry.enterprise e ON e.id = t.enterprise_id"
            " WHERE {} AND (%s::integer IS NULL OR e.id = %s::integer)"
            " AND (%s::integer IS NULL OR t.unit_id = %s::integer) ORDER BY t.name LIMIT 1000"
        ).format(cond),
        (*params, ent_id, ent_id, unit_id, unit_id),
    ).fetchall()
    return {"enterprise": enterprises, "unit": units, "tag": tags}
