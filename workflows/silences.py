"""Silences, recurring mute times and business-hours calendars as pure functions.

    Matcher(label="unit", op="=", value="R-101").matches({"unit": "R-101"})      # True
    silenced(labels, silences, now)                                              # any active?
    MuteTime.model_validate({"intervals": [{"weekdays": [6, 7]}]}).muted(now)
    Calendar(working_days=[1, 2, 3, 4, 5], hours=[("08:00", "17:30")]).in_hours(now)

Times are evaluated in each object's time zone (Asia/Shanghai by default); holidays and
adjusted working days (调休) override the weekly pattern of a calendar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TZ = "Asia/Shanghai"


class Matcher(BaseModel):
    """One label condition; ``=~`` and ``!~`` are anchored regular expressions."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1)
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"matcher {self.label}{self.op}: bad regex: {exc}") from None
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        have = str(labels.get(self.label, ""))
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = re.fullmatch(self.value, have) is not None
        return hit if self.op == "=~" else not hit


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_matchers(raw: Iterable[Mapping[str, str]] | None) -> list[Matcher]:
    return [Matcher.model_validate(m) for m in (raw or [])]


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        # A silence without matchers would mute everything; the editor refuses it, and so here.
        return bool(self.matchers) and self.active(now) and matches_all(self.matchers, labels)


def _hhmm(text: str) -> time:
    if text == "24:00":
        return time.max
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not HH:MM") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


class TimeRanges:
    """Shared parsing of [["08:00", "12:00"], ...]: start inclusive, end exclusive."""

    @staticmethod
    def check(ranges: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in ranges:
            if _hhmm(start) >= _hhmm(end):
                raise ValueError(f"time range {start}-{end} ends before it starts")
        return ranges

    @staticmethod
    def within(ranges: Sequence[tuple[str, str]], t: time) -> bool:
        return any(_hhmm(s) <= t < _hhmm(e) for s, e in ranges)


class MuteInterval(BaseModel):
    """Empty fields mean "any": {"weekdays": [6, 7]} mutes whole weekends."""

    model_config = ConfigDict(extra="forbid")

    weekdays: list[int] = Field(default_factory=list)
    times: list[tuple[str, str]] = Field(default_factory=list)
    days_of_month: list[int] = Field(default_factory=list)
    months: list[int] = Field(default_factory=list)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 31 for d in v):
            raise ValueError("days_of_month are 1 to 31")
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        if any(m < 1 or m > 12 for m in v):
            raise ValueError("months are 1 to 12")
        return v

    @field_validator("times")
    @classmethod
    def _times(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return TimeRanges.check(v)

    def contains(self, local: datetime) -> bool:
        return (
            (not self.weekdays or local.isoweekday() in self.weekdays)
            and (not self.days_of_month or local.day in self.days_of_month)
            and (not self.months or local.month in self.months)
            and (not self.times or TimeRanges.within(self.times, local.time()))
        )


class MuteTime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = DEFAULT_TZ
    intervals: list[MuteInterval] = Field(min_length=1)
    matchers: list[Matcher] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        _zone(v)
        return v

    def muted(self, now: datetime, labels: Mapping[str, str] | None = None) -> bool:
        if labels is not None and not matches_all(self.matchers, labels):
            return False
        local = now.astimezone(_zone(self.timezone))
        return any(i.contains(local) for i in self.intervals)


class Calendar(BaseModel):
    """Business hours: working days and hours, with holidays and adjusted working days."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = DEFAULT_TZ
    working_days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    hours: list[tuple[str, str]] = Field(default_factory=lambda: [("08:00", "17:30")])
    holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        _zone(v)
        return v

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return TimeRanges.check(v)

    def workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra_workdays or day.isoweekday() in self.working_days

    def in_hours(self, now: datetime) -> bool:
        local = now.astimezone(_zone(self.timezone))
        return self.workday(local.date()) and TimeRanges.within(self.hours, local.time())


def silenced(
    labels: Mapping[str, str],
    silences: Iterable[Silence],
    mute_times: Iterable[MuteTime],
    now: datetime,
) -> bool:
    """Whether notifications for an alert with ``labels`` are muted at ``now``."""
    return any(s.mutes(labels, now) for s in silences) or any(
        m.muted(now, labels) for m in mute_times
    )
