"""A19 alarm KPIs: the counting KPIs from the rollups, the same from records, and the targets.

    k = window_kpis(conn, start=t0, end=t1, filters=Filters(unit_id=3))
    k.as_json()   # {"alarms": 812, "avg_per_hour": 4.83, "ack_within_30s_pct": 91.2, ...}
    per_unit = counting_from_rollups(conn, t0, t1, group_by="unit")   # {unit_id: Counting}
    page = counting_grouped(conn, t0, t1, (None, "unit", "shift_team"))  # one query, 3 ways
    same = counting_from_records(records, now=now, group_by="unit")   # equal, from records

Counting KPIs (alarms, acknowledged within 30 s, handled within 30 min, standing over 24 h,
peak in 10 min, priority and type distributions) are read from ``alarm.record_10m`` /
``_1h`` / ``_1d`` (hazwatch.rollups.catalog): whole days from the daily level, whole hours
from the hourly, whole 10 minutes from the 10-minute level, and the ragged edges of a window
not on 10-minute boundaries from the records themselves, so the result equals the records'
for any window. Floods and chattering need alarm order and are computed from the records.
Definitions and sources: docs/alarm-kpis.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from analytics.alarms.chattering import ChatterRule, find_chattering
from analytics.alarms.counts import Key, key_of
from analytics.alarms.floods import FloodRule, find_floods, time_in_flood_pct
from analytics.alarms.queries import Filters, ScopeLike, load_records
from analytics.alarms.records import ALARM_TYPES, AlarmRecord
from analytics.alarms.standing import STALE_AFTER, is_standing_over
from hazwatch.rollups.catalog import ALARM_1D, ALARM_1H, ALARM_10M
from hazwatch.rollups.declare import Rollup, aggregate_select

ACK_WITHIN = timedelta(seconds=30)
HANDLED_WITHIN = timedelta(minutes=30)
PEAK_WINDOW = timedelta(minutes=10)
PRIORITY_KEYS = ("emergency", "high", "low")
GROUPS = ("unit", "shift_team", "enterprise", "department")
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's origin for sub-month widths


@dataclass(frozen=True)
class Counting:
    """The counting KPIs of one selection (or one group of it)."""

    alarms: int = 0
    acked_30s: int = 0
    handled_30min: int = 0
    standing_over_24h: int = 0
    peak_10min: int = 0
    by_priority: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRIORITY_KEYS, 0))
    by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALARM_TYPES, 0))

    def pct(self, part: int) -> float | None:
        return round(100.0 * part / self.alarms, 2) if self.alarms else None

    @property
    def ack_within_30s_pct(self) -> float | None:
        return self.pct(self.acked_30s)

    @property
    def handled_within_30min_pct(self) -> float | None:
        return self.pct(self.handled_30min)


@dataclass(frozen=True)
class Kpis:
    """A19 for one window and selection, with floods and chattering from the records."""

    start: datetime
    end: datetime
    counting: Counting
    floods: int
    flood_time_pct: float
    chattering_tags: int
    source: str  # "rollups" or "records"

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def avg_per_hour(self) -> float:
        return round(self.counting.alarms / self.hours, 3) if self.hours > 0 else 0.0

    @property
    def avg_per_10min(self) -> float:
        return round(self.counting.alarms / (self.hours * 6), 3) if self.hours > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        c = self.counting
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "hours": round(self.hours, 3),
            "alarms": c.alarms,
            "avg_per_hour": self.avg_per_hour,
            "avg_per_10min": self.avg_per_10min,
            "ack_within_30s_pct": c.ack_within_30s_pct,
            "handled_within_30min_pct": c.handled_within_30min_pct,
            "standing_over_24h": c.standing_over_24h,
            "peak_10min": c.peak_10min,
            "floods": self.floods,
            "flood_time_pct": round(self.flood_time_pct, 3),
            "chattering_tags": self.chattering_tags,
            "by_priority": dict(c.by_priority),
            "by_type": dict(c.by_type),
            "source": self.source,
        }


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A benchmark figure from the standards, drawn beside a KPI (docs/alarm-kpis.md)."""

    kpi: str
    #: Human text of the target, e.g. "≤ 6" (None where the standards set no figure).
    text: str | None
    limit: float | None
    #: "max": the KPI should stay at or below ``limit``; "min": at or above.
    sense: str
    source: str

    def met(self, value: float | None) -> bool | None:
        if value is None or self.limit is None:
            return None
        return value <= self.limit if self.sense == "max" else value >= self.limit


