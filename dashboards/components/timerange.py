"""Time ranges of dashboards, Grafana-style (pure: no Dash, no database).

A range is two expressions kept as text, as they appear in the URL: relative ones such as
``now-6h`` / ``now`` (re-evaluated on every refresh) or absolute ones as epoch milliseconds.

    rng = TimeRange.parse("now-6h", "now")          # TimeRangeError on bad input
    start, end = rng.resolve(now)                   # aware datetimes, start < end
    TimeRange.absolute(start, end).from_            # "1735689600000"
    from_relayout({"xaxis.range[0]": "2025-01-01 08:00", "xaxis.range[1]": ...})  # zoom
    refresh_ms("30s")                               # 30000; None for "off"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

#: Relative ranges offered by the picker: (from expression, i18n key of the label).
QUICK_RANGES: Final[tuple[tuple[str, str], ...]] = (
    ("now-15m", "range.15m"),
    ("now-1h", "range.1h"),
    ("now-6h", "range.6h"),
    ("now-24h", "range.24h"),
    ("now-7d", "range.7d"),
    ("now-30d", "range.30d"),
)
DEFAULT_FROM: Final = "now-6h"
DEFAULT_TO: Final = "now"
#: Auto-refresh choices (value in the URL -> milliseconds; "off" stops the timer).
REFRESH_CHOICES: Final[dict[str, int | None]] = {
    "off": None,
    "10s": 10_000,
    "30s": 30_000,
    "1m": 60_000,
    "5m": 300_000,
}
#: Shortest and longest range a panel may show.
MIN_SPAN: Final = timedelta(seconds=10)
MAX_SPAN: Final = timedelta(days=3660)
#: Plants read charts in China Standard Time; chart axes are naive local times in this zone.
DISPLAY_TZ: Final = ZoneInfo("Asia/Shanghai")

_UNITS: Final = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_RELATIVE = re.compile(r"^now(?:-(\d{1,6})([smhdw]))?$")
_EPOCH_MS = re.compile(r"^\d{10,14}$")


class TimeRangeError(ValueError):
    """A range the picker or the URL gave that cannot be used; the text says why."""


def parse_expr(text: str, now: datetime) -> datetime:
    """One end of a range: ``now``, ``now-<n><s|m|h|d|w>``, epoch ms or ISO 8601 with a zone.

    >>> parse_expr("now-1h", datetime(2025, 1, 1, 12, tzinfo=UTC)).hour
    11
    """
    value = (text or "").strip()
    rel = _RELATIVE.match(value)
    if rel:
        if rel.group(1) is None:
            return now
        return now - int(rel.group(1)) * _UNITS[rel.group(2)]
    if _EPOCH_MS.match(value):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TimeRangeError(
            f"time {value!r} is neither now-<n><unit>, epoch milliseconds nor ISO 8601"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=DISPLAY_TZ)  # what the user typed is local time
    return parsed


@dataclass(frozen=True)
class TimeRange:
    from_: str = DEFAULT_FROM
    to: str = DEFAULT_TO

    @classmethod
    def parse(cls, from_: str | None, to: str | None, now: datetime | None = None) -> TimeRange:
        """Checked range; missing ends take the defaults."""
        rng = cls((from_ or DEFAULT_FROM).strip(), (to or DEFAULT_TO).strip())
        rng.resolve(now or datetime.now(UTC))  # raises on bad input
        return rng

    @classmethod
    def absolute(cls, start: datetime, end: datetime) -> TimeRange:
        return cls(str(_epoch_ms(start)), str(_epoch_ms(end)))

    @property
    def is_relative(self) -> bool:
        return self.to.startswith("now")

    def resolve(self, now: datetime) -> tuple[datetime, datetime]:
        start, end = parse_expr(self.from_, now), parse_expr(self.to, now)
        if end - start < MIN_SPAN:
            raise TimeRangeError(
                f"the range must span at least {MIN_SPAN.seconds} s and end after it starts"
            )
        if end - start > MAX_SPAN:
            raise TimeRangeError("the range may span at most ten years")
        return start, end

    def quick_key(self) -> str | None:
        """The i18n key of the quick range this is, if any (for the picker's label)."""
        if self.to != "now":
            return None
        return next((key for expr, key in QUICK_RANGES if expr == self.from_), None)


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise TimeRangeError("absolute times need a time zone")
    return round(value.timestamp() * 1000)


def to_axis(value: datetime) -> datetime:
    """An aware time as the naive local time a chart axis shows (Plotly ignores zones)."""
    return value.astimezone(DISPLAY_TZ).replace(tzinfo=None)


def from_axis(text: str, tz: tzinfo = DISPLAY_TZ) -> datetime:
    """A chart axis value (``2025-01-01 08:00:00.123``) back to an aware time."""
    try:
        naive = datetime.fromisoformat(str(text).strip().replace(" ", "T"))
    except ValueError:
        raise TimeRangeError(f"not an axis time: {text!r}") from None
    return naive.replace(tzinfo=tz) if naive.tzinfo is None else naive


def from_relayout(data: Mapping[str, Any] | None) -> TimeRange | None:
    """The absolute range a drag-to-zoom on a time axis selected, or None (other relayouts:
    autosize, a double-click reset, y-only zoom, a selection narrower than ``MIN_SPAN``)."""
    if not data:
        return None
    lo, hi = data.get("xaxis.range[0]"), data.get("xaxis.range[1]")
    if lo is None or hi is None:
        both = data.get("xaxis.range")
        if isinstance(both, list | tuple) and len(both) == 2:
            lo, hi = both
    if lo is None or hi is None:
        return None
    try:
        start, end = sorted((from_axis(lo), from_axis(hi)))
    except TimeRangeError:
        return None
    if end - start < MIN_SPAN:
        return None
    return TimeRange.absolute(start, end)


def refresh_ms(value: str | None) -> int | None:
    """Milliseconds of an auto-refresh choice; None for off. Unknown values are errors."""
    key = value or "off"
    if key not in REFRESH_CHOICES:
        raise TimeRangeError(f"refresh {key!r} is not one of {', '.join(REFRESH_CHOICES)}")
    return REFRESH_CHOICES[key]


def display_expr(text: str) -> str:
    """An end of a range as the picker's text field shows it: relative as is, absolute as
    local time (``2025-01-01 08:00:00``)."""
    if _RELATIVE.match(text):
        return text
    return to_axis(parse_expr(text, datetime.now(UTC))).strftime("%Y-%m-%d %H:%M:%S")


def canonical_expr(text: str, now: datetime | None = None) -> str:
    """What the picker's text field puts in the URL: relative as is, absolute as epoch ms."""
    value = (text or "").strip()
    if _RELATIVE.match(value):
        return value
    return str(_epoch_ms(parse_expr(value, now or datetime.now(UTC))))
