"""Alarm records (A3): one record per alarm occurrence, replayed from its events (pure).

The events of one tag, in time order, go through the ISA-18.2 / IEC 62682 alarm state model:

* ``ALM`` of a condition with no active occurrence starts a record (``raised``). It is an
  *annunciated* activation unless the alarm is shelved, suppressed or out of service at that
  moment, or its priority is ``journal`` (logged, never shown to the operator). Only
  annunciated activations count as alarms; ``ACK``, ``RTN`` and mode changes never do.
* ``ALM`` while the occurrence is still active: a re-alarm once it was acknowledged (counted
  in ``realarms``, not a new activation), a repeat of the same annunciation before that.
* ``ACK`` acknowledges the newest unacknowledged occurrence of the condition (all of the
  tag's when the event names no condition); ``RTN`` returns the active one to normal.
* ``cleared`` is when the occurrence is back in the normal state: acknowledged *and*
  returned, whichever came last.
* ``SHELVE``/``UNSHELVE``, ``SUPPRESS``/``UNSUPPRESS``, ``OOS``/``INS`` change the mode of a
  condition (or of every condition of the tag when the event names none); an occurrence that
  is active when its alarm is shelved, suppressed or taken out of service is flagged so.

    recs = replay(events, tag=TagInfo(7, "FI-101", enterprise_id=1, unit_id=3),
                  points={"H": PointInfo(12, "high", "process", 80.0)},
                  shifts=ShiftCalendar([(t0, t1, 2)]))
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

#: Priorities that are annunciated to the operator (``journal`` alarms are only logged).
ANNUNCIATED_PRIORITIES = frozenset({"emergency", "high", "low"})
ALARM_TYPES = ("process", "equipment", "instrument", "safety")
PRIORITIES = ("emergency", "high", "low", "journal")

#: Order of event kinds within one instant: modes first, then activation, ack, return.
_KIND_ORDER = {
    "SHELVE": 0, "UNSHELVE": 0, "SUPPRESS": 0, "UNSUPPRESS": 0, "OOS": 0, "INS": 0,
    "ALM": 1, "ACK": 2, "RTN": 3,
}  # fmt: skip
MODE_EVENTS = {
    "SHELVE": ("shelved", True),
    "UNSHELVE": ("shelved", False),
    "SUPPRESS": ("suppressed", True),
    "UNSUPPRESS": ("suppressed", False),
    "OOS": ("out_of_service", True),
    "INS": ("out_of_service", False),
}


@dataclass(frozen=True)
class AlarmRecord:
    """One alarm occurrence (a row of ``alarm.record``); times are tz-aware UTC."""

    tag_id: int
    tag: str
    condition: str
    raised: datetime  # annunciated activation
    acked: datetime | None
    returned: datetime | None
    cleared: datetime | None
    priority: str | None
    alarm_type: str | None  # process / equipment / instrument / safety
    enterprise_id: int | None
    unit_id: int | None
    equipment_id: int | None
    shift_team_id: int | None
    limit_value: float | None
    value: float | None
    excluded: bool = False
    id: int | None = None
    point_id: int | None = None
    acked_by: str | None = None
    message: str | None = None
    realarms: int = 0
    shelved: bool = False
    suppressed: bool = False
    out_of_service: bool = False
    annunciated: bool = True

    @property
    def counted(self) -> bool:
        """Whether statistics and KPIs count it: annunciated and not excluded (A18)."""
        return self.annunciated and not self.excluded

    @property
    def ack_delay(self) -> timedelta | None:
        return None if self.acked is None else self.acked - self.raised

    def active_until(self, now: datetime) -> datetime:
        """End of the active (alarm) state, ``now`` for an occurrence not yet returned."""
        return self.returned if self.returned is not None and self.returned <= now else now

    def duration(self, now: datetime) -> timedelta:
        """Time in the alarm state, up to ``now`` while still active (A5)."""
        return max(self.active_until(now) - self.raised, timedelta(0))

    def active_at(self, t: datetime) -> bool:
        return self.raised <= t and (self.returned is None or self.returned > t)


@dataclass(frozen=True)
class TagInfo:
    """Where a tag sits: resolved once per tag from registry.tag / equipment / unit."""

    tag_id: int
    name: str
    enterprise_id: int | None = None
    unit_id: int | None = None
    equipment_id: int | None = None


@dataclass(frozen=True)
class PointInfo:
    """The alarm ledger's settings for one condition of a tag (A1)."""

    point_id: int | None
    priority: str | None
    category: str | None
    limit_value: float | None