_TARGET_LIST = (
    Target("avg_per_hour", "≤ 6 (可接受) / ≤ 12 (最大可管理)", 6.0, "max",
           "ISA-18.2-2016 §16.5 表 5; EEMUA 191"),
    Target("avg_per_10min", "≤ 1 (可接受) / ≤ 2 (可管理)", 1.0, "max",
           "EEMUA 191; ISA-18.2-2016 §16.5"),
    Target("peak_10min", "≤ 10", 10.0, "max", "ISA-18.2-2016 §16.5; IEC 62682"),
    Target("flood_time_pct", "< 1 %", 1.0, "max", "ISA-18.2-2016 §16.5; IEC 62682"),
    Target("chattering_tags", "0", 0.0, "max", "ISA-18.2-2016 §16.5; IEC 62682"),
    Target("standing_over_24h", "< 5 (每天)", 5.0, "max",
           "ISA-18.2-2016 §16.5 (stale alarms); EEMUA 191"),
    Target("ack_within_30s_pct", None, None, "min", "报警优化指南(附件4) §3.5(2) (企业自定目标)"),
    Target("handled_within_30min_pct", None, None, "min",
           "报警优化指南(附件4) §3.5(3) (企业自定目标)"),
    Target("priority_low_pct", "≈ 80 %", 80.0, "min", "ISA-18.2-2016 §16.5; EEMUA 191"),
    Target("priority_high_pct", "≈ 15 %", 15.0, "max", "ISA-18.2-2016 §16.5; EEMUA 191"),
    Target("priority_emergency_pct", "≈ 5 %", 5.0, "max", "ISA-18.2-2016 §16.5; EEMUA 191"),
)  # fmt: skip
TARGETS: dict[str, Target] = {t.kpi: t for t in _TARGET_LIST}


# -- from records (pure) ---------------------------------------------------------------------


def _bucket10(t: datetime) -> int:
    return int((t - _EPOCH).total_seconds() // PEAK_WINDOW.total_seconds())


def counting_from_records(
    records: Iterable[AlarmRecord],
    now: datetime,
    group_by: str | None = None,
    unit_department: Mapping[int, int | None] | None = None,
) -> dict[Key, Counting]:
    """The counting KPIs of ``records`` (those raised in the window), per group or under None.

    The peak is the most alarms one unit had under one shift team in a fixed 10-minute
    interval (guide: 各装置每10分钟内出现的最大报警次数), the maximum over the group.
    """
    key = key_of(group_by, unit_department) if group_by else (lambda r: None)
    acc: dict[Key, dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "ack": 0, "handled": 0, "standing": 0, "buckets": defaultdict(int),
                 "prio": dict.fromkeys(PRIORITY_KEYS, 0), "type": dict.fromkeys(ALARM_TYPES, 0)}
    )  # fmt: skip
    for r in records:
        if not r.counted:
            continue
        a = acc[key(r)]
        a["n"] += 1
        a["ack"] += r.acked is not None and r.acked - r.raised <= ACK_WITHIN
        a["handled"] += r.cleared is not None and r.cleared - r.raised <= HANDLED_WITHIN
        a["standing"] += is_standing_over(r, now, STALE_AFTER)
        a["buckets"][(r.enterprise_id, r.unit_id, r.shift_team_id, _bucket10(r.raised))] += 1
        if r.priority in a["prio"]:
            a["prio"][r.priority] += 1
        if r.alarm_type in a["type"]:
            a["type"][r.alarm_type] += 1
    return {
        k: Counting(a["n"], a["ack"], a["handled"], a["standing"],
                    max(a["buckets"].values(), default=0), a["prio"], a["type"])
        for k, a in acc.items()
    }  # fmt: skip


def kpis_from_records(
    records: list[AlarmRecord],
    start: datetime,
    end: datetime,
    now: datetime,
    flood_rule: FloodRule | None = None,
    chatter_rule: ChatterRule | None = None,
) -> Kpis:
    """Every A19 KPI from the records raised in ``[start, end)`` (pure)."""
    inside = [r for r in records if start <= r.raised < end]
    counting = counting_from_records(inside, now).get(None, Counting())
    floods = find_floods(inside, start, end, flood_rule)
    return Kpis(
        start, end, counting, len(floods), time_in_flood_pct(floods, start, end),
        len(find_chattering(inside, chatter_rule)), "records",
    )  # fmt: skip


