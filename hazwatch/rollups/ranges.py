"""Pure time-range arithmetic for refreshes: bucket alignment and merging of invalidations.

align_ranges([(t1, t2)], bucket=timedelta(hours=1), upper=wm, lower=horizon)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

#: time_bucket's origin for intervals under a month (a Monday, midnight UTC).
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)

Range = tuple[datetime, datetime]


def bucket_floor(t: datetime, bucket: timedelta) -> datetime:
    """The start of the bucket holding ``t``, as TimescaleDB's ``time_bucket`` computes it.

    >>> bucket_floor(datetime(2026, 1, 1, 10, 59, tzinfo=UTC), timedelta(hours=1)).hour
    10
    """
    return ORIGIN + ((t - ORIGIN) // bucket) * bucket


def bucket_ceil(t: datetime, bucket: timedelta) -> datetime:
    """The first bucket start at or after ``t``."""
    floor = bucket_floor(t, bucket)
    return floor if floor == t else floor + bucket


def align_ranges(
    ranges: Iterable[Range],
    bucket: timedelta,
    upper: datetime,
    lower: datetime | None = None,
) -> list[Range]:
    """Whole buckets covering ``ranges``, clipped to ``[lower, upper)``, merged and sorted.

    ``upper`` is the watermark: nothing at or above it is materialised. ``lower`` is the
    retention horizon of the source: buckets below it cannot be recomputed from data that is
    gone, so they are left as they are.
    """
    aligned: list[Range] = []
    for lo, hi in ranges:
        a = bucket_floor(lo, bucket)
        b = bucket_floor(hi, bucket) + bucket
        if lower is not None:
            a = max(a, bucket_ceil(lower, bucket))
        b = min(b, upper)
        if a < b:
            aligned.append((a, b))
    aligned.sort()
    merged: list[Range] = []
    for lo, hi in aligned:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def batches(start: datetime, end: datetime, step: timedelta) -> Iterator[Range]:
    """``[start, end)`` cut into consecutive windows of at most ``step``.

    >>> len(list(batches(ORIGIN, ORIGIN + timedelta(days=3), timedelta(days=1))))
    3
    """
    lo = start
    while lo < end:
        hi = min(lo + step, end)
        yield lo, hi
        lo = hi
