"""Vibration severity zones (P3, P4) after ISO 10816-3 and ISO 10816-7, per machine configurable.

The evaluation quantity is the broadband r.m.s. velocity on the bearing housings, mm/s, over
10–1000 Hz (2–1000 Hz for machines running below 600 rpm). Zones: A newly commissioned; B
unrestricted long-term operation; C not suitable for long-term operation, plan action; D
damaging, act now. Defaults (zone boundaries A/B, B/C, C/D in mm/s r.m.s.) as tabulated in:

* ISO 10816-3:2009, Table A.1 (GB/T 6075.3 is the identical Chinese adoption), machines of
  group 1 (300 kW–50 MW) and group 2 (15–300 kW), rigid or flexible support;
* ISO 10816-7:2009, Annex A, Table A.1, rotodynamic pumps: category I (high reliability, e.g.
  hazardous or toxic media: every P1 pump) and category II, rated power ≤ 200 kW or > 200 kW.

The standards ask that machine-specific experience may move these; ``ZoneLimits`` is therefore
stored per machine (``vib.severity_limit``, migration 0017) and only defaults come from here.

    lim = default_limits("iso10816-7", category="I", power_kw=55.0)
    zone(3.1, lim)                                           # "B"
    severity(acc_xyz, fs=25600.0, rpm=2970.0, limits=lim)    # Severity(...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.vibration.spectrum import velocity_rms

ZONES = ("A", "B", "C", "D")
ZONE_TEXT = {
    "A": ("良好（新投用水平）", "good (newly commissioned)"),
    "B": ("可长期运行", "acceptable for unrestricted long-term operation"),
    "C": ("不宜长期运行，应安排检修", "not suitable for long-term operation; plan maintenance"),
    "D": ("振动足以造成损坏，应立即处理", "vibration may cause damage; act now"),
}


@dataclass(frozen=True)
class ZoneLimits:
    """Boundaries A/B, B/C, C/D in mm/s r.m.s. and where they come from."""

    ab: float
    bc: float
    cd: float
    source: str

    def __post_init__(self) -> None:
        if not 0 < self.ab < self.bc < self.cd:
            raise ValueError(
                f"zone boundaries must rise: A/B {self.ab} < B/C {self.bc} < C/D {self.cd}"
            )


#: ISO 10816-3:2009 Table A.1: (group, support) → (A/B, B/C, C/D) mm/s r.m.s.
ISO_10816_3 = {
    ("1", "rigid"): (2.3, 4.5, 7.1),
    ("1", "flexible"): (3.5, 7.1, 11.0),
    ("2", "rigid"): (1.4, 2.8, 4.5),
    ("2", "flexible"): (2.3, 4.5, 7.1),
}
#: ISO 10816-7:2009 Annex A Table A.1: (category, power ≤ 200 kW?) → (A/B, B/C, C/D).
ISO_10816_7 = {
    ("I", True): (2.5, 4.0, 6.6),
    ("I", False): (3.5, 5.0, 7.6),
    ("II", True): (3.2, 5.1, 8.5),
    ("II", False): (4.2, 6.1, 9.5),
}


def default_limits(
    standard: str = "iso10816-7",
    *,
    category: str = "I",
    power_kw: float = 55.0,
    group: str | None = None,
    support: str = "rigid",
) -> ZoneLimits:
    """Default boundaries. ``iso10816-7``: pump ``category`` I/II and rated ``power_kw``;
    ``iso10816-3``: machine ``group`` 1/2 (default from ``power_kw``: ≥ 300 kW is group 1)
    and ``support`` rigid/flexible."""
    if standard == "iso10816-7":
        if category not in ("I", "II"):
            raise ValueError(f"ISO 10816-7 pump category must be I or II, not {category!r}")
        ab, bc, cd = ISO_10816_7[(category, power_kw <= 200)]
        size = "≤ 200 kW" if power_kw <= 200 else "> 200 kW"
        return ZoneLimits(ab, bc, cd, f"ISO 10816-7:2009 Table A.1, category {category}, {size}")
    if standard == "iso10816-3":
        g = group or ("1" if power_kw >= 300 else "2")
        if (g, support) not in ISO_10816_3:
            raise ValueError(
                f"ISO 10816-3 needs group 1/2 and support rigid/flexible, got {g}/{support}"
            )
        ab, bc, cd = ISO_10816_3[(g, support)]
        return ZoneLimits(ab, bc, cd, f"ISO 10816-3:2009 Table A.1, group {g}, {support} support")
    raise ValueError(f"unknown standard {standard!r}: iso10816-3 or iso10816-7")


def zone(velocity_rms_mm_s: float, limits: ZoneLimits) -> str:
    """Zone letter for a velocity r.m.s. (mm/s); a value on a boundary is in the upper zone."""
    v = velocity_rms_mm_s
    if v < limits.ab:
        return "A"
    if v < limits.bc:
        return "B"
    if v < limits.cd:
        return "C"
    return "D"


def iso_band(rpm: float | None) -> tuple[float, float]:
    """Measurement band of ISO 10816-3: 10–1000 Hz above 600 rpm, 2–1000 Hz at or below."""
    return (2.0, 1000.0) if rpm is not None and rpm <= 600 else (10.0, 1000.0)


@dataclass(frozen=True)
class Severity:
    """Worst-axis velocity r.m.s. (mm/s), its zone, and each axis's value."""

    velocity_rms_mm_s: float
    zone: str
    per_axis: dict[str, float]
    limits: ZoneLimits
    band_hz: tuple[float, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "velocity_rms_mm_s": round(self.velocity_rms_mm_s, 4),
            "zone": self.zone,
            "zone_text": {"zh": ZONE_TEXT[self.zone][0], "en": ZONE_TEXT[self.zone][1]},
            "per_axis": {k: round(v, 4) for k, v in self.per_axis.items()},
            "limits_mm_s": {"A/B": self.limits.ab, "B/C": self.limits.bc, "C/D": self.limits.cd},
            "limits_source": self.limits.source,
            "band_hz": list(self.band_hz),
        }


def severity(
    axes: np.ndarray | Sequence[np.ndarray],
    fs: float,
    *,
    rpm: float | None = None,
    limits: ZoneLimits | None = None,
    names: Sequence[str] | None = None,
) -> Severity:
    """Severity of a capture (acceleration m/s², one row per axis): the worst axis decides."""
    rows = np.atleast_2d(np.asarray(axes, dtype=float))
    lim = limits or default_limits()
    band = iso_band(rpm)
    labels = list(names) if names is not None else [f"ch{i + 1}" for i in range(rows.shape[0])]
    per = {lab: velocity_rms(r, fs, band) for lab, r in zip(labels, rows, strict=True)}
    worst = max(per.values())
    return Severity(worst, zone(worst, lim), per, lim, band)