# -- from the rollups ------------------------------------------------------------------------


def _floor(t: datetime, width: timedelta) -> datetime:
    return t - (t - _EPOCH) % width


def _ceil(t: datetime, width: timedelta) -> datetime:
    f = _floor(t, width)
    return f if f == t else f + width


def plan(
    start: datetime, end: datetime, levels: tuple[Rollup, ...] = (ALARM_1D, ALARM_1H, ALARM_10M)
) -> list[tuple[Rollup | None, datetime, datetime]]:
    """Pieces of ``[start, end)``: the coarsest level that covers whole buckets, raw (None)
    for the rest. ``plan(00:05, 02:00)`` -> raw 00:05-00:10, 10m 00:10-01:00, 1h 01:00-02:00.
    """
    if start >= end:
        return []
    if not levels:
        return [(None, start, end)]
    level, rest = levels[0], levels[1:]
    lo, hi = _ceil(start, level.bucket), _floor(end, level.bucket)
    if lo >= hi:
        return plan(start, end, rest)
    return [*plan(start, lo, rest), (level, lo, hi), *plan(hi, end, rest)]


_SUMS = (
    "alarms", "acked_30s", "handled_30min", "returned_over_24h",
    *(f"p_{p}" for p in PRIORITY_KEYS), *(f"t_{t}" for t in ALARM_TYPES),
)  # fmt: skip


def _group_expr(group_by: str | None, alias: str) -> sql.Composable:
    if group_by is None:
        return sql.SQL("NULL::int")
    if group_by == "department":
        return sql.SQL(
            "(SELECT u.department_id FROM registry.unit u WHERE u.id = {}.unit_id)"
        ).format(sql.Identifier(alias))
    if group_by not in GROUPS:
        raise ValueError(f"rollups group by one of {', '.join(GROUPS)}, not {group_by!r}")
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(f"{group_by}_id"))


_KEYS = sql.SQL("v.enterprise_id, v.unit_id, v.shift_team_id")


def counting_grouped(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    groups: Sequence[str | None] = (None,),
    *,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
    now: datetime | None = None,
    levels: tuple[Rollup, ...] = (ALARM_1D, ALARM_1H, ALARM_10M),
) -> dict[str | None, dict[Key, Counting]]:
    """The counting KPIs of ``[start, end)`` for several groupings in one query, e.g.
    ``groups=(None, "unit", "shift_team")`` -> ``{None: {None: …}, "unit": {3: …}, …}``.

    Whole buckets come from the rollups, the ragged edges from the records; ``levels=()``
    computes the same SQL from the records alone (the benchmark's baseline).
    """
    filters = filters or Filters()
    if not filters.only_rollup_keys():
        raise ValueError("the rollups answer by enterprise / department / unit / shift team only")
    now = now or datetime.now(UTC)
    sums = sql.SQL(", ").join(sql.SQL("sum({})::bigint").format(sql.Identifier(c)) for c in _SUMS)
    zeros = sql.SQL(", ").join(sql.SQL("0::bigint") for _ in _SUMS)
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for level, lo, hi in plan(start, end, levels):
        cond, cond_params = filters.where("v", scope)
        if level is None:
            # Ragged edges: the 10-minute aggregation of the records themselves.
            source = sql.SQL("({}) v").format(
                aggregate_select(
                    ALARM_10M, sql.SQL("alarm.record"), sql.SQL("raised >= %s AND raised < %s")
                )
            )
            where: sql.Composable = cond
        else:
            source = sql.SQL("{} v").format(level.view)
            where = sql.SQL("v.bucket >= %s AND v.bucket < %s AND {}").format(cond)
        parts.append(
            sql.SQL(
                "SELECT {keys}, {sums}, max(v.peak_10m), 0::bigint FROM {src} WHERE {where}"
                " GROUP BY 1, 2, 3"
            ).format(keys=_KEYS, sums=sums, src=source, where=where)
        )
        params += [lo, hi, *cond_params]
    # Still active and raised 24 h or more before now: known only at query time.
    cond, cond_params = filters.where("v", scope)
    parts.append(
        sql.SQL(
            "SELECT {keys}, {zeros}, 0::bigint, count(*) FROM alarm.record v"
            " WHERE v.returned IS NULL AND v.raised >= %s AND v.raised < %s AND v.raised <= %s"
            " AND v.annunciated AND NOT v.excluded AND {cond} GROUP BY 1, 2, 3"
        ).format(keys=_KEYS, zeros=zeros, cond=cond)
    )
    params += [start, end, now - STALE_AFTER, *cond_params]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in _SUMS)
    selects = [
        sql.SQL("SELECT {i}, {k}, {sums}, max(peak), sum(live)::bigint FROM p GROUP BY 2").format(
            i=sql.Literal(i), k=_group_expr(g, "p"), sums=sums
        )
        for i, g in enumerate(groups)
    ]
    query = sql.SQL(
        "WITH p (enterprise_id, unit_id, shift_team_id, {cols}, peak, live) AS MATERIALIZED"
        " ({union}) {selects}"
    ).format(cols=cols, union=sql.SQL(" UNION ALL ").join(parts),
             selects=sql.SQL(" UNION ALL ").join(selects))  # fmt: skip
    out: dict[str | None, dict[Key, Counting]] = {g: {} for g in groups}
    for row in conn.execute(query, params):
        i, k, *values = row
        named = dict(zip(_SUMS, (int(v or 0) for v in values[: len(_SUMS)]), strict=True))
        live = int(values[-1] or 0)
        if named["alarms"] == 0 and live == 0:
            continue
        out[groups[i]][k] = Counting(
            alarms=named["alarms"],
            acked_30s=named["acked_30s"],
            handled_30min=named["handled_30min"],
            standing_over_24h=named["returned_over_24h"] + live,
            peak_10min=int(values[-2] or 0),
            by_priority={p: named[f"p_{p}"] for p in PRIORITY_KEYS},
            by_type={t: named[f"t_{t}"] for t in ALARM_TYPES},
        )
    return out


