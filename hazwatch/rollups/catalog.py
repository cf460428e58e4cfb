"""Every rollup hazwatch maintains, in dependency order (a level after the one it reads).

Domain issues add their declarations here, so one list drives creation, refresh and status.
"""

from __future__ import annotations

from datetime import timedelta

from hazwatch.rollups.declare import Aggregate, Rollup

#: Per-tag statistics of ts.sample. ``sum`` is kept so higher levels combine ``avg`` exactly.
SAMPLE_AGGREGATES = (
    Aggregate("n", raw="count(value)", combine="sum(n)::bigint"),
    Aggregate("min", raw="min(value)", combine="min(min)"),
    Aggregate("max", raw="max(value)", combine="max(max)"),
    Aggregate("avg", raw="avg(value)", combine="sum(sum) / nullif(sum(n), 0)"),
    Aggregate("last", raw="last(value, time)", combine="last(last, bucket)"),
    Aggregate("sum", raw="sum(value)", combine="sum(sum)"),
)

SAMPLE_1M = Rollup(
    "ts.sample_1m",
    source="ts.sample",
    bucket=timedelta(minutes=1),
    group_by=("tag_id",),
    aggregates=SAMPLE_AGGREGATES,
)
SAMPLE_1H = SAMPLE_1M.level("ts.sample_1h", timedelta(hours=1))
SAMPLE_1D = SAMPLE_1H.level("ts.sample_1d", timedelta(days=1))

#: A19 counting KPIs of alarm.record (issue 7): counted = annunciated and not excluded (A18).
#: ``peak_10m`` is the 10-minute count at the lowest level and its maximum above, so one unit's
#: peak in any fixed 10 minutes is read from hourly and daily rows. analytics.alarms.kpis reads
#: these; docs/alarm-kpis.md defines each column.
_COUNTED = "annunciated AND NOT excluded"
ALARM_AGGREGATES = (
    Aggregate("alarms", raw=f"count(*) FILTER (WHERE {_COUNTED})", combine="sum(alarms)::bigint"),
    Aggregate("peak_10m", raw=f"count(*) FILTER (WHERE {_COUNTED})", combine="max(peak_10m)"),
    Aggregate(
        "acked_30s",
        raw=f"count(*) FILTER (WHERE {_COUNTED} AND acked <= raised + interval '30 seconds')",
        combine="sum(acked_30s)::bigint",
    ),
    Aggregate(
        "handled_30min",
        raw=f"count(*) FILTER (WHERE {_COUNTED} AND cleared <= raised + interval '30 minutes')",
        combine="sum(handled_30min)::bigint",
    ),
    Aggregate(
        "returned_over_24h",
        raw=f"count(*) FILTER (WHERE {_COUNTED} AND returned >= raised + interval '24 hours')",
        combine="sum(returned_over_24h)::bigint",
    ),
    *(
        Aggregate(
            f"p_{p}",
            raw=f"count(*) FILTER (WHERE {_COUNTED} AND priority = '{p}')",
            combine=f"sum(p_{p})::bigint",
        )
        for p in ("emergency", "high", "low")
    ),
    *(
        Aggregate(
            f"t_{t}",
            raw=f"count(*) FILTER (WHERE {_COUNTED} AND alarm_type = '{t}')",
            combine=f"sum(t_{t})::bigint",
        )
        for t in ("process", "equipment", "instrument", "safety")
    ),
)
ALARM_10M = Rollup(
    "alarm.record_10m",
    source="alarm.record",
    bucket=timedelta(minutes=10),
    group_by=("enterprise_id", "unit_id", "shift_team_id"),
    aggregates=ALARM_AGGREGATES,
    time_column="raised",
    # Acks and returns arrive minutes after the activation: materialise once most have.
    end_offset=timedelta(hours=1),
)
ALARM_1H = ALARM_10M.level("alarm.record_1h", timedelta(hours=1))
ALARM_1D = ALARM_1H.level("alarm.record_1d", timedelta(days=1))

#: The alarm-record levels, finest first (the order a refresh must run in).
ALARM_ROLLUPS: tuple[Rollup, ...] = (ALARM_10M, ALARM_1H, ALARM_1D)
ROLLUPS: tuple[Rollup, ...] = (SAMPLE_1M, SAMPLE_1H, SAMPLE_1D, *ALARM_ROLLUPS)


def by_name(name: str) -> Rollup:
    for rollup in ROLLUPS:
        if rollup.name == name:
            return rollup
    known = ", ".join(r.name for r in ROLLUPS)
    from hazwatch.errors import HazwatchError

    raise HazwatchError(f"no rollup named {name!r}; known: {known}")
