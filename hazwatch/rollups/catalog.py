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

ROLLUPS: tuple[Rollup, ...] = (SAMPLE_1M, SAMPLE_1H, SAMPLE_1D)


def by_name(name: str) -> Rollup:
    for rollup in ROLLUPS:
        if rollup.name == name:
            return rollup
    known = ", ".join(r.name for r in ROLLUPS)
    from hazwatch.errors import HazwatchError

    raise HazwatchError(f"no rollup named {name!r}; known: {known}")
