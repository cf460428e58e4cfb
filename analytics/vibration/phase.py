"""Cross-phase between two channels (P8): phase of channel ``y`` relative to ``x`` from the
averaged cross-spectrum, with coherence to tell whether the phase means anything.

Used for unbalance vs misalignment: radial X/Y near 90° at 1× is a rotating force
(unbalance); axial DE vs NDE near 180° points to angular misalignment.

    cp = cross_phase(x_acc, y_acc, fs, f_hz=49.5)      # CrossPhase(freq, phase_deg, coherence)
    f, phase, coh = cross_phase_spectrum(x_acc, y_acc, fs)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from analytics.vibration.dsp import as_signal


@dataclass(frozen=True)
class CrossPhase:
    freq: float
    phase_deg: float
    coherence: float

    def to_dict(self) -> dict[str, float]:
        return {
            "freq": round(self.freq, 3),
            "phase_deg": round(self.phase_deg, 1),
            "coherence": round(self.coherence, 3),
        }


def cross_phase_spectrum(
    x: np.ndarray, y: np.ndarray, fs: float, *, nperseg: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(freqs Hz, phase of y relative to x in degrees (−180, 180], magnitude-squared
    coherence 0–1), Welch-averaged over Hann segments with 50 % overlap (8 by default)."""
    a = as_signal(x, "channel x")
    b = as_signal(y, "channel y")
    if a.size != b.size:
        raise ValueError(f"channels differ in length ({a.size} and {b.size} samples)")
    seg = nperseg or max(256, a.size // 4)
    f, pxy = signal.csd(a, b, fs=fs, nperseg=seg)
    _, coh = signal.coherence(a, b, fs=fs, nperseg=seg)
    # csd(x, y) = conj(X)·Y, so its angle is the phase of y minus the phase of x.
    return f, np.degrees(np.angle(pxy)), coh


def cross_phase(
    x: np.ndarray, y: np.ndarray, fs: float, f_hz: float, *, nperseg: int | None = None
) -> CrossPhase:
    """Phase of ``y`` relative to ``x`` (degrees, lead positive) at the strongest cross-spectral
    line within ±2 lines of ``f_hz``."""
    f, ph, coh = cross_phase_spectrum(x, y, fs, nperseg=nperseg)
    a = as_signal(x)
    b = as_signal(y)
    seg = nperseg or max(256, a.size // 4)
    _, pxy = signal.csd(a, b, fs=fs, nperseg=seg)
    df = f[1] - f[0]
    m = np.flatnonzero(np.abs(f - f_hz) <= 2 * df)
    if m.size == 0:
        raise ValueError(f"{f_hz} Hz is outside the spectrum (0–{f[-1]:.0f} Hz)")
    i = m[np.argmax(np.abs(pxy[m]))]
    return CrossPhase(float(f[i]), float(ph[i]), float(coh[i]))
