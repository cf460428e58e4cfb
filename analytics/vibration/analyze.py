"""The full analysis of one capture: severity, speed, bearing frequencies, spectra, envelope,
cepstrum, rules and classifier, in one result that the CLI prints and pages display.

    res = analyze_capture(acc_xyz, fs=25600.0, rpm=2970.0, names=("X", "Y", "Z"),
                          bearing=catalogue_entry("6205").orders, model=load_latest(store))
    res.to_json()          # the object ``hazwatch vib analyze --json`` prints
    res.features["X"].velocity.freqs, ....amp      # spectra for plotting (not in the JSON)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.vibration.bearings import DefectFrequencies, DefectOrders
from analytics.vibration.cepstrum import real_cepstrum
from analytics.vibration.diagnosis import Model, combine
from analytics.vibration.dsp import band_max, find_peaks_spectrum, noise_floor
from analytics.vibration.faults import Finding, apply_rules
from analytics.vibration.features import AxisFeatures, axis_features
from analytics.vibration.orders import estimate_running_speed
from analytics.vibration.severity import Severity, ZoneLimits, severity
from analytics.vibration.spectrum import amplitude_spectrum, to_velocity

G = 9.80665
LEVEL_UNITS = {"m/s2": 1.0, "g": G}


@dataclass
class AnalysisResult:
    """Everything about one capture; ``to_dict``/``to_json`` give the CLI's JSON object."""

    fs: float
    rpm_nominal: float
    rpm: float
    rpm_source: str
    unit: str
    names: tuple[str, ...]
    samples: int
    bearing_frequencies: DefectFrequencies | None
    severity: Severity | None
    features: dict[str, AxisFeatures] = field(repr=False)
    spectrum_axis: str = ""
    envelope_axis: str = ""
    spectrum_peaks: list[dict[str, Any]] = field(default_factory=list)
    envelope_peaks: list[dict[str, Any]] = field(default_factory=list)
    cepstrum_peaks: list[dict[str, Any]] = field(default_factory=list)
    diagnosis: list[Finding] = field(default_factory=list)
    model_version: int | None = None
    classifier: dict[str, float] | None = None

    @property
    def state(self) -> str:
        return "normal" if not self.diagnosis else self.diagnosis[0].fault

    def to_dict(self) -> dict[str, Any]:
        bf = self.bearing_frequencies
        return {
            "sample_rate_hz": self.fs,
            "samples": self.samples,
            "axes": list(self.names),
            "unit": self.unit,
            "speed": {
                "rpm_nominal": self.rpm_nominal,
                "rpm": round(self.rpm, 2),
                "fr_hz": round(self.rpm / 60, 4),
                "source": self.rpm_source,
            },
            "bearing_frequencies": None
            if bf is None
            else {k: round(getattr(bf, k), 4) for k in ("ftf", "bsf", "bpfo", "bpfi")},
            "spectrum_axis": self.spectrum_axis,
            "spectrum_unit": "mm/s" if self.unit in LEVEL_UNITS else f"{self.unit}/s*1e3",
            "spectrum_peaks": self.spectrum_peaks,
            "envelope_axis": self.envelope_axis,
            "envelope_band_hz": self.features[self.envelope_axis].band.to_dict()
            if self.envelope_axis
            else None,
            "envelope_peaks": self.envelope_peaks,
            "cepstrum_peaks": self.cepstrum_peaks,
            "severity": None if self.severity is None else self.severity.to_dict(),
            "state": self.state,
            "diagnosis": [f.to_dict() for f in self.diagnosis],
            "classifier": None
            if self.classifier is None
            else {
                "model_version": self.model_version,
                "proba": {k: round(v, 4) for k, v in self.classifier.items()},
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _refine_speed(acc: np.ndarray, fs: float, rpm: float) -> tuple[float, str]:
    """Running speed from the spectrum within ±2 % of nominal, used only when its 1× line
    clearly stands out (≥ 5× the local floor); otherwise the nominal speed."""
    try:
        est = estimate_running_speed(acc, fs, rpm_hint=rpm, search=0.02, harmonics=2)
    except ValueError:
        return rpm, "nominal"
    v = to_velocity(amplitude_spectrum(acc, fs), f_low=1.0)
    fr = est / 60
    _, line = band_max(v.freqs, v.amp, fr, 2 * v.resolution_hz)
    floor = noise_floor(v.freqs, v.amp, fr, max(0.3 * fr, 10 * v.resolution_hz))
    if floor > 0 and line / floor >= 5:
        return est, "spectrum"
    return rpm, "nominal"


def analyze_capture(
    axes: np.ndarray | Sequence[np.ndarray],
    fs: float,
    rpm: float,
    *,
    names: Sequence[str] | None = None,
    bearing: DefectOrders | None = None,
    unit: str = "m/s2",
    limits: ZoneLimits | None = None,
    band: tuple[float, float] | None = None,
    model: Model | None = None,
    n_peaks: int = 10,
) -> AnalysisResult:
    """Analyse a capture: ``axes`` one row per axis (acceleration in ``unit``: m/s², g, or any
    other unit for shape-only analysis without severity), ``rpm`` the nominal running speed."""
    rows = np.atleast_2d(np.asarray(axes, dtype=float))
    if fs <= 0:
        raise ValueError("--fs: the sample rate must be positive")
    if rpm <= 0:
        raise ValueError("--rpm: the running speed must be positive")
    if rpm / 60 * 3 >= fs / 2:
        raise ValueError(f"--rpm {rpm:g} is too fast for {fs:g} Hz sampling (3× above Nyquist)")
    labels = tuple(names) if names is not None else ("X", "Y", "Z")[: rows.shape[0]]
    if len(labels) != rows.shape[0]:
        raise ValueError(f"{len(labels)} axis names for {rows.shape[0]} axes")
    level_known = unit in LEVEL_UNITS
    if level_known:
        rows = rows * LEVEL_UNITS[unit]
    radial = [i for i, n in enumerate(labels) if n != "Z"] or [0]
    rpm_used, source = _refine_speed(rows[radial[0]], fs, rpm)
    fr = rpm_used / 60
    defects = bearing.at(fr) if bearing is not None else None
    sev = severity(rows, fs, rpm=rpm_used, limits=limits, names=labels) if level_known else None
    feats = {
        n: axis_features(r, fs, fr, defects, band=band) for n, r in zip(labels, rows, strict=True)
    }

    rules = apply_rules(feats, severity=sev, defects=defects, level_known=level_known)
    proba = model.predict_proba([f.vector for f in feats.values()]) if model else None
    diagnosis = combine(
        rules,
        proba,
        level_known=level_known,
        zone=sev.zone if sev else None,
        model_version=model.version if model else None,
    )

    spec_axis = max(feats, key=lambda k: feats[k].velocity_rms_mm_s)
    sv = feats[spec_axis].velocity
    top_f = min(sv.freqs[-1], max(1000.0, 12 * fr))
    spectrum_peaks = [
        p.to_dict()
        for p in find_peaks_spectrum(sv.freqs, sv.amp, n=n_peaks, fmin=0.3 * fr, fmax=top_f, fr=fr)
    ]

    def env_strength(k: str) -> float:
        return max((max(v) for v in feats[k].env_snr.values()), default=float(feats[k].vector[15]))

    env_axis = max(feats, key=env_strength)
    es = feats[env_axis].envelope
    env_top = (
        es.freqs[-1]
        if defects is None
        else min(es.freqs[-1], 4 * max(defects.bpfi, 2 * defects.bsf))
    )
    envelope_peaks = [
        p.to_dict()
        for p in find_peaks_spectrum(
            es.freqs, es.amp, n=n_peaks, fmin=0.3 * fr, fmax=env_top, fr=fr
        )
    ]
    ceps = real_cepstrum(rows[radial[0]], fs)
    cepstrum_peaks = ceps.peaks(n=5, q_min=1 / min(fs / 4, 50 * fr), q_max=2.5 / fr)
    return AnalysisResult(
        fs=fs,
        rpm_nominal=rpm,
        rpm=rpm_used,
        rpm_source=source,
        unit=unit,
        names=labels,
        samples=int(rows.shape[1]),
        bearing_frequencies=defects,
        severity=sev,
        features=feats,
        spectrum_axis=spec_axis,
        envelope_axis=env_axis,
        spectrum_peaks=spectrum_peaks,
        envelope_peaks=envelope_peaks,
        cepstrum_peaks=cepstrum_peaks,
        diagnosis=diagnosis,
        model_version=model.version if model else None,
        classifier=proba,
    )
