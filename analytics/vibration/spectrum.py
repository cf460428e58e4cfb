"""Amplitude spectra, averaging, integration in the frequency domain, and waterfalls (P8).

Spectra are single-sided *peak* amplitudes: a sine of amplitude A reads A at its frequency
whatever the window (each window is amplitude-corrected by its coherent gain). Integration
divides each line by j·2πf, so a sine acceleration a·sin(2πft) (m/s²) becomes a velocity of
amplitude a/(2πf) (m/s, reported in mm/s) and a displacement of a/(2πf)² (m, reported in µm).

    s = amplitude_spectrum(acc, fs=25600.0, window="hann", segments=4, overlap=0.5)
    v = to_velocity(s)                      # mm/s peak, lines below 10 Hz set to zero
    d = to_displacement(s, f_low=2.0)       # µm peak
    vel = integrate_waveform(acc, fs)       # velocity waveform, mm/s
    w = waterfall([c1, c2, ...], fs, times=[...])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from analytics.vibration.dsp import as_signal, detrend, window

#: Unit of a spectrum after 0, 1 or 2 integrations of an acceleration in m/s².
UNITS = {"acceleration": "m/s2", "velocity": "mm/s", "displacement": "um"}
_SCALE = {"acceleration": 1.0, "velocity": 1e3, "displacement": 1e6}


@dataclass(frozen=True)
class Spectrum:
    """Frequencies (Hz) and single-sided peak amplitudes; ``kind`` says what was measured."""

    freqs: np.ndarray = field(repr=False)
    amp: np.ndarray = field(repr=False)
    kind: str = "acceleration"
    unit: str = "m/s2"
    window: str = "hann"
    averages: int = 1

    @property
    def resolution_hz(self) -> float:
        return float(self.freqs[1] - self.freqs[0])

    def at(self, f_hz: float, tol_hz: float | None = None) -> float:
        """Largest amplitude within ``f_hz ± tol_hz`` (default two lines)."""
        tol = 2 * self.resolution_hz if tol_hz is None else tol_hz
        m = np.abs(self.freqs - f_hz) <= tol
        return float(self.amp[m].max()) if np.any(m) else 0.0

    def band_rms(self, lo: float, hi: float) -> float:
        """RMS of the lines in [lo, hi] (peak amplitudes summed as powers, Hann ENBW 1.5)."""
        m = (self.freqs >= lo) & (self.freqs <= hi)
        enbw = {"hann": 1.5, "hamming": 1.3628, "blackman": 1.7268, "flattop": 3.7702}.get(
            self.window, 1.0
        )
        return float(np.sqrt(np.sum(self.amp[m] ** 2) / 2 / enbw))


def amplitude_spectrum(
    x: np.ndarray,
    fs: float,
    *,
    window: str = "hann",
    segments: int = 1,
    overlap: float = 0.5,
    average: str = "linear",
    kind: str = "acceleration",
) -> Spectrum:
    """Peak-amplitude spectrum of ``x`` (unit of ``x``), averaged over ``segments`` windows.

    ``segments`` > 1 splits the capture Welch-style with ``overlap`` (0–0.9) and averages the
    magnitudes ``linear``-ly or keeps the ``peak``-hold; resolution becomes fs / segment length.
    """
    a = as_signal(x)
    if fs <= 0:
        raise ValueError("sample rate must be positive")
    if segments < 1:
        raise ValueError("segments must be >= 1")
    if not 0 <= overlap < 0.95:
        raise ValueError("overlap must be in [0, 0.95)")
    if average not in ("linear", "peak"):
        raise ValueError("average must be 'linear' or 'peak'")
    n = a.size
    seg = n if segments == 1 else int(n / (1 + (segments - 1) * (1 - overlap)))
    if seg < 16:
        raise ValueError(f"{segments} segments of a {n}-sample capture are too short")
    step = max(1, int(seg * (1 - overlap)))
    w = window_fn(window, seg)
    gain = w.sum()
    mags = []
    for k in range(segments):
        part = a[k * step : k * step + seg]
        if part.size < seg:
            break
        mags.append(np.abs(np.fft.rfft(detrend(part) * w)) * 2 / gain)
    stack = np.array(mags)
    amp = stack.mean(axis=0) if average == "linear" else stack.max(axis=0)
    amp[0] /= 2  # DC is not doubled in a single-sided spectrum
    return Spectrum(np.fft.rfftfreq(seg, 1.0 / fs), amp, kind, UNITS[kind], window, len(mags))


window_fn = window


def _integrate(s: Spectrum, to: str, times: int, f_low: float, f_high: float | None) -> Spectrum:
    if s.kind != "acceleration":
        raise ValueError(f"integration starts from an acceleration spectrum, not {s.kind}")
    f = s.freqs
    hi = f[-1] if f_high is None else f_high
    keep = (f >= f_low) & (f <= hi) & (f > 0)
    amp = np.zeros_like(s.amp)
    amp[keep] = s.amp[keep] / (2 * np.pi * f[keep]) ** times * _SCALE[to]
    return replace(s, amp=amp, kind=to, unit=UNITS[to])


def to_velocity(s: Spectrum, f_low: float = 10.0, f_high: float | None = None) -> Spectrum:
    """Velocity spectrum (mm/s peak) from an acceleration spectrum (m/s²); lines below
    ``f_low`` are dropped (ISO 10816-3 measures 10–1000 Hz above 600 rpm, 2–1000 Hz below)."""
    return _integrate(s, "velocity", 1, f_low, f_high)


def to_displacement(s: Spectrum, f_low: float = 2.0, f_high: float | None = None) -> Spectrum:
    """Displacement spectrum (µm peak) from an acceleration spectrum (m/s²)."""
    return _integrate(s, "displacement", 2, f_low, f_high)


def differentiate(s: Spectrum) -> Spectrum:
    """The way back: velocity (mm/s) → acceleration (m/s²), displacement (µm) → velocity."""
    back = {"velocity": ("acceleration", 1e-3), "displacement": ("velocity", 1e-3)}
    if s.kind not in back:
        raise ValueError(f"cannot differentiate a {s.kind} spectrum")
    to, scale = back[s.kind]
    return replace(s, amp=s.amp * 2 * np.pi * s.freqs * scale, kind=to, unit=UNITS[to])


def integrate_waveform(
    acc: np.ndarray, fs: float, *, times: int = 1, band: tuple[float, float] = (10.0, 1000.0)
) -> np.ndarray:
    """Velocity (``times=1``, mm/s) or displacement (``times=2``, µm) waveform from an
    acceleration waveform in m/s², integrated in the frequency domain over ``band`` (Hz)."""
    a = detrend(as_signal(acc, "acceleration"))
    spec = np.fft.rfft(a)
    f = np.fft.rfftfreq(a.size, 1.0 / fs)
    keep = (f >= band[0]) & (f <= band[1]) & (f > 0)
    out = np.zeros_like(spec)
    out[keep] = spec[keep] / (2j * np.pi * f[keep]) ** times
    return np.fft.irfft(out, a.size) * (1e3 if times == 1 else 1e6)


def velocity_rms(acc: np.ndarray, fs: float, band: tuple[float, float] = (10.0, 1000.0)) -> float:
    """Broadband velocity RMS (mm/s) over ``band``: the ISO 10816 severity quantity."""
    v = integrate_waveform(acc, fs, times=1, band=band)
    return float(np.sqrt(np.mean(v**2)))


@dataclass(frozen=True)
class Waterfall:
    """Spectra of successive captures on one frequency axis: ``amp[i]`` belongs to
    ``times[i]`` (any monotonic label: s, epoch, index) and ``speeds_rpm[i]``."""

    freqs: np.ndarray
    amp: np.ndarray
    times: np.ndarray
    speeds_rpm: np.ndarray
    kind: str
    unit: str

    def orders(self, i: int) -> np.ndarray:
        """Frequency axis of capture ``i`` in orders of its running speed."""
        return self.freqs / (self.speeds_rpm[i] / 60.0)


def waterfall(
    captures: Sequence[np.ndarray],
    fs: float | Sequence[float],
    *,
    times: Sequence[float] | None = None,
    speeds_rpm: Sequence[float] | None = None,
    kind: str = "velocity",
    fmax: float | None = None,
    window: str = "hann",
) -> Waterfall:
    """Stack the spectra of ``captures`` (acceleration, m/s²). Captures of different length or
    sample rate are interpolated onto the axis of the first one, cut at ``fmax``."""
    if not captures:
        raise ValueError("a waterfall needs at least one capture")
    rates = [float(fs)] * len(captures) if np.isscalar(fs) else [float(r) for r in fs]  # type: ignore[arg-type]
    if len(rates) != len(captures):
        raise ValueError("one sample rate per capture")
    rows = []
    axis: np.ndarray | None = None
    unit = UNITS[kind]
    for c, r in zip(captures, rates, strict=True):
        s = amplitude_spectrum(c, r, window=window)
        if kind == "velocity":
            s = to_velocity(s)
        elif kind == "displacement":
            s = to_displacement(s)
        if axis is None:
            top = s.freqs[-1] if fmax is None else min(fmax, s.freqs[-1])
            axis = s.freqs[s.freqs <= top]
        same = s.freqs.size >= axis.size and np.array_equal(s.freqs[: axis.size], axis)
        rows.append(s.amp[: axis.size] if same else np.interp(axis, s.freqs, s.amp, right=0.0))
    assert axis is not None
    n = len(rows)
    t = np.arange(n, dtype=float) if times is None else np.asarray(times, dtype=float)
    sp = np.full(n, np.nan) if speeds_rpm is None else np.asarray(speeds_rpm, dtype=float)
    return Waterfall(axis, np.vstack(rows), t, sp, kind, unit)
