"""Upward feeds of the risk monitoring data (R2-R5, A20, R9): unit state changes, daily alarm
KPIs and hourly data completeness; each stored here in hazard.* and queued on its feed, and
stored in the same tables above, under the origin enterprise.

    hazard_state   queued by workflows.hazard_units.refresh_states on every state change
    kpi_daily      kpi_daily_job: yesterday's (Asia/Shanghai) A19 counting KPIs per enterprise
                   and unit, from analytics.alarms.kpis.counting_from_rollups
    freshness      freshness_job: the last whole hour's tags / fresh tags per enterprise

    jobs = hazard_jobs()                       # the scheduler's three jobs
    HANDLERS["kpi_daily"] = apply_kpi_daily    # workflows.upward_receive (the receiving side)

An instance computes KPIs and completeness only for enterprises with data of its own (tags
not received from below); what it receives from below it stores and forwards unchanged (the
same key), so a city passes its enterprises' items on to the province.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from hazwatch.registers import Actor
from workflows.feed_items import aware_time, forward, origin_of, queue

if TYPE_CHECKING:
    from hazwatch.scheduler import Job
    from hazwatch.tokens import TokenInfo
    from workflows.hazard_units import StateChange

TZ: Final = ZoneInfo("Asia/Shanghai")
KPI_FIELDS: Final = ("alarms", "acked_30s", "handled_30min", "standing_over_24h", "peak_10min")
#: Days before yesterday that the KPI job fills in when they are missing (a scheduler that was
#: down over a weekend catches up).
KPI_CATCH_UP_DAYS: Final = 3


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


# -- hazard_state ---------------------------------------------------------------------------


def queue_state_change(conn: psycopg.Connection, unit_id: int, c: StateChange) -> bool:
    row = conn.execute(
        "SELECT enterprise_id, code, name, kind, hazard_code, major_hazard_level"
        " FROM registry.unit WHERE id = %s",
        (unit_id,),
    ).fetchone()
    assert row is not None
    data = {
        "unit_code": row[1], "unit_name": row[2], "unit_kind": row[3], "hazard_code": row[4],
        "major_hazard_level": row[5], "time": _iso(c.time), "warning_state": c.warning,
        "sis_state": c.sis, "prev_warning": c.prev_warning, "prev_sis": c.prev_sis,
        "detail": c.detail,
    }  # fmt: skip
    return queue(conn, "hazard_state", origin_of(conn, row[0]), f"{row[1]}|{_iso(c.time)}", data)


# -- kpi_daily ------------------------------------------------------------------------------


def _local_enterprises(conn: psycopg.Connection) -> list[int]:
    """Enterprises with tags of their own here (not only tags received from below)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT enterprise_id FROM registry.tag"
            " WHERE source IS DISTINCT FROM 'exchange' ORDER BY 1"
        )
    ]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of a local (Asia/Shanghai) day in UTC."""
    start = datetime.combine(day, time(), TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def kpi_rows(
    conn: psycopg.Connection, day: date, enterprises: list[int], now: datetime | None = None
) -> dict[int, dict[int | None, dict[str, Any]]]:
    """Counting KPIs of ``day`` per enterprise: ``{enterprise: {None: total, unit: ...}}``."""
    from analytics.alarms.kpis import counting_from_rollups
    from analytics.alarms.queries import Filters

    start, end = day_bounds(day)
    out: dict[int, dict[int | None, dict[str, Any]]] = {}
    for ent in enterprises:
        f = Filters(enterprise_id=ent)
        total = counting_from_rollups(conn, start, end, filters=f, now=now).get(None)
        units = counting_from_rollups(conn, start, end, filters=f, group_by="unit", now=now)
        rows: dict[int | None, dict[str, Any]] = {}
        for key, c in [(None, total), *units.items()]:
            if c is None:
                continue
            rows[key] = {
                **{k: getattr(c, k) for k in KPI_FIELDS},
                "by_priority": dict(c.by_priority),
                "by_type": dict(c.by_type),
            }
        if rows:
            out[ent] = rows
    return out


def store_kpis(
    conn: psycopg.Connection, day: date, enterprise_id: int, rows: dict[int | None, dict]
) -> None:
    for unit_id, k in rows.items():
        conn.execute(
            "INSERT INTO hazard.kpi_daily (day, enterprise_id, unit_id, alarms, acked_30s,"
            " handled_30min, standing_over_24h, peak_10min, by_priority, by_type)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (day, enterprise_id, unit_id) DO UPDATE SET alarms = EXCLUDED.alarms,"
            " acked_30s = EXCLUDED.acked_30s, handled_30min = EXCLUDED.handled_30min,"
            " standing_over_24h = EXCLUDED.standing_over_24h, peak_10min = EXCLUDED.peak_10min,"
            " by_priority = EXCLUDED.by_priority, by_type = EXCLUDED.by_type, computed_at = now()",
            (day, enterprise_id, unit_id, *(k[f] for f in KPI_FIELDS),
             Jsonb(k["by_priority"]), Jsonb(k["by_type"])),
        )  # fmt: skip


def kpi_daily_job(conn: psycopg.Connection, now: datetime | None = None) -> str:
    """Yesterday's KPIs (and missing earlier days) for the local enterprises: stored, queued."""
    now = now or datetime.now(UTC)
    today = now.astimezone(TZ).date()
    local = _local_enterprises(conn)
    done = 0
    for back in range(1, KPI_CATCH_UP_DAYS + 2):
        day = today - timedelta(days=back)
        have = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT enterprise_id FROM hazard.kpi_daily WHERE day = %s", (day,)
            )
        }
        todo = [e for e in local if e not in have]
        if not todo:
            continue
        with conn.transaction():
            for ent, rows in kpi_rows(conn, day, todo, now).items():
                store_kpis(conn, day, ent, rows)
                codes = dict(
                    conn.execute(
                        "SELECT id, code FROM registry.unit WHERE id = ANY(%s)",
                        ([u for u in rows if u is not None],),
                    ).fetchall()
                )
                data = {
                    "day": day.isoformat(),
                    "total": rows.get(None),
                    "units": [{"unit_code": codes[u], **k} for u, k in rows.items() if u],
                }
                queue(conn, "kpi_daily", origin_of(conn, ent), f"kpi|{day.isoformat()}", data)
                done += 1
    return f"daily KPIs of {done} enterprise-days"


