"""Standing and stale alarms (pure).

* *standing*: in the alarm state at a given moment (EEMUA 191 "standing alarms");
* *stale*: standing for 24 h or more (ISA-18.2 / IEC 62682 "stale alarm");
* the A19 KPI "alarms standing over 24 h" (guide 000 annex 4 §3.5 (4), 24小时持续报警数):
  alarms raised in the window whose time in the alarm state, as known at ``now``, is 24 h or
  more (returned after 24 h or more, or still active 24 h after being raised).

    rows = standing(records, at=now)                    # [Standing(record, age)], oldest first
    rows = stale(records, at=now)                       # those of age >= 24 h
    n = standing_over_count(records, now=now)           # the KPI
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.alarms.records import AlarmRecord

STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Standing:
    record: AlarmRecord
    age: timedelta

    @property
    def unacknowledged(self) -> bool:
        return self.record.acked is None


def standing(records: Iterable[AlarmRecord], at: datetime) -> list[Standing]:
    """Counted records in the alarm state at ``at``, the longest-standing first."""
    rows = [Standing(r, at - r.raised) for r in records if r.counted and r.active_at(at)]
    rows.sort(key=lambda s: (-s.age, s.record.tag))
    return rows


def stale(
    records: Iterable[AlarmRecord], at: datetime, after: timedelta = STALE_AFTER
) -> list[Standing]:
    """Standing alarms at ``at`` that have stood ``after`` (24 h) or longer."""
    return [s for s in standing(records, at) if s.age >= after]


def is_standing_over(record: AlarmRecord, now: datetime, after: timedelta = STALE_AFTER) -> bool:
    if record.returned is not None:
        return record.returned - record.raised >= after
    return now - record.raised >= after


def standing_over_count(
    records: Iterable[AlarmRecord], now: datetime, after: timedelta = STALE_AFTER
) -> int:
    """A19: counted records whose time in alarm, as known at ``now``, reached ``after``."""
    return sum(1 for r in records if r.counted and is_standing_over(r, now, after))
