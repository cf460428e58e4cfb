"""What the rules and the classifier look at, computed once per axis of a capture.

``axis_features`` takes one axis (acceleration, m/s², or any unit for the shape features),
the running speed and optional bearing defect frequencies, and returns the spectra it built
(for display and evidence) plus a fixed-length vector of *shape* features: ratios, line-to-noise
ratios and statistics that do not depend on the unit or the gain of the sensor, so real
measurements in other units (pybearing's force and sound-pressure recordings) sit beside
simulated accelerations. The vibration level itself is not a feature: severity zones judge it.

    af = axis_features(acc, fs=25600.0, fr_hz=49.5, defects=orders.at(49.5))
    af.vector          # np.ndarray, FEATURE_NAMES order
    af.order_amp[1.0]  # 1× velocity amplitude, mm/s peak
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.vibration.bearings import DefectFrequencies
from analytics.vibration.dsp import as_signal, band_max, crest_factor, kurtosis, noise_floor
from analytics.vibration.envelope import BandChoice, envelope_spectrum, select_band
from analytics.vibration.spectrum import Spectrum, amplitude_spectrum, to_velocity

ORDERS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
HALF_ORDERS = (0.5, 1.5, 2.5, 3.5)
HIGH_ORDERS = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
#: Envelope targets: the defect frequency whose harmonics a fault repeats (ball: 2·BSF).
ENV_TARGETS = ("bpfo", "bpfi", "bsf2", "ftf")
FEATURE_NAMES = (
    "log_1x_share",
    "log_2x_over_1x",
    "log_3x_over_1x",
    "log_half_over_1x",
    "log_high_over_1x",
    "high_count_frac",
    "log_kurtosis",
    "log_crest",
    "hf_fraction",
    "env_snr_bpfo",
    "env_snr_bpfi",
    "env_snr_bsf2",
    "env_snr_ftf",
    "env_sideband_bpfi",
    "env_sideband_ftf",
    "env_max_snr",
    "ceps_bpfo",
    "ceps_bpfi",
)
_EPS = 1e-9


@dataclass
class AxisFeatures:
    """Everything computed for one axis; ``vector`` follows FEATURE_NAMES."""

    fr_hz: float
    velocity: Spectrum = field(repr=False)
    envelope: Spectrum = field(repr=False)
    band: BandChoice
    order_amp: dict[float, float]
    env_snr: dict[str, list[float]]
    env_sidebands: dict[str, float]
    kurtosis: float
    crest: float
    hf_fraction: float
    velocity_rms_mm_s: float
    vector: np.ndarray = field(repr=False)


def _order_tol(fr: float, df: float, order: float) -> float:
    # Speed is known to ~1 %; the tolerance widens with the order but never below two lines.
    return max(2 * df, 0.01 * order * fr)


def envelope_snr(
    es: Spectrum, f0: float, harmonics: int = 3, rel_tol: float = 0.012, fr_hz: float = 0.0
) -> list[float]:
    """Line-to-local-floor ratio of the envelope spectrum at ``f0``·k, k = 1..harmonics (1.0
    means nothing there). The floor is the median over ±max(0.25·f0, 10 lines)."""
    df = es.resolution_hz
    out = []
    for k in range(1, harmonics + 1):
        fk = k * f0
        if fk >= es.freqs[-1] - 2 * df or fk < 2 * df:
            out.append(1.0)
            continue
        _, peak = band_max(es.freqs, es.amp, fk, max(2 * df, rel_tol * fk))
        if fr_hz > 0 and _on_shaft_comb(es, fk, fr_hz, peak):
            out.append(1.0)  # part of a comb of shaft half-orders (looseness): not counted
            continue
        floor = noise_floor(es.freqs, es.amp, fk, max(0.25 * f0, 10 * df))
        out.append(peak / floor if floor > 0 else 1.0)
    return out


def _on_shaft_comb(es: Spectrum, fk: float, fr_hz: float, peak: float) -> bool:
    """True when ``fk`` sits on a shaft half-order and both neighbouring half-orders carry
    lines of similar height: a looseness comb, not a bearing family."""
    half = fr_hz / 2
    df = es.resolution_hz
    if abs(fk - round(fk / half) * half) > max(2 * df, 0.005 * fk):
        return False
    tol = max(2 * df, 0.005 * fk)
    left = band_max(es.freqs, es.amp, fk - half, tol)[1]
    right = band_max(es.freqs, es.amp, fk + half, tol)[1]
    return min(left, right) >= 0.5 * peak


def _sideband_snr(es: Spectrum, f0: float, spacing: float) -> float:
    """Mean line-to-floor ratio at f0 ± spacing (inner race: ±1×, ball: ±FTF)."""
    df = es.resolution_hz
    vals = []
    for f in (f0 - spacing, f0 + spacing):
        if f <= 2 * df or f >= es.freqs[-1] - 2 * df:
            continue
        _, peak = band_max(es.freqs, es.amp, f, max(2 * df, 0.012 * f))
        floor = noise_floor(es.freqs, es.amp, f, max(0.25 * f0, 10 * df))
        vals.append(peak / floor if floor > 0 else 1.0)
    return float(np.mean(vals)) if vals else 1.0


def _ceps_ratio(x: np.ndarray, fs: float, f0: float) -> float:
    """Cepstral rahmonic at 1/f0 relative to the cepstrum's spread around it."""
    from analytics.vibration.cepstrum import real_cepstrum

    c = real_cepstrum(x, fs)
    q0 = 1 / f0
    m = (c.quefrency > 0.5 * q0) & (c.quefrency < 1.5 * q0)
    if not np.any(m):
        return 0.0
    spread = float(np.std(c.values[m])) + _EPS
    return c.at_frequency(f0, 0.015) / spread


