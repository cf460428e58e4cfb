"""Alert rules as data, and their evaluation as pure functions over a series.

    spec = RuleSpec.model_validate({"kind": "threshold", "reduce": "avg", "window_s": 60,
        "levels": [{"level": "alarm", "op": ">", "value": 80, "clear": 75}]})
    obs = observe(spec, points, now)            # -> Observation(level="alarm", value=81.2)
    obs = observe(spec, points, now, baseline=3.1)   # kind "baseline": value / baseline

Kinds: ``threshold`` (a reduced value against levels), ``rate`` (change per ``rate_unit_s``
between the first and last point of the window), ``trend`` (seconds until ``target`` at the
least-squares slope of the window; levels usually ``<``), ``baseline`` (ratio of the reduced
value to a learned baseline: the median of the hourly averages over ``baseline_s``; levels such
as x2 / x4 / x8) and ``nodata`` (fires when no sample arrived for ``nodata_s``).
Each level trips at ``value`` and clears only past ``clear`` (hysteresis).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LevelName = Literal["warning", "alarm", "danger"]
SEVERITY = {"warning": 1, "alarm": 2, "danger": 3}
Point = tuple[datetime, float]


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: LevelName
    op: Literal[">", ">=", "<", "<="]
    value: float
    clear: float

    @model_validator(mode="after")
    def _clear_on_safe_side(self) -> Level:
        rising = self.op in (">", ">=")
        if (rising and self.clear > self.value) or (not rising and self.clear < self.value):
            side = "at or below" if rising else "at or above"
            raise ValueError(
                f"level {self.level}: clear {self.clear} must be {side} value {self.value}"
            )
        return self

    def trips(self, x: float) -> bool:
        return {
            ">": x > self.value,
            ">=": x >= self.value,
            "<": x < self.value,
            "<=": x <= self.value,
        }[self.op]

    def holds(self, x: float) -> bool:
        """Still active (not yet past the clear threshold)."""
        return x > self.clear if self.op in (">", ">=") else x < self.clear


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["threshold", "rate", "trend", "baseline", "nodata"]
    #: raw samples (ts.sample) or a rollup (ts.sample_1m / ts.sample_1h) and its column.
    source: Literal["raw", "1m", "1h"] = "raw"
    column: Literal["avg", "min", "max", "last"] = "avg"
    window_s: int = Field(300, ge=1, le=30 * 86400)
    reduce: Literal["last", "avg", "min", "max"] = "last"
    levels: list[Level] = Field(default_factory=list)
    pending_s: int = Field(0, ge=0)
    keep_firing_s: int = Field(0, ge=0)
    nodata_s: int = Field(600, ge=1)
    on_nodata: Literal["nodata", "normal", "keep"] = "nodata"
    #: rate: change per this many seconds (60: per minute).
    rate_unit_s: int = Field(60, ge=1)
    #: trend: the threshold the slope is heading for, and from which side.
    target: float | None = None
    direction: Literal["rising", "falling"] = "rising"
    #: baseline: how far back the baseline is learned (hourly averages), and how many it needs.
    baseline_s: int = Field(7 * 86400, ge=3600)
    baseline_min_points: int = Field(24, ge=1)
    #: nodata rules: the level they fire at.
    nodata_level: LevelName = "warning"

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.kind != "nodata" and not self.levels:
            raise ValueError(f"a {self.kind} rule needs at least one level")
        names = [lv.level for lv in self.levels]
        if len(set(names)) != len(names):
            raise ValueError(f"levels repeat: {names}")
        if self.kind == "trend" and self.target is None:
            raise ValueError("a trend rule needs target (the threshold it predicts)")
        ordered = sorted(self.levels, key=lambda lv: SEVERITY[lv.level])
        for low, high in itertools.pairwise(ordered):
            rising = high.op in (">", ">=")
            if (rising and high.value < low.value) or (not rising and high.value > low.value):
                raise ValueError(
                    f"level {high.level} ({high.value}) must be beyond {low.level} ({low.value})"
                )
        return self


@dataclass(frozen=True)
class Observation:
    """What one evaluation saw: the level that holds (or None), the measured value, and
    whether there was no data or the rule could not be evaluated (``error``)."""

    level: str | None
    value: float | None
    nodata: bool = False
    error: str | None = None


def select_level(levels: Sequence[Level], x: float, current: str | None) -> str | None:
    """The most severe level that trips, or that is active and not yet cleared."""
    held = SEVERITY.get(current or "", 0)
    for lv in sorted(levels, key=lambda lv: -SEVERITY[lv.level]):
        if lv.trips(x) or (held >= SEVERITY[lv.level] and lv.holds(x)):
            return lv.level
    return None


def reduce(values: Sequence[float], how: str) -> float:
    if how == "last":
        return values[-1]
    if how == "avg":
        return statistics.fmean(values)
    return min(values) if how == "min" else max(values)


def slope(points: Sequence[Point]) -> tuple[float, float]:
    """Least-squares (slope per second, fitted value at the last point)."""
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() for t, _ in points]
    ys = [v for _, v in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, ys[-1]
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return b, my + b * (xs[-1] - mx)


def time_to_target(points: Sequence[Point], target: float, direction: str) -> float:
    """Seconds until the fitted line reaches ``target``; 0 when past it, inf when moving away."""
    b, fitted = slope(points)
    if direction == "rising":
        if fitted >= target:
            return 0.0
        return (target - fitted) / b if b > 0 else math.inf
    if fitted <= target:
        return 0.0
    return (fitted - target) / -b if b < 0 else math.inf


def learn_baseline(values: Sequence[float], min_points: int) -> float | None:
    """The median of the baseline window's values; None when there are too few."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if len(clean) < min_points:
        return None
    return statistics.median(clean)


