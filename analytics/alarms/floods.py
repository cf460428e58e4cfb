"""A6 alarm floods (pure): the ISA-18.2 / IEC 62682 / EEMUA 191 10-then-5 rule.

A flood *starts* at the alarm that brings the count of alarms in the trailing 10-minute window
above 10, and *ends* at the first moment the trailing count falls below 5 (the moment an
older alarm leaves the window). Both numbers and the window are configurable.

    floods = find_floods(records, start=t0, end=t1)        # [Flood(start, end, count, peak)]
    pct = time_in_flood_pct(floods, t0, t1)                 # e.g. 0.8

A flood still going at ``end`` is cut there (``ongoing``). Its alarms are those of the window
that started it plus every alarm raised until it ended; ``peak`` is the highest trailing
10-minute count reached during it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from analytics.alarms.records import AlarmRecord


@dataclass(frozen=True)
class FloodRule:
    window: timedelta = timedelta(minutes=10)
    #: Starts when the window holds *more than* this many alarms.
    start_above: int = 10
    #: Ends when the window holds *fewer than* this many alarms.
    end_below: int = 5

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("flood window must be positive")
        if not 0 < self.end_below <= self.start_above + 1:
            raise ValueError("flood rule needs 0 < end_below <= start_above + 1")


@dataclass(frozen=True)
class Flood:
    start: datetime
    end: datetime
    peak: int
    records: tuple[AlarmRecord, ...] = field(repr=False)
    window: timedelta = timedelta(minutes=10)
    ongoing: bool = False

    @property
    def count(self) -> int:
        return len(self.records)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def peak_rate_per_min(self) -> float:
        """Peak alarm rate in alarms per minute: the peak window count over the window."""
        return self.peak / (self.window.total_seconds() / 60.0)


def find_floods(
    records: Iterable[AlarmRecord],
    start: datetime | None = None,
    end: datetime | None = None,
    rule: FloodRule | None = None,
) -> list[Flood]:
    """Floods among the counted records raised in ``[start, end)`` (``None``: unbounded)."""
    rule = rule or FloodRule()
    recs = sorted(
        (r for r in records
         if r.counted and (start is None or r.raised >= start) and (end is None or r.raised < end)),
        key=lambda r: (r.raised, r.tag_id),
    )  # fmt: skip
    floods: list[Flood] = []
    # Indices of the alarms in the trailing window (t - W, t], oldest first. Arrivals are in
    # time order and the window is fixed, so alarms leave in the order they came.
    window: deque[int] = deque()
    flood_from: int | None = None
    flood_start: datetime | None = None
    peak = 0
    i = 0
    while i < len(recs) or window:
        leave_at = recs[window[0]].raised + rule.window if window else None
        arrive_at = recs[i].raised if i < len(recs) else None
        # At equal times the leaving alarm goes first: the window is half-open.
        if leave_at is not None and (arrive_at is None or leave_at <= arrive_at):
            if end is not None and leave_at >= end:
                break
            window.popleft()
            if flood_start is not None and flood_from is not None and len(window) < rule.end_below:
                members = tuple(recs[flood_from:i])
                floods.append(Flood(flood_start, leave_at, peak, members, rule.window))
                flood_start, flood_from, peak = None, None, 0
            continue
        assert arrive_at is not None
        window.append(i)
        i += 1
        if flood_start is None and len(window) > rule.start_above:
            flood_start, flood_from, peak = arrive_at, window[0], len(window)
        elif flood_start is not None:
            peak = max(peak, len(window))
    if flood_start is not None and flood_from is not None:
        assert end is not None  # without an end every flood ends when its alarms leave
        members = tuple(recs[flood_from:i])
        floods.append(Flood(flood_start, end, peak, members, rule.window, ongoing=True))
    return floods


def time_in_flood_pct(floods: Iterable[Flood], start: datetime, end: datetime) -> float:
    """Percent of ``[start, end)`` spent in flood (ISA-18.2 target: about 1 % or less)."""
    span = (end - start).total_seconds()
    if span <= 0:
        return 0.0
    inside = sum(max((min(f.end, end) - max(f.start, start)).total_seconds(), 0.0) for f in floods)
    return 100.0 * inside / span