# -- freshness ------------------------------------------------------------------------------


def freshness_rows(
    conn: psycopg.Connection, hour: datetime
) -> list[tuple[int, int, int, datetime | None]]:
    """``(enterprise, tags, fresh tags, newest value)`` of ``[hour, hour + 1 h)`` for the
    enterprises with local tags; a tag is fresh if it reported in that hour."""
    return [
        (int(r[0]), int(r[1]), int(r[2]), r[3])
        for r in conn.execute(
            "SELECT t.enterprise_id, count(*), count(l.last), max(l.last)"
            " FROM registry.tag t LEFT JOIN LATERAL (SELECT max(s.time) AS last FROM ts.sample s"
            "  WHERE s.tag_id = t.id AND s.time >= %s AND s.time < %s) l ON TRUE"
            " WHERE t.source IS DISTINCT FROM 'exchange' GROUP BY 1 ORDER BY 1",
            (hour, hour + timedelta(hours=1)),
        )
    ]


def store_freshness(
    conn: psycopg.Connection, hour: datetime, ent: int, tags: int, fresh: int, last: Any
) -> bool:
    return bool(
        conn.execute(
            "INSERT INTO hazard.freshness_hourly (hour, enterprise_id, tags, fresh_tags,"
            " last_data_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (hour, ent, tags, fresh, last),
        ).rowcount
    )


def freshness_job(conn: psycopg.Connection, now: datetime | None = None) -> str:
    """The last whole hour's completeness per local enterprise, once: stored and queued."""
    now = now or datetime.now(UTC)
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    n = 0
    with conn.transaction():
        for ent, tags, fresh, last in freshness_rows(conn, hour):
            if not store_freshness(conn, hour, ent, tags, fresh, last):
                continue
            data = {"hour": _iso(hour), "tags": tags, "fresh_tags": fresh,
                    "last_data_at": _iso(last) if last else None}  # fmt: skip
            queue(conn, "freshness", origin_of(conn, ent), f"freshness|{_iso(hour)}", data)
            n += 1
    return f"completeness of {n} enterprises for {hour:%Y-%m-%d %H}:00 UTC"


def hazard_jobs() -> list[Job]:
    from hazwatch.scheduler import Job
    from workflows.hazard_units import state_job

    return [
        Job("hazard states", timedelta(seconds=30), state_job),
        Job("kpi daily", timedelta(hours=1), kpi_daily_job),
        Job("freshness hourly", timedelta(minutes=10), freshness_job),
    ]


