"""A11 chattering alarms (pure): a tag with 3 or more alarms within 60 s (ISA-18.2 TR5 /
IEC 62682 "chattering alarm"; guide 000 annex 4 §3.2 (8)). Both numbers are configurable.

    rows = find_chattering(records)                     # [Chatter(tag_id=7, count=14, ...)]
    rows = find_chattering(records, ChatterRule(window=timedelta(minutes=1), min_count=4))

Per tag (all its conditions: the transitions between alarm and normal are what repeats).
``count`` is every counted alarm of the tag in the selection, ``max_in_window`` the most in
any window, ``bursts`` how many times the window count reached ``min_count`` from below, and
``chattering_alarms`` how many alarms belong to at least one such window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from analytics.alarms.records import AlarmRecord


@dataclass(frozen=True)
class ChatterRule:
    window: timedelta = timedelta(seconds=60)
    min_count: int = 3

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.min_count < 2:
            raise ValueError("chattering needs a positive window and min_count >= 2")


@dataclass(frozen=True)
class Chatter:
    tag_id: int
    tag: str
    count: int
    max_in_window: int
    bursts: int
    chattering_alarms: int
    records: tuple[AlarmRecord, ...] = field(repr=False)


def _scan(
    times: list, rule: ChatterRule
) -> tuple[int, int, int]:  # (max_in_window, bursts, chattering_alarms)
    best = bursts = 0
    flagged: set[int] = set()
    lo = 0
    prev = 0
    for hi, t in enumerate(times):
        # Window (t - W, t]: drop what is W or more older.
        while times[lo] <= t - rule.window:
            lo += 1
        n = hi - lo + 1
        best = max(best, n)
        if n >= rule.min_count:
            flagged.update(range(lo, hi + 1))
            if prev < rule.min_count:
                bursts += 1
        prev = n
    return best, bursts, len(flagged)


def find_chattering(
    records: Iterable[AlarmRecord], rule: ChatterRule | None = None
) -> list[Chatter]:
    """Chattering tags among the counted records, most alarms first."""
    rule = rule or ChatterRule()
    by_tag: dict[int, list[AlarmRecord]] = defaultdict(list)
    for r in records:
        if r.counted:
            by_tag[r.tag_id].append(r)
    out = []
    for tag_id, recs in by_tag.items():
        if len(recs) < rule.min_count:
            continue
        recs.sort(key=lambda r: r.raised)
        best, bursts, flagged = _scan([r.raised for r in recs], rule)
        if best >= rule.min_count:
            out.append(Chatter(tag_id, recs[0].tag, len(recs), best, bursts, flagged, tuple(recs)))
    out.sort(key=lambda c: (-c.count, c.tag))
    return out
