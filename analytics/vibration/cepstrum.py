"""Real cepstrum (P8): periodic families in the spectrum (harmonics, sidebands) become single
peaks (rahmonics) at the quefrency of their spacing, 1/Δf.

    c = real_cepstrum(acc, fs)                       # Cepstrum(quefrency_s, values)
    c.peaks(n=5, q_min=1/500)                        # strongest rahmonics with their 1/q in Hz
    c.at_frequency(bpfo_hz)                          # cepstral value at quefrency 1/bpfo
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.vibration.dsp import as_signal, detrend, window


@dataclass(frozen=True)
class Cepstrum:
    """Quefrency (s) and real cepstrum (dimensionless) of a capture."""

    quefrency: np.ndarray
    values: np.ndarray

    def peaks(self, *, n: int = 5, q_min: float = 0.0, q_max: float | None = None) -> list[dict]:
        """Strongest local maxima in [q_min, q_max] s: ``{quefrency_s, freq_hz, value}``."""
        q = self.quefrency
        c = self.values
        top = q[-1] if q_max is None else q_max
        idx = np.flatnonzero((q >= q_min) & (q <= top))
        idx = idx[(idx > 0) & (idx < c.size - 1)]
        idx = idx[(c[idx] > c[idx - 1]) & (c[idx] >= c[idx + 1])]
        idx = idx[np.argsort(c[idx])[::-1][:n]]
        return [
            {"quefrency_s": float(q[i]), "freq_hz": float(1 / q[i]), "value": float(c[i])}
            for i in idx
        ]

    def at_frequency(self, f_hz: float, tol: float = 0.02) -> float:
        """Largest cepstral value within ±``tol`` (relative) of quefrency 1/``f_hz``."""
        q0 = 1.0 / f_hz
        m = np.abs(self.quefrency - q0) <= tol * q0
        return float(self.values[m].max()) if np.any(m) else 0.0


def real_cepstrum(x: np.ndarray, fs: float, *, window_name: str = "hann") -> Cepstrum:
    """IFFT of the log power spectrum, c(q) = F⁻¹{ln |X(f)|²}; only the first half of the
    quefrency axis (up to n/2 / fs seconds) is returned, the rest is its mirror."""
    a = detrend(as_signal(x))
    w = window(window_name, a.size)
    power = np.abs(np.fft.fft(a * w)) ** 2
    # A floor keeps empty lines (exact zeros after band-limiting) from going to -inf.
    log_p = np.log(power + 1e-12 * power.max() + 1e-300)
    c = np.real(np.fft.ifft(log_p))
    half = a.size // 2
    return Cepstrum(np.arange(half) / fs, c[:half])
