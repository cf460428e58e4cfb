"""Trend analysis of overall values (P8 "trend", P4 early signs): slope, projection to a
limit, and the change against a baseline.

    tr = trend(times_s, velocity_rms_mm_s)          # Trend(slope_per_day, ...)
    tr.days_to(limit=4.5)                           # days until the fitted line crosses 4.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_S = 86400.0


@dataclass(frozen=True)
class Trend:
    """Least-squares line through (time s, value): slope in value units per day."""

    slope_per_day: float
    intercept: float
    last_time_s: float
    last_fit: float
    r2: float
    baseline: float
    ratio_to_baseline: float
    n: int

    def days_to(self, limit: float) -> float | None:
        """Days from the last point until the fitted line reaches ``limit`` (None if never,
        0 if already there)."""
        if self.last_fit >= limit:
            return 0.0
        if self.slope_per_day <= 0:
            return None
        return (limit - self.last_fit) / self.slope_per_day

    def to_dict(self) -> dict[str, float | int]:
        return {
            "slope_per_day": self.slope_per_day,
            "r2": self.r2,
            "baseline": self.baseline,
            "ratio_to_baseline": self.ratio_to_baseline,
            "n": self.n,
        }


def trend(times_s: np.ndarray, values: np.ndarray, *, baseline_fraction: float = 0.2) -> Trend:
    """Fit a line; the baseline is the median of the first ``baseline_fraction`` of points."""
    t = np.asarray(times_s, dtype=float)
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size < 2:
        raise ValueError("a trend needs at least two finite points")
    order = np.argsort(t)
    t, v = t[order], v[order]
    slope, intercept = np.polyfit(t, v, 1)
    fit = slope * t + intercept
    ss_res = float(np.sum((v - fit) ** 2))
    ss_tot = float(np.sum((v - v.mean()) ** 2))
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    k = max(1, round(t.size * baseline_fraction))
    base = float(np.median(v[:k]))
    return Trend(
        slope_per_day=float(slope * DAY_S),
        intercept=float(intercept),
        last_time_s=float(t[-1]),
        last_fit=float(fit[-1]),
        r2=float(r2),
        baseline=base,
        ratio_to_baseline=float(v[-1] / base) if base > 0 else float("inf"),
        n=int(t.size),
    )