def axis_features(
    acc: np.ndarray,
    fs: float,
    fr_hz: float,
    defects: DefectFrequencies | None = None,
    *,
    band: tuple[float, float] | None = None,
    cepstrum: bool = True,
) -> AxisFeatures:
    """Spectra, envelope and shape features of one axis; ``band`` overrides the kurtogram."""
    a = as_signal(acc)
    if fr_hz <= 0:
        raise ValueError("running speed must be positive")
    spec = amplitude_spectrum(a, fs)
    vel = to_velocity(spec, f_low=min(10.0, 0.4 * fr_hz))
    df = vel.resolution_hz
    order_amp = {
        o: band_max(vel.freqs, vel.amp, o * fr_hz, _order_tol(fr_hz, df, o))[1] for o in ORDERS
    }
    lo_hz, hi_hz = (2.0, 1000.0) if fr_hz * 60 <= 600 else (10.0, 1000.0)
    vrms = vel.band_rms(lo_hz, max(hi_hz, 12 * fr_hz))

    # Demodulation band: wide enough for 3rd harmonics of BPFI with sidebands.
    top_defect = max(defects.bpfi, 2 * defects.bsf) if defects else 10 * fr_hz
    min_bw = min(fs / 4, max(fs / 64, 3.5 * top_defect + 2 * fr_hz))
    if band is not None:
        choice = BandChoice(band[0], band[1], None, "user")
    else:
        targets = (defects.bpfo, defects.bpfi, 2 * defects.bsf) if defects else ()
        choice = select_band(
            a, fs, min_bandwidth=min_bw, f_min=max(0.05 * fs / 2, 20 * fr_hz), targets=targets
        )
    es = envelope_spectrum(a, fs, band=(choice.lo, choice.hi))

    env_snr: dict[str, list[float]] = {}
    side: dict[str, float] = {}
    if defects is not None:
        env_snr = {
            "bpfo": envelope_snr(es, defects.bpfo, fr_hz=fr_hz),
            "bpfi": envelope_snr(es, defects.bpfi, fr_hz=fr_hz),
            "bsf2": envelope_snr(es, 2 * defects.bsf, fr_hz=fr_hz),
            "ftf": envelope_snr(es, defects.ftf, fr_hz=fr_hz),
        }
        side = {
            "bpfi": _sideband_snr(es, defects.bpfi, fr_hz),
            "bsf2": _sideband_snr(es, 2 * defects.bsf, defects.ftf),
        }
    # Strongest line anywhere between 0.3× and 12× the top defect frequency.
    m = (es.freqs > 0.3 * fr_hz) & (es.freqs < min(es.freqs[-1], 12 * max(top_defect, fr_hz)))
    env_max = 1.0
    if np.count_nonzero(m) > 20:
        floor = float(np.median(es.amp[m])) + _EPS
        env_max = float(es.amp[m].max() / floor)

    power = np.abs(np.fft.rfft(a - a.mean())) ** 2
    f = np.fft.rfftfreq(a.size, 1 / fs)
    hf_from = min(max(40 * fr_hz, fs / 12), 0.45 * fs)
    hf = float(power[f >= hf_from].sum() / (power.sum() + _EPS))

    one = order_amp[1.0] + _EPS
    half = sum(order_amp[o] for o in HALF_ORDERS)
    high = float(np.sqrt(sum(order_amp[o] ** 2 for o in HIGH_ORDERS)))
    count = sum(1 for o in HIGH_ORDERS if order_amp[o] > 0.15 * one) / len(HIGH_ORDERS)
    k = kurtosis(a)
    cf = crest_factor(a)

    def lsnr(name: str) -> float:
        v = env_snr.get(name)
        return float(np.log10(max(1.0, np.mean(sorted(v)[-2:])))) if v else 0.0

    ceps_o = _ceps_ratio(a, fs, defects.bpfo) if (cepstrum and defects) else 0.0
    ceps_i = _ceps_ratio(a, fs, defects.bpfi) if (cepstrum and defects) else 0.0
    vec = np.array(
        [
            np.log10(one / (vrms * np.sqrt(2) + _EPS) + _EPS),
            np.log10((order_amp[2.0] + _EPS) / one),
            np.log10((order_amp[3.0] + _EPS) / one),
            np.log10((half + _EPS) / one),
            np.log10((high + _EPS) / one),
            count,
            np.log10(max(k, _EPS)),
            np.log10(max(cf, _EPS)),
            hf,
            lsnr("bpfo"),
            lsnr("bpfi"),
            lsnr("bsf2"),
            lsnr("ftf"),
            np.log10(max(1.0, side.get("bpfi", 1.0))),
            np.log10(max(1.0, side.get("bsf2", 1.0))),
            np.log10(env_max),
            ceps_o,
            ceps_i,
        ]
    )
    vec = np.clip(np.nan_to_num(vec, nan=0.0, posinf=6.0, neginf=-6.0), -6, 6)
    return AxisFeatures(fr_hz, vel, es, choice, order_amp, env_snr, side, k, cf, hf, vrms, vec)