# -- receiving side -------------------------------------------------------------------------


def _unit_for(
    conn: psycopg.Connection, info: TokenInfo, enterprise_id: int, data: dict[str, Any]
) -> int:
    """The origin's unit here by code; registered (audited, actor exchange:<token>) if new."""
    from hazwatch import registers
    from workflows.upward_receive import ItemRejected

    code = data.get("unit_code")
    if not isinstance(code, str) or not code:
        raise ItemRejected("unit_code (text) is missing")
    row = conn.execute(
        "SELECT id FROM registry.unit WHERE enterprise_id = %s AND code = %s",
        (enterprise_id, code),
    ).fetchone()
    if row:
        return int(row[0])
    kind = data.get("unit_kind") or "unit"
    values = {"enterprise_id": enterprise_id, "code": code,
              "name": str(data.get("unit_name") or code), "kind": kind,
              "hazard_code": data.get("hazard_code"),
              "major_hazard_level": data.get("major_hazard_level")}  # fmt: skip
    try:
        return registers.insert(conn, Actor(None, f"exchange:{info.name}"), "unit", values)
    except registers.RegisterError as exc:
        raise ItemRejected(f"unit {code!r} cannot be registered here: {exc}") from None


def apply_hazard_state(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    from workflows.hazard_units import StateChange, store_change
    from workflows.upward_receive import ItemRejected, _enterprise_in_scope

    ent = _enterprise_in_scope(conn, info, data)
    warning, sis = data.get("warning_state"), data.get("sis_state")
    if warning not in ("normal", "warning", "alarm", "unknown"):
        raise ItemRejected(f"warning_state {warning!r}: normal, warning, alarm or unknown")
    if sis not in ("normal", "bypassed", "tripped", "none", "unknown"):
        raise ItemRejected(f"sis_state {sis!r}: normal, bypassed, tripped, none or unknown")
    unit = _unit_for(conn, info, ent, data)
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    change = StateChange(unit, aware_time(data.get("time"), "time"), warning, sis,
                         data.get("prev_warning"), data.get("prev_sis"), detail)  # fmt: skip
    store_change(conn, change)
    forward(conn, "hazard_state", data)


def _count(k: Any, field: str) -> int:
    from workflows.upward_receive import ItemRejected

    v = k.get(field) if isinstance(k, dict) else None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ItemRejected(f"kpi_daily: {field} must be a count (integer ≥ 0), not {v!r:.20}")
    return v


def apply_kpi_daily(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    from workflows.upward_receive import ItemRejected, _enterprise_in_scope

    ent = _enterprise_in_scope(conn, info, data)
    try:
        day = date.fromisoformat(str(data.get("day")))
    except ValueError:
        raise ItemRejected(f"day: not an ISO date: {data.get('day')!r:.20}") from None
    rows: dict[int | None, dict[str, Any]] = {}
    units = data.get("units") or []
    if not isinstance(units, list):
        raise ItemRejected("units must be a list")
    for k in [data.get("total"), *units]:
        if k is None:
            continue
        if not isinstance(k, dict):
            raise ItemRejected("kpi_daily: each KPI row must be an object")
        unit = _unit_for(conn, info, ent, k) if k.get("unit_code") else None
        rows[unit] = {f: _count(k, f) for f in KPI_FIELDS} | {
            "by_priority": k.get("by_priority") or {},
            "by_type": k.get("by_type") or {},
        }
    store_kpis(conn, day, ent, rows)
    forward(conn, "kpi_daily", data)


def apply_freshness(conn: psycopg.Connection, info: TokenInfo, data: dict[str, Any]) -> None:
    from workflows.upward_receive import ItemRejected, _enterprise_in_scope

    ent = _enterprise_in_scope(conn, info, data)
    hour = aware_time(data.get("hour"), "hour")
    tags, fresh = _count(data, "tags"), _count(data, "fresh_tags")
    if fresh > tags:
        raise ItemRejected(f"freshness: fresh_tags {fresh} > tags {tags}")
    last = aware_time(data["last_data_at"], "last_data_at") if data.get("last_data_at") else None
    store_freshness(conn, hour, ent, tags, fresh, last)
    forward(conn, "freshness", data)
