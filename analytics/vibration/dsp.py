"""Small signal-processing building blocks shared by the analysis modules (pure numpy).

x = detrend(raw)                      # mean removed, float64
rms(x), kurtosis(x), crest_factor(x)  # unit of x; kurtosis of a sine = 1.5, Gaussian = 3
a = analytic_signal(x)                # x + j·H{x}
y = bandpass_fft(x, fs, (2000.0, 4000.0))
peaks = find_peaks_spectrum(freqs, amp, n=10, fmin=1.0, fmax=1000.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOWS = ("hann", "hamming", "flattop", "rectangular", "blackman")


def as_signal(x: np.ndarray | list[float], name: str = "signal") -> np.ndarray:
    """A 1-D float64 copy, refusing empty, non-finite or multi-dimensional input."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size < 16:
        raise ValueError(f"{name} has {a.size} samples; at least 16 are needed")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name} has a non-finite value at sample {bad}")
    return a


def detrend(x: np.ndarray) -> np.ndarray:
    """Remove the mean (sensors' DC offset carries no vibration information)."""
    a = np.asarray(x, dtype=np.float64)
    return a - a.mean()


def rms(x: np.ndarray) -> float:
    a = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(a**2))) if a.size else 0.0


def kurtosis(x: np.ndarray) -> float:
    """Normal (non-excess) kurtosis of the mean-removed signal: 3 for Gaussian noise."""
    a = detrend(x)
    m2 = float(np.mean(a**2))
    return float(np.mean(a**4) / m2**2) if m2 > 0 else 0.0


def crest_factor(x: np.ndarray) -> float:
    a = detrend(x)
    r = rms(a)
    return float(np.max(np.abs(a)) / r) if r > 0 else 0.0


def window(name: str, n: int) -> np.ndarray:
    """A window by name; flattop for accurate amplitudes, hann for resolution (default)."""
    if name == "hann":
        return np.hanning(n)
    if name == "hamming":
        return np.hamming(n)
    if name == "blackman":
        return np.blackman(n)
    if name == "rectangular":
        return np.ones(n)
    if name == "flattop":
        # SciPy's / HP's 5-term flat top (amplitude error < 0.01 dB).
        a = (0.21557895, 0.41663158, 0.277263158, 0.083578947, 0.006947368)
        k = 2 * np.pi * np.arange(n) / (n - 1)
        return (
            a[0]
            - a[1] * np.cos(k)
            + a[2] * np.cos(2 * k)
            - a[3] * np.cos(3 * k)
            + a[4] * np.cos(4 * k)
        )
    raise ValueError(f"unknown window {name!r}; one of {', '.join(WINDOWS)}")


def analytic_signal(x: np.ndarray) -> np.ndarray:
    """x + j·H{x} by the FFT (Marple 1999): DC and Nyquist kept, negative frequencies dropped."""
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    spec = np.fft.fft(a)
    h = np.zeros(n)
    h[0] = 1
    if n % 2 == 0:
        h[n // 2] = 1
        h[1 : n // 2] = 2
    else:
        h[1 : (n + 1) // 2] = 2
    return np.fft.ifft(spec * h)


def bandpass_fft(x: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Zero-phase brick-wall band-pass by FFT; ``band`` in Hz, clipped to (0, fs/2]."""
    lo, hi = band
    if not 0 <= lo < hi:
        raise ValueError(f"band {band} must satisfy 0 <= low < high")
    a = detrend(x)
    spec = np.fft.rfft(a)
    f = np.fft.rfftfreq(a.size, 1.0 / fs)
    spec[(f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, a.size)


@dataclass(frozen=True)
class Peak:
    """A spectral line: frequency (Hz), amplitude (unit of the spectrum), and its order of
    running speed when known."""

    freq: float
    amp: float
    order: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        d: dict[str, float | None] = {"freq": round(self.freq, 4), "amp": float(f"{self.amp:.6g}")}
        if self.order is not None:
            d["order"] = round(self.order, 3)
        return d


def find_peaks_spectrum(
    freqs: np.ndarray,
    amp: np.ndarray,
    *,
    n: int = 10,
    fmin: float = 0.0,
    fmax: float | None = None,
    fr: float | None = None,
) -> list[Peak]:
    """The ``n`` highest local maxima in [fmin, fmax], highest first, with the peak frequency
    refined by parabolic interpolation over the three bins around it."""
    f = np.asarray(freqs)
    a = np.asarray(amp)
    hi = f[-1] if fmax is None else fmax
    sel = np.flatnonzero((f >= fmin) & (f <= hi))
    sel = sel[(sel > 0) & (sel < a.size - 1)]
    if sel.size == 0:
        return []
    is_max = (a[sel] > a[sel - 1]) & (a[sel] >= a[sel + 1])
    cand = sel[is_max]
    cand = cand[np.argsort(a[cand])[::-1][:n]]
    df = f[1] - f[0]
    out = []
    for i in cand:
        y0, y1, y2 = a[i - 1], a[i], a[i + 1]
        den = y0 - 2 * y1 + y2
        delta = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        fp = float(f[i] + delta * df)
        out.append(Peak(fp, float(y1), fp / fr if fr else None))
    return out


def band_max(freqs: np.ndarray, amp: np.ndarray, f0: float, tol_hz: float) -> tuple[float, float]:
    """(frequency, amplitude) of the largest bin within ``f0 ± tol_hz``; (f0, 0) if none."""
    f = np.asarray(freqs)
    m = np.flatnonzero(np.abs(f - f0) <= tol_hz)
    if m.size == 0:
        return f0, 0.0
    i = m[np.argmax(amp[m])]
    return float(f[i]), float(amp[i])


def noise_floor(freqs: np.ndarray, amp: np.ndarray, f0: float, half_width_hz: float) -> float:
    """Median amplitude of ``f0 ± half_width_hz``: a robust local floor for line-to-noise ratios."""
    f = np.asarray(freqs)
    m = (np.abs(f - f0) <= half_width_hz) & (f > 0)
    if not np.any(m):
        return 0.0
    return float(np.median(np.asarray(amp)[m]))
