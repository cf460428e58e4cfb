"""A12 interlock (trip) alarm statistics.

An interlock alarm is a record of condition ``TRIP`` or of a ledger point marked
``is_interlock`` (registry.alarm_point). Per interlock point: how often it tripped, how long
it stayed active (raised → returned; still active counts up to ``end``), how fast it was
acknowledged, and which other alarms came in the ``lead`` before each trip (its precursors:
the first-out view of a trip, what the operator saw coming).

    keys = interlock_keys(conn, enterprise_id)            # {(tag_id, condition), ...}
    stats = trip_stats(records, keys, end=period_end)
    pre = precursors(records, keys, lead=timedelta(minutes=10))
    by_day = trips_per_period(records, keys, period="day")
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from analytics.alarms.records import AlarmRecord
from analytics.alarms.sequences import alarm_key, counted

#: Days and months are those of the plant (China Standard Time), not UTC.
PLANT_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class TripStat:
    key: str
    tag_id: int
    unit_id: int | None
    trips: int
    active_s: float
    mean_active_s: float
    #: trips acknowledged within 30 s (acknowledged ones only in the denominator's place)
    acked_30s: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Precursor:
    key: str
    #: trips it came before (at most once per trip)
    trips: int
    #: trips it came before / all trips of the interlock
    share: float
    mean_lead_s: float


def is_interlock(record: AlarmRecord, keys: set[tuple[int, str]]) -> bool:
    return record.condition == "TRIP" or (record.tag_id, record.condition) in keys


def trip_stats(
    records: Iterable[AlarmRecord], keys: set[tuple[int, str]], *, end: datetime
) -> list[TripStat]:
    """Per interlock point, most trips first."""
    groups: dict[str, list[AlarmRecord]] = defaultdict(list)
    for r in counted(records):
        if is_interlock(r, keys):
            groups[alarm_key(r)].append(r)
    out = []
    for key, recs in groups.items():
        active = sum(((r.returned or end) - r.raised).total_seconds() for r in recs)
        acked = sum(
            1 for r in recs if r.acked is not None and (r.acked - r.raised).total_seconds() <= 30
        )
        out.append(
            TripStat(
                key=key,
                tag_id=recs[0].tag_id,
                unit_id=recs[0].unit_id,
                trips=len(recs),
                active_s=active,
                mean_active_s=active / len(recs),
                acked_30s=acked,
                first=recs[0].raised,
                last=recs[-1].raised,
            )
        )
    out.sort(key=lambda s: (-s.trips, s.key))
    return out


def trips_per_period(
    records: Iterable[AlarmRecord], keys: set[tuple[int, str]], *, period: str = "day"
) -> dict[str, int]:
    """Trips per plant-local ``day`` (``2026-03-01``) or ``month`` (``2026-03``), in order."""
    if period not in ("day", "month"):
        raise ValueError("period must be 'day' or 'month'")
    fmt = "%Y-%m-%d" if period == "day" else "%Y-%m"
    counts = Counter(
        r.raised.astimezone(PLANT_TZ).strftime(fmt)
        for r in counted(records)
        if is_interlock(r, keys)
    )
    return dict(sorted(counts.items()))


def precursors(
    records: Iterable[AlarmRecord],
    keys: set[tuple[int, str]],
    *,
    lead: timedelta = timedelta(minutes=10),
    trip_key: str | None = None,
) -> dict[str, list[Precursor]]:
    """For each interlock point (or only ``trip_key``): the alarms raised in the ``lead``
    before its trips, most frequent first. Other trips count as precursors too."""
    events = counted(records)
    times = [r.raised.timestamp() for r in events]
    lead_s = lead.total_seconds()
    trips: dict[str, list[AlarmRecord]] = defaultdict(list)
    for r in events:
        if is_interlock(r, keys) and (trip_key is None or alarm_key(r) == trip_key):
            trips[alarm_key(r)].append(r)
    out: dict[str, list[Precursor]] = {}
    for key, recs in trips.items():
        seen: Counter[str] = Counter()
        lead_sum: dict[str, float] = defaultdict(float)
        for trip in recs:
            nearest: dict[str, float] = {}
            t = trip.raised.timestamp()
            lo, hi = bisect.bisect_left(times, t - lead_s), bisect.bisect_left(times, t)
            for r in events[lo:hi]:
                dt = (trip.raised - r.raised).total_seconds()
                if 0 < dt <= lead_s and alarm_key(r) != key:
                    k = alarm_key(r)
                    nearest[k] = min(dt, nearest.get(k, dt))
            for k, dt in nearest.items():
                seen[k] += 1
                lead_sum[k] += dt
        out[key] = sorted(
            (Precursor(k, n, n / len(recs), lead_sum[k] / n) for k, n in seen.items()),
            key=lambda p: (-p.trips, p.mean_lead_s, p.key),
        )
    return out


def interlock_keys(conn: psycopg.Connection, enterprise_id: int | None) -> set[tuple[int, str]]:
    """``(tag_id, condition)`` of the ledger's interlock points (of one enterprise or all)."""
    rows = conn.execute(
        """SELECT p.tag_id, p.condition FROM registry.alarm_point p
           JOIN registry.tag t ON t.id = p.tag_id
           WHERE (p.is_interlock OR p.condition = 'TRIP')
             AND (%(ent)s::integer IS NULL OR t.enterprise_id = %(ent)s)""",
        {"ent": enterprise_id},
    ).fetchall()
    return {(int(t), str(c)) for t, c in rows}
