"""Order analysis (P8): resample a capture to uniform shaft angle, so lines that move with a
changing speed stay at fixed orders; speed from a once-per-revolution tacho, or estimated from
the spectrum near a nominal speed.

    pulses = tacho_pulse_times(tacho, fs, pulses_per_rev=1)          # s
    os_ = order_spectrum(acc, fs, pulse_times=pulses)                   # orders, amp
    fr = estimate_running_speed(acc, fs, rpm_hint=2970.0) / 60          # Hz
    os_ = order_spectrum(acc, fs, rpm=2965.0)                           # constant speed
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.vibration.dsp import as_signal, detrend, window
from analytics.vibration.spectrum import amplitude_spectrum, to_velocity


@dataclass(frozen=True)
class OrderSpectrum:
    """Orders of running speed and peak amplitudes (unit of the input)."""

    orders: np.ndarray
    amp: np.ndarray
    samples_per_rev: int
    revolutions: float
    mean_rpm: float

    def at(self, order: float, tol: float = 0.05) -> float:
        m = np.abs(self.orders - order) <= tol
        return float(self.amp[m].max()) if np.any(m) else 0.0


def tacho_pulse_times(
    tacho: np.ndarray, fs: float, *, pulses_per_rev: int = 1, threshold: float | None = None
) -> np.ndarray:
    """Times (s) of one reference per revolution: rising crossings of ``threshold`` (default
    halfway between the signal's 5th and 95th percentiles), interpolated between samples."""
    t = as_signal(tacho, "tacho")
    lo, hi = np.percentile(t, [5, 95])
    if hi - lo <= 0:
        raise ValueError("tacho signal is flat: no pulses")
    thr = (lo + hi) / 2 if threshold is None else threshold
    i = np.flatnonzero((t[:-1] < thr) & (t[1:] >= thr))
    if i.size < 2:
        raise ValueError(f"tacho signal has {i.size} pulse(s); at least two are needed")
    frac = (thr - t[i]) / (t[i + 1] - t[i])
    times = (i + frac) / fs
    return times[::pulses_per_rev]


def shaft_angle(
    n: int, fs: float, *, pulse_times: np.ndarray | None = None, rpm: float | None = None
) -> np.ndarray:
    """Shaft angle in revolutions at each sample: from tacho pulses (one per revolution,
    interpolated linearly in time between pulses and extrapolated at the edges with the nearest
    interval's speed), or from a constant ``rpm``."""
    t = np.arange(n) / fs
    if pulse_times is not None:
        p = np.asarray(pulse_times, dtype=float)
        if p.size < 2:
            raise ValueError("at least two tacho pulses are needed")
        revs = np.arange(p.size, dtype=float)
        ang = np.interp(t, p, revs)
        before = t < p[0]
        after = t > p[-1]
        ang[before] = (t[before] - p[0]) / (p[1] - p[0])
        ang[after] = revs[-1] + (t[after] - p[-1]) / (p[-1] - p[-2])
        return ang
    if rpm is None or rpm <= 0:
        raise ValueError("order analysis needs tacho pulses or a positive rpm")
    return t * rpm / 60.0


def resample_to_angle(
    x: np.ndarray, angle_rev: np.ndarray, samples_per_rev: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Computed order tracking: ``x`` at uniform angle steps of 1/``samples_per_rev`` rev
    (linear interpolation; the input should be sampled well above the highest order wanted)."""
    a = as_signal(x)
    grid = (
        np.arange(
            np.ceil(angle_rev[0] * samples_per_rev), np.floor(angle_rev[-1] * samples_per_rev) + 1
        )
        / samples_per_rev
    )
    if grid.size < 16:
        raise ValueError("capture spans too few revolutions for order analysis")
    return grid, np.interp(grid, angle_rev, a)


def order_spectrum(
    x: np.ndarray,
    fs: float,
    *,
    pulse_times: np.ndarray | None = None,
    rpm: float | None = None,
    samples_per_rev: int = 64,
    window_name: str = "hann",
) -> OrderSpectrum:
    """Peak-amplitude spectrum over orders (0 … samples_per_rev/2) of the angle-resampled
    capture; orders resolution is 1 / number of revolutions."""
    a = as_signal(x)
    ang = shaft_angle(a.size, fs, pulse_times=pulse_times, rpm=rpm)
    grid, y = resample_to_angle(a, ang, samples_per_rev)
    y = detrend(y)
    w = window(window_name, y.size)
    amp = np.abs(np.fft.rfft(y * w)) * 2 / w.sum()
    orders = np.fft.rfftfreq(y.size, 1.0 / samples_per_rev)
    revs = float(grid[-1] - grid[0])
    mean_rpm = float((ang[-1] - ang[0]) / ((a.size - 1) / fs) * 60)
    return OrderSpectrum(orders, amp, samples_per_rev, revs, mean_rpm)


def estimate_running_speed(
    acc: np.ndarray,
    fs: float,
    *,
    rpm_hint: float | None = None,
    search: float = 0.05,
    rpm_range: tuple[float, float] = (300.0, 6000.0),
    harmonics: int = 3,
) -> float:
    """Running speed (rpm) as the frequency whose first ``harmonics`` multiples carry the most
    velocity amplitude (harmonic sum), searched within ±``search`` of ``rpm_hint`` or over
    ``rpm_range``; the 1× line is then located to a fraction of a spectral line."""
    a = as_signal(acc)
    s = amplitude_spectrum(a, fs, window="hann")
    v = to_velocity(s, f_low=1.0)
    if rpm_hint is not None:
        lo, hi = rpm_hint * (1 - search) / 60, rpm_hint * (1 + search) / 60
    else:
        lo, hi = rpm_range[0] / 60, rpm_range[1] / 60
    hi = min(hi, v.freqs[-1] / harmonics)
    if hi <= lo:
        raise ValueError("speed search range is outside the spectrum")
    step = v.resolution_hz / (4 * harmonics)
    cand = np.arange(lo, hi + step, step)
    score = np.zeros_like(cand)
    # Weight 1/k: the fundamental dominates, harmonics settle ties between adjacent lines.
    for k in range(1, harmonics + 1):
        score += np.interp(k * cand, v.freqs, v.amp) / k
    best = float(cand[int(np.argmax(score))])
    # Refine to a fraction of a line: Gaussian (log-parabolic) interpolation of the 1× peak,
    # exact for a Hann-windowed tone to within ~1 % of a line.
    i = int(np.argmin(np.abs(v.freqs - best)))
    lo_i, hi_i = max(1, i - 1), min(v.amp.size - 2, i + 1)
    i = lo_i + int(np.argmax(v.amp[lo_i : hi_i + 1]))
    y0, y1, y2 = (np.log(max(v.amp[j], 1e-300)) for j in (i - 1, i, i + 1))
    den = y0 - 2 * y1 + y2
    delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    return float((v.freqs[i] + delta * v.resolution_hz) * 60)