def measure(
    spec: RuleSpec, points: Sequence[Point], baseline: float | None = None
) -> tuple[float | None, str | None]:
    """The value the levels are compared with, or an error saying why there is none."""
    values = [v for _, v in points]
    if spec.kind == "threshold":
        return reduce(values, spec.reduce), None
    if spec.kind == "rate":
        if len(points) < 2:
            return None, "rate needs at least two samples in the window"
        dt = (points[-1][0] - points[0][0]).total_seconds()
        if dt <= 0:
            return None, "rate needs samples at two different times"
        return (values[-1] - values[0]) / dt * spec.rate_unit_s, None
    if spec.kind == "trend":
        if len(points) < 2:
            return None, "trend needs at least two samples in the window"
        assert spec.target is not None
        return time_to_target(points, spec.target, spec.direction), None
    if spec.kind == "baseline":
        if baseline is None:
            return None, (
                f"baseline needs at least {spec.baseline_min_points} hourly values in the last "
                f"{spec.baseline_s // 3600} h"
            )
        if baseline <= 0:
            return None, f"baseline is {baseline:g}; a ratio needs a positive baseline"
        return reduce(values, spec.reduce) / baseline, None
    raise ValueError(f"no measure for kind {spec.kind}")


def observe(
    spec: RuleSpec,
    points: Sequence[Point],
    now: datetime,
    current_level: str | None = None,
    baseline: float | None = None,
) -> Observation:
    """Evaluate a rule at ``now`` over ``points`` (time-ordered, any span: the window and the
    no-data horizon are cut here)."""
    last_seen = max((t for t, _ in points if t <= now), default=None)
    age = None if last_seen is None else (now - last_seen).total_seconds()
    if spec.kind == "nodata":
        silent = age is None or age >= spec.nodata_s
        return Observation(spec.nodata_level if silent else None, age)
    start = now - timedelta(seconds=spec.window_s)
    window = [(t, v) for t, v in points if start < t <= now and math.isfinite(v)]
    if not window:
        if age is None or age >= spec.nodata_s:
            return Observation(None, None, nodata=True)
        return Observation(current_level, None)  # a quiet gap shorter than nodata_s
    value, error = measure(spec, window, baseline)
    if error is not None or value is None:
        return Observation(None, None, error=error)
    level = select_level(spec.levels, value, current_level) if math.isfinite(value) else None
    return Observation(level, value if math.isfinite(value) else None)