class EventLike(Protocol):
    """What ``replay`` reads of an event (``ingest.types.AlarmEvent`` fits)."""

    @property
    def time(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def condition(self) -> str: ...
    @property
    def priority(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def limit_value(self) -> float | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def operator(self) -> str | None: ...


class ShiftCalendar:
    """Which shift team was on duty at a time, from ``(start, end, team_id)`` spans.

    >>> cal = ShiftCalendar([(t0, t0 + timedelta(hours=8), 2)]); cal.team_at(t0)
    2
    """

    def __init__(self, spans: Iterable[tuple[datetime, datetime, int]] = ()) -> None:
        self._spans = sorted(spans)
        self._starts = [s[0] for s in self._spans]

    def team_at(self, t: datetime) -> int | None:
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0:
            start, end, team = self._spans[i]
            if start <= t < end:
                return team
        return None


@dataclass
class Modes:
    """Shelved / suppressed / out-of-service state of each condition ('' = whole tag)."""

    by_condition: dict[str, dict[str, bool]] = field(default_factory=dict)

    def set(self, condition: str, mode: str, on: bool) -> None:
        if condition == "":
            # A tag-wide change overrides what was set per condition.
            for modes in self.by_condition.values():
                modes.pop(mode, None)
        self.by_condition.setdefault(condition, {})[mode] = on

    def active(self, condition: str, mode: str) -> bool:
        own = self.by_condition.get(condition, {})
        if mode in own:
            return own[mode]
        return self.by_condition.get("", {}).get(mode, False)


def sort_events(events: Iterable[EventLike]) -> list[EventLike]:
    return sorted(events, key=lambda e: (e.time, _KIND_ORDER.get(e.kind, 9), e.condition))


def replay(
    events: Iterable[EventLike],
    *,
    tag: TagInfo,
    points: dict[str, PointInfo] | None = None,
    shifts: ShiftCalendar | None = None,
    modes: Modes | None = None,
) -> list[AlarmRecord]:
    """The records of one tag's events (any order), oldest first; open ones have None times.

    ``modes`` is the tag's shelve/suppress/service state before the first event (replays
    that start mid-history pass what the earlier events left).
    """
    points = points or {}
    shifts = shifts or ShiftCalendar()
    modes = modes or Modes()
    records: list[AlarmRecord] = []
    # Index into ``records`` of each condition's newest occurrence.
    current: dict[str, int] = {}

    def update(i: int, **changes: object) -> None:
        records[i] = replace(records[i], **changes)  # type: ignore[arg-type]

    def targets(condition: str) -> list[int]:
        if condition:
            return [current[condition]] if condition in current else []
        return list(current.values())

    for ev in sort_events(events):
        kind, cond = ev.kind, ev.condition or ""
        if kind in MODE_EVENTS:
            mode, on = MODE_EVENTS[kind]
            modes.set(cond, mode, on)
            if on:
                for i in targets(cond):
                    if records[i].returned is None:
                        update(i, **{mode: True})
            continue
        if kind == "ALM":
            i = current.get(cond)
            if i is not None and records[i].returned is None:
                if records[i].acked is not None:
                    update(i, realarms=records[i].realarms + 1)
                continue
            current[cond] = len(records)
            records.append(_activation(ev, cond, tag, points.get(cond), shifts, modes))
        elif kind == "ACK":
            for i in targets(cond):
                rec = records[i]
                if rec.acked is None:
                    cleared = ev.time if rec.returned is not None else None
                    update(i, acked=ev.time, acked_by=ev.operator, cleared=cleared)
        elif kind == "RTN":
            for i in targets(cond):
                rec = records[i]
                if rec.returned is None:
                    cleared = ev.time if rec.acked is not None else None
                    update(i, returned=ev.time, cleared=cleared)
    return records


def _activation(
    ev: EventLike,
    cond: str,
    tag: TagInfo,
    point: PointInfo | None,
    shifts: ShiftCalendar,
    modes: Modes,
) -> AlarmRecord:
    priority = ev.priority or (point.priority if point else None)
    category = ev.category or (point.category if point else None)
    limit = ev.limit_value if ev.limit_value is not None else (point.limit_value if point else None)
    shelved = modes.active(cond, "shelved")
    suppressed = modes.active(cond, "suppressed")
    oos = modes.active(cond, "out_of_service")
    annunciated = (
        (priority is None or priority in ANNUNCIATED_PRIORITIES)
        and not shelved
        and not suppressed
        and not oos
    )
    return AlarmRecord(
        tag_id=tag.tag_id,
        tag=tag.name,
        condition=cond,
        raised=ev.time,
        acked=None,
        returned=None,
        cleared=None,
        priority=priority,
        alarm_type=category,
        enterprise_id=tag.enterprise_id,
        unit_id=tag.unit_id,
        equipment_id=tag.equipment_id,
        shift_team_id=shifts.team_at(ev.time),
        limit_value=limit,
        value=ev.value,
        point_id=point.point_id if point else None,
        message=ev.message,
        shelved=shelved,
        suppressed=suppressed,
        out_of_service=oos,
        annunciated=annunciated,
    )


def counted(records: Sequence[AlarmRecord]) -> list[AlarmRecord]:
    """The records statistics count: annunciated, not excluded."""
    return [r for r in records if r.counted]
