"""Which relation a time-series panel reads for a range, and at what bucket width (pure).

The width is the smallest "nice" width that keeps a series at or under ``max_points``; the
relation is the coarsest rollup level of ``hazwatch.rollups.catalog`` whose bucket divides
that width (so its buckets combine exactly), or raw ``ts.sample`` when the width is finer
than the finest level. The window is widened to whole buckets, so every point covers a full
bucket and the rollup and raw answers are the same numbers.

    plan = choose(start, end)                 # 30 days -> ts.sample_1h, 1 h buckets
    plan.relation, plan.bucket, plan.start, plan.end, plan.points
    choose(start, end, force="ts.sample")     # the same panel from raw samples (benchmark)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from hazwatch.rollups.catalog import SAMPLE_1D, SAMPLE_1H, SAMPLE_1M

RAW: Final = "ts.sample"
MAX_POINTS: Final = 1000
#: Rollup levels of ts.sample, finest first (their views are the public names).
LEVELS: Final[tuple[tuple[str, timedelta], ...]] = tuple(
    (r.name, r.bucket) for r in (SAMPLE_1M, SAMPLE_1H, SAMPLE_1D)
)
_S = timedelta(seconds=1)
#: Bucket widths a chart may use; each is a multiple of every level's width it exceeds.
NICE: Final[tuple[timedelta, ...]] = tuple(
    n * _S
    for n in (
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        10800,
        21600,
        43200,
        86400,
        2 * 86400,
        7 * 86400,
        14 * 86400,
        30 * 86400,
        90 * 86400,
        180 * 86400,
        366 * 86400,
    )
)
#: time_bucket's default origin for timestamptz (a Monday, midnight UTC).
ORIGIN: Final = datetime(2000, 1, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    relation: str
    bucket: timedelta
    start: datetime
    end: datetime

    @property
    def is_raw(self) -> bool:
        return self.relation == RAW

    @property
    def points(self) -> int:
        """Buckets per series at most."""
        return int((self.end - self.start) / self.bucket)


def bucket_width(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> timedelta:
    """The smallest nice width giving at most ``max_points`` buckets over the aligned range."""
    if end <= start:
        raise ValueError("the range must end after it starts")
    for width in NICE:
        s, e = align(start, end, width)
        if (e - s) / width <= max_points:
            return width
    return NICE[-1]


def align(start: datetime, end: datetime, width: timedelta) -> tuple[datetime, datetime]:
    """``start`` down and ``end`` up to bucket boundaries of ``width`` (time_bucket's)."""
    lo = ORIGIN + ((start - ORIGIN) // width) * width
    hi = ORIGIN + -((ORIGIN - end) // width) * width
    return lo, hi


def choose(
    start: datetime, end: datetime, max_points: int = MAX_POINTS, force: str | None = None
) -> Plan:
    """The plan for a series over ``[start, end)``; ``force`` names the relation to read."""
    width = bucket_width(start, end, max_points)
    relation = RAW
    for name, level in LEVELS:
        if level <= width and width % level == timedelta(0):
            relation = name
    if force is not None:
        known = {RAW, *(n for n, _ in LEVELS)}
        if force not in known:
            raise ValueError(f"unknown relation {force!r}")
        level = dict(LEVELS).get(force, timedelta(0))
        if level and width % level:
            raise ValueError(f"{force} cannot give {width} buckets")
        relation = force
    lo, hi = align(start, end, width)
    return Plan(relation, width, lo, hi)
