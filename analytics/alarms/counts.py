"""Counting analyses over alarm records (pure): A4 counts Top N, A5 durations Top N, A7 by type,
A8 by priority, each with its detail list.

    rows = top_counts(records, by="tag", n=10)          # [CountRow(key=7, label="FI-101", ...)]
    rows = top_durations(records, now, by="unit", labels=unit_names)
    by_type(records)        # {"process": 12, "equipment": 3, "instrument": 0, "safety": 1}
    detail(records, by="unit", key=3)                   # the records behind one bar

Only counted records (annunciated, not excluded) take part. ``by`` is one of ``DIMENSIONS``;
``department`` needs ``unit_department`` (unit id -> department id) since records carry the unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.alarms.records import ALARM_TYPES, AlarmRecord

DIMENSIONS = ("tag", "enterprise", "department", "unit", "equipment", "shift_team")
Key = int | str | None


@dataclass(frozen=True)
class CountRow:
    key: Key
    label: str
    count: int
    #: Share of all counted alarms in the selection, in percent.
    share_pct: float


@dataclass(frozen=True)
class DurationRow:
    key: Key
    label: str
    total: timedelta
    longest: timedelta
    count: int

    @property
    def mean(self) -> timedelta:
        return self.total / self.count if self.count else timedelta(0)


def key_of(
    by: str, unit_department: Mapping[int, int | None] | None = None
) -> Callable[[AlarmRecord], Key]:
    """The function giving a record's key for dimension ``by``."""
    if by == "tag":
        return lambda r: r.tag_id
    if by == "enterprise":
        return lambda r: r.enterprise_id
    if by == "unit":
        return lambda r: r.unit_id
    if by == "equipment":
        return lambda r: r.equipment_id
    if by == "shift_team":
        return lambda r: r.shift_team_id
    if by == "department":
        if unit_department is None:
            raise ValueError("by='department' needs unit_department (unit id -> department id)")
        mapping = unit_department
        return lambda r: mapping.get(r.unit_id) if r.unit_id is not None else None
    raise ValueError(f"unknown dimension {by!r}; one of {', '.join(DIMENSIONS)}")


def _label(key: Key, by: str, records: list[AlarmRecord], labels: Mapping[Key, str] | None) -> str:
    if labels and key in labels:
        return labels[key]
    if by == "tag" and records:
        return records[0].tag
    return "—" if key is None else str(key)


def _grouped(
    records: Iterable[AlarmRecord], by: str, unit_department: Mapping[int, int | None] | None
) -> dict[Key, list[AlarmRecord]]:
    key = key_of(by, unit_department)
    groups: dict[Key, list[AlarmRecord]] = defaultdict(list)
    for r in records:
        if r.counted:
            groups[key(r)].append(r)
    return groups


def top_counts(
    records: Iterable[AlarmRecord],
    by: str = "tag",
    n: int | None = 10,
    *,
    labels: Mapping[Key, str] | None = None,
    unit_department: Mapping[int, int | None] | None = None,
) -> list[CountRow]:
    """A4: the ``n`` keys with most alarms (ties by label), with their share of the total."""
    groups = _grouped(records, by, unit_department)
    total = sum(len(g) for g in groups.values())
    rows = [
        CountRow(k, _label(k, by, g, labels), len(g), 100.0 * len(g) / total if total else 0.0)
        for k, g in groups.items()
    ]
    rows.sort(key=lambda r: (-r.count, r.label))
    return rows if n is None else rows[:n]


def top_durations(
    records: Iterable[AlarmRecord],
    now: datetime,
    by: str = "tag",
    n: int | None = 10,
    *,
    labels: Mapping[Key, str] | None = None,
    unit_department: Mapping[int, int | None] | None = None,
) -> list[DurationRow]:
    """A5: the ``n`` keys with the longest total time in alarm (open ones measured to ``now``)."""
    rows = []
    for k, g in _grouped(records, by, unit_department).items():
        durations = [r.duration(now) for r in g]
        rows.append(DurationRow(k, _label(k, by, g, labels), sum(durations, timedelta(0)),
                                max(durations), len(g)))  # fmt: skip
    rows.sort(key=lambda r: (-r.total, r.label))
    return rows if n is None else rows[:n]


def by_type(records: Iterable[AlarmRecord]) -> dict[str, int]:
    """A7: counted alarms per type; every type present, ``unknown`` for records without one."""
    out = dict.fromkeys((*ALARM_TYPES, "unknown"), 0)
    for r in records:
        if r.counted:
            out[r.alarm_type if r.alarm_type in out else "unknown"] += 1
    return out


def by_priority(records: Iterable[AlarmRecord]) -> dict[str, int]:
    """A8: counted alarms per priority (journal alarms are never annunciated, so never here)."""
    out = dict.fromkeys(("emergency", "high", "low", "unknown"), 0)
    for r in records:
        if r.counted:
            out[r.priority if r.priority in out else "unknown"] += 1
    return out


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    """Percentages of a distribution (0 for all when empty)."""
    total = sum(counts.values())
    return {k: (100.0 * v / total if total else 0.0) for k, v in counts.items()}


def detail(
    records: Iterable[AlarmRecord],
    by: str,
    key: Key,
    *,
    unit_department: Mapping[int, int | None] | None = None,
) -> list[AlarmRecord]:
    """The counted records behind one row of a Top N or distribution, oldest first."""
    if by in ("type", "priority"):
        attr = "alarm_type" if by == "type" else "priority"
        return [r for r in records if r.counted and getattr(r, attr) == key]
    fn = key_of(by, unit_department)
    return [r for r in records if r.counted and fn(r) == key]
