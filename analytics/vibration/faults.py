"""Fault rules (P3, P4): each finding names the fault, its evidence (which lines at which
orders), a severity grade and a maintenance suggestion in Chinese and English.

The rules are the classic spectrum/envelope signatures (e.g. SKF "Vibration diagnostic guide"
CM5003; Randall & Antoni 2011; ISO 13373-3 guidance):

* unbalance: 1× radial dominates the velocity spectrum (≥ 75 % of the overall amplitude),
  2× small, axial 1× small; level beyond zone A;
* misalignment: 2× radial ≥ 75 % of 1×, or axial 1× ≥ 60 % of radial 1×; level beyond zone A;
* mechanical looseness: a comb of harmonics (≥ 4 of 3×…10× above 15 % of 1×) or ½-order
  subharmonics (≥ 30 % of 1×); level beyond zone A;
* bearing outer race / inner race / rolling element / cage: the envelope spectrum shows the
  defect family — BPFO, BPFI (with ±1× sidebands), 2·BSF (with ±FTF sidebands), FTF — at two
  of its first three harmonics ≥ 4× the local floor (a harmonic on a comb of shaft
  half-orders is not counted: looseness mimics it); families under a third of the strongest
  one are dropped (shared lines);
* cavitation: most acceleration energy above max(40×, fs/12), impulsive (kurtosis > 3.5),
  but no discrete envelope lines (random bubble collapse) and no bearing family.

The level gates apply only to captures in m/s² or g (``level_known``); other units
(pybearing's force and sound-pressure recordings) get the bearing rules only.

    findings = apply_rules({"X": afx, "Y": afy, "Z": afz}, severity=sev, defects=df)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from analytics.vibration.bearings import DefectFrequencies
from analytics.vibration.features import HALF_ORDERS, HIGH_ORDERS, AxisFeatures
from analytics.vibration.severity import Severity

FAULTS = (
    "unbalance",
    "misalignment",
    "looseness",
    "bearing_outer_race",
    "bearing_inner_race",
    "bearing_ball",
    "bearing_cage",
    "cavitation",
)
#: What a person may record as the fault of a case or defect: a diagnosable one, or another.
RECORDED_FAULTS = (*FAULTS, "other")
FAULT_NAMES = {
    "unbalance": ("转子不平衡", "unbalance"),
    "misalignment": ("不对中", "misalignment"),
    "looseness": ("机械松动", "mechanical looseness"),
    "bearing_outer_race": ("轴承外圈故障", "bearing outer race defect"),
    "bearing_inner_race": ("轴承内圈故障", "bearing inner race defect"),
    "bearing_ball": ("轴承滚动体故障", "bearing rolling element defect"),
    "bearing_cage": ("轴承保持架故障", "bearing cage defect"),
    "cavitation": ("汽蚀", "cavitation"),
    "normal": ("正常", "normal"),
}
SUGGESTIONS = {
    "unbalance": (
        "检查叶轮结垢、磨损或缺损，必要时现场动平衡；复查联轴器与叶轮紧固。",
        "Inspect the impeller for deposits, wear or missing material; balance in place if "
        "needed; check that coupling and impeller are secure.",
    ),
    "misalignment": (
        "停机复查泵与电机对中（激光对中），检查管道应力与联轴器磨损，热态下复核。",
        "Re-check pump-to-motor alignment (laser), pipe strain and coupling wear; verify "
        "alignment at operating temperature.",
    ),
    "looseness": (
        "检查地脚螺栓、底座灌浆、轴承座与轴承压盖紧固及配合间隙，紧固并消除松动。",
        "Check hold-down bolts, baseplate grout, bearing housing and cap fits and clearances; "
        "tighten and correct.",
    ),
    "bearing_outer_race": (
        "轴承外圈出现剥落迹象：缩短监测周期，检查润滑与温度，计划更换轴承。",
        "Outer-race spalling: shorten the monitoring interval, check lubrication and "
        "temperature, plan a bearing replacement.",
    ),
    "bearing_inner_race": (
        "轴承内圈损伤：检查润滑与配合，尽快安排更换轴承，避免发展为抱轴。",
        "Inner-race damage: check lubrication and fits; replace the bearing soon, before it "
        "can seize.",
    ),
    "bearing_ball": (
        "滚动体损伤：检查润滑油品与污染，计划更换轴承。",
        "Rolling-element damage: check the lubricant and contamination, plan a bearing "
        "replacement.",
    ),
    "bearing_cage": (
        "保持架故障通常发展很快：立即检查润滑，尽快停机更换轴承。",
        "Cage faults develop fast: check lubrication now and replace the bearing at the "
        "earliest stop.",
    ),
    "cavitation": (
        "检查入口压力与液位、入口过滤器堵塞与介质温度，确认有效汽蚀余量（NPSHa）充足，避免小流量运行。",
        "Check suction pressure and level, suction strainer and fluid temperature; make sure "
        "NPSH available is sufficient; avoid running at low flow.",
    ),
}
GRADES = {
    "low": ("轻微", "minor"),
    "medium": ("中等", "moderate"),
    "high": ("严重", "severe"),
}
#: Line-to-floor ratio a defect harmonic needs to count (two of the first three must).
MIN_SNR = 4.0
RADIAL = ("X", "Y")
AXIAL = ("Z",)


@dataclass
class Finding:
    """A diagnosed fault: ``confidence`` 0–1, ``grade`` low/medium/high, evidence lines."""

    fault: str
    confidence: float
    grade: str
    evidence: list[dict[str, object]] = field(default_factory=list)
    source: str = "rules"

    def to_dict(self) -> dict[str, object]:
        zh, en = FAULT_NAMES[self.fault]
        return {
            "fault": self.fault,
            "confidence": round(float(self.confidence), 3),
            "grade": self.grade,
            "name": {"zh": zh, "en": en},
            "grade_text": {"zh": GRADES[self.grade][0], "en": GRADES[self.grade][1]},
            "evidence": self.evidence,
            "suggestion": (
                {"zh": SUGGESTIONS[self.fault][0], "en": SUGGESTIONS[self.fault][1]}
                if self.fault in SUGGESTIONS
                else None
            ),
            "source": self.source,
        }


def _line(axis: str, af: AxisFeatures, order: float) -> dict[str, object]:
    amp = af.order_amp[order]
    return {
        "axis": axis,
        "kind": "velocity",
        "order": order,
        "freq": round(order * af.fr_hz, 3),
        "amp": round(amp, 4),
        "unit": "mm/s",
        "text": f"{axis} {order:g}× ({order * af.fr_hz:.1f} Hz): {amp:.3g} mm/s pk",
    }


def _level_grade(sev: Severity | None, level_known: bool) -> str:
    if not level_known or sev is None:
        return "medium"
    return {"A": "low", "B": "low", "C": "medium", "D": "high"}[sev.zone]


def _conf(x: float, lo: float, hi: float) -> float:
    """0.5 at ``lo``, 1.0 at ``hi`` (log scale), clipped."""
    if x <= 0:
        return 0.5
    t = (math.log10(x) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return float(np.clip(0.5 + 0.5 * t, 0.5, 0.99))


def _pick(axes: Mapping[str, AxisFeatures], names: tuple[str, ...]) -> dict[str, AxisFeatures]:
    sel = {k: v for k, v in axes.items() if k in names}
    return sel or {k: v for k, v in axes.items() if k not in AXIAL}


def shaft_rules(
    axes: Mapping[str, AxisFeatures], sev: Severity | None, level_known: bool
) -> list[Finding]:
    """Unbalance, misalignment, looseness from the velocity spectra of the axes."""
    out: list[Finding] = []
    if level_known and sev is not None and sev.zone == "A":
        return out  # smooth running: shaft-order patterns are normal residuals
    radial = _pick(axes, RADIAL)
    axial = {k: v for k, v in axes.items() if k in AXIAL}
    # The radial axis with the largest 1× represents the machine.
    rk, ra = max(radial.items(), key=lambda kv: kv[1].order_amp[1.0])
    one = ra.order_amp[1.0]
    two = ra.order_amp[2.0]
    share = one / (math.sqrt(2) * ra.velocity_rms_mm_s + 1e-12)
    ax_one = max((a.order_amp[1.0] for a in axial.values()), default=0.0)
    ax_two = max((a.order_amp[2.0] for a in axial.values()), default=0.0)
    grade = _level_grade(sev, level_known)

    if share >= 0.75 and two < 0.5 * one and (not axial or ax_one < 0.5 * one):
        ev = [_line(rk, ra, 1.0), _line(rk, ra, 2.0)]
        ev.append({"text": f"1× carries {share:.0%} of the {rk} velocity amplitude"})
        if axial:
            zk = next(iter(axial))
            ev.append(_line(zk, axial[zk], 1.0))
        out.append(Finding("unbalance", _conf(share / 0.6, 1.25, 1.6), grade, ev))

    mis_radial = two >= 0.75 * one
    mis_axial = bool(axial) and ax_one >= 0.6 * one and ax_one > 0
    if mis_radial or mis_axial:
        ev = [_line(rk, ra, 1.0), _line(rk, ra, 2.0)]
        ratio = max(two / (one + 1e-12), ax_one / (one + 1e-12) / 0.8)
        if axial:
            zk = next(iter(axial))
            ev += [_line(zk, axial[zk], 1.0), _line(zk, axial[zk], 2.0)]
            ev.append(
                {
                    "text": f"axial 1× / radial 1× = {ax_one / (one + 1e-12):.2f}, "
                    f"axial 2× {ax_two:.3g} mm/s"
                }
            )
        ev.append({"text": f"radial 2× / 1× = {two / (one + 1e-12):.2f}"})
        out.append(Finding("misalignment", _conf(ratio, 0.75, 3.0), grade, ev))

    best_loose = None
    for k, a in axes.items():
        o1 = a.order_amp[1.0] + 1e-12
        highs = [o for o in HIGH_ORDERS if a.order_amp[o] > 0.15 * o1]
        halves = [o for o in HALF_ORDERS if a.order_amp[o] > 0.1 * o1]
        half_sum = sum(a.order_amp[o] for o in HALF_ORDERS)
        if len(highs) >= 4 or (len(halves) >= 2 and half_sum >= 0.3 * o1):
            score = len(highs) / 4 + half_sum / o1
            if best_loose is None or score > best_loose[0]:
                best_loose = (score, k, a, highs, halves)
    if best_loose:
        score, k, a, highs, halves = best_loose
        ev = [_line(k, a, o) for o in (1.0, *highs[:4], *halves[:3])]
        ev.append({"text": f"{k}: {len(highs)} harmonics of 3×–10× and {len(halves)} half-orders"})
        out.append(Finding("looseness", _conf(score, 1.0, 4.0), grade, ev))
    return out


_FAMILY = {
    "bearing_outer_race": ("bpfo", "BPFO", None),
    "bearing_inner_race": ("bpfi", "BPFI", "bpfi"),
    "bearing_ball": ("bsf2", "2×BSF", "bsf2"),
    "bearing_cage": ("ftf", "FTF", None),
}


def _family_freq(d: DefectFrequencies, key: str) -> float:
    return {"bpfo": d.bpfo, "bpfi": d.bpfi, "bsf2": 2 * d.bsf, "ftf": d.ftf}[key]


def bearing_rules(
    axes: Mapping[str, AxisFeatures],
    defects: DefectFrequencies | None,
    sev: Severity | None,
    level_known: bool,
) -> list[Finding]:
    """Bearing families in the envelope spectra; the best axis for each family reports."""
    if defects is None:
        return []
    cand: list[tuple[float, Finding]] = []
    for fault, (key, label, side_key) in _FAMILY.items():
        best = None
        for k, a in axes.items():
            snr = a.env_snr.get(key, [1.0, 1.0, 1.0])
            strong = sorted(snr)[-2:]
            if sum(1 for s in snr if s >= MIN_SNR) >= 2:
                score = float(np.mean(strong))
                side = a.env_sidebands.get(side_key, 1.0) if side_key else 1.0
                if best is None or score > best[0]:
                    best = (score, k, a, snr, side)
        if best is None:
            continue
        score, k, a, snr, side = best
        f0 = _family_freq(defects, key)
        ev: list[dict[str, object]] = []
        for h, s in enumerate(snr, start=1):
            ev.append(
                {
                    "axis": k,
                    "kind": "envelope",
                    "freq": round(h * f0, 3),
                    "order": round(h * f0 / defects.fr_hz, 3),
                    "snr": round(s, 2),
                    "text": f"{k} envelope {h}×{label} ({h * f0:.1f} Hz): {s:.1f}× local floor",
                }
            )
        if side_key:
            spacing = "1×" if key == "bpfi" else "FTF"
            ev.append({"text": f"{k} sidebands {label} ± {spacing}: {side:.1f}× local floor"})
        ev.append(
            {
                "text": f"{k} demodulation band {a.band.lo:.0f}–{a.band.hi:.0f} Hz "
                f"({a.band.method}), kurtosis {a.kurtosis:.1f}"
            }
        )
        if score >= 30 or (level_known and sev is not None and sev.zone == "D"):
            grade = "high"
        elif score >= 10 or (level_known and sev is not None and sev.zone == "C"):
            grade = "medium"
        else:
            grade = "low"
        bonus = 0.05 if side >= 2.0 else 0.0
        cand.append((score, Finding(fault, min(0.99, _conf(score, 3.0, 30.0) + bonus), grade, ev)))
    if not cand:
        return []
    top = max(s for s, _ in cand)
    return [f for s, f in cand if s >= top / 3]


def cavitation_rule(axes: Mapping[str, AxisFeatures], bearing_found: bool) -> list[Finding]:
    """Broadband, impulsive high-frequency energy without discrete envelope lines."""
    if bearing_found:
        return []
    best = None
    for k, a in axes.items():
        env_max = 10 ** float(a.vector[15])
        broadband = a.hf_fraction >= 0.5 and a.kurtosis > 3.5 and env_max < 20
        if broadband and (best is None or a.hf_fraction > best[1].hf_fraction):
            best = (k, a, env_max)
    if best is None:
        return []
    k, a, env_max = best
    ev: list[dict[str, object]] = [
        {
            "axis": k,
            "text": f"{k}: {a.hf_fraction:.0%} of acceleration energy above "
            f"{max(40 * a.fr_hz, 0):.0f} Hz (broadband)",
        },
        {"axis": k, "text": f"{k}: kurtosis {a.kurtosis:.1f}, crest factor {a.crest:.1f} (bursts)"},
        {
            "axis": k,
            "text": f"{k}: strongest envelope line only {env_max:.1f}× the floor "
            "(no periodic impacts)",
        },
    ]
    grade = "high" if a.hf_fraction > 0.85 else "medium"
    return [Finding("cavitation", _conf(a.hf_fraction / 0.4, 1.25, 2.4), grade, ev)]


def apply_rules(
    axes: Mapping[str, AxisFeatures],
    *,
    severity: Severity | None,
    defects: DefectFrequencies | None,
    level_known: bool = True,
) -> list[Finding]:
    """All rules, strongest finding first."""
    if not axes:
        return []
    # Shaft and cavitation signatures are judged on calibrated vibration; a force or sound
    # recording only gets the bearing (envelope shape) rules.
    found = shaft_rules(axes, severity, level_known) if level_known else []
    bearing = bearing_rules(axes, defects, severity, level_known)
    found += bearing
    if level_known:
        found += cavitation_rule(axes, bool(bearing))
    return sorted(found, key=lambda f: f.confidence, reverse=True)