def counting_from_rollups(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
    group_by: str | None = None,
    now: datetime | None = None,
    levels: tuple[Rollup, ...] = (ALARM_1D, ALARM_1H, ALARM_10M),
) -> dict[Key, Counting]:
    """The counting KPIs of ``[start, end)`` from the rollups, by one grouping (or None)."""
    return counting_grouped(
        conn, start, end, (group_by,), filters=filters, scope=scope, now=now, levels=levels
    )[group_by]


def window_kpis(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
    now: datetime | None = None,
    flood_rule: FloodRule | None = None,
    chatter_rule: ChatterRule | None = None,
) -> Kpis:
    """A19 of one window: counting KPIs from the rollups, floods and chattering from records.

    Filters the rollups cannot answer (a tag, a priority, a type) use the records throughout.
    """
    if end <= start:
        raise ValueError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    filters = filters or Filters()
    now = now or datetime.now(UTC)
    records = load_records(conn, start=start, end=end, filters=filters, scope=scope)
    if filters.only_rollup_keys():
        counting = counting_from_rollups(
            conn, start, end, filters=filters, scope=scope, now=now
        ).get(None, Counting())
        source = "rollups"
    else:
        counting = counting_from_records(records, now).get(None, Counting())
        source = "records"
    floods = find_floods(records, start, end, flood_rule)
    return Kpis(
        start, end, counting, len(floods), time_in_flood_pct(floods, start, end),
        len(find_chattering(records, chatter_rule)), source,
    )  # fmt: skip


def rate_series(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    filters: Filters | None = None,
    scope: ScopeLike | None = None,
) -> tuple[timedelta, list[tuple[datetime, int]]]:
    """Counted alarms per 10 minutes (per hour beyond 7 days) from the rollups, for charts.

    Returns ``(bucket width, [(bucket start, alarms)])``; buckets overlapping the window.
    """
    filters = filters or Filters()
    level = ALARM_10M if end - start <= timedelta(days=7) else ALARM_1H
    cond, params = filters.where("v", scope)
    rows = conn.execute(
        sql.SQL(
            "SELECT v.bucket, sum(v.alarms)::bigint FROM {} v WHERE v.bucket >= %s"
            " AND v.bucket < %s AND {} GROUP BY 1 ORDER BY 1"
        ).format(level.view, cond),
        [_floor(start, level.bucket), end, *params],
    ).fetchall()
    return level.bucket, [(b, int(n)) for b, n in rows if n]
