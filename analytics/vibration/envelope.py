"""Envelope analysis / envelope demodulation (P8) with automatic band selection.

Bearing defects strike the races once per passing element; each impact rings a structural
resonance (kHz). Band-passing around that resonance and taking the magnitude of the analytic
signal (Hilbert envelope) leaves the *repetition rate* of the impacts, which the envelope
spectrum shows as lines at BPFO, BPFI, BSF, FTF and their harmonics and sidebands.

Band selection (``select_band``) is a simplified fast kurtogram (Antoni, "Fast computation of
the kurtogram for the detection of transient faults", MSSP 21 (2007) 108–124): the spectrum is
cut into 2^k bands for levels k = 1..K, each band also shifted by half its width, and for each
the spectral kurtosis of its complex envelope, K = E|c|⁴ / (E|c|²)² − 2, is computed (0 for
stationary Gaussian noise, large for impulsive signals). The band with the largest K wins,
among bands at least ``min_bandwidth`` wide (so the envelope still carries the defect harmonics).
Each band's complex envelope is the inverse FFT of its own slice of lines (a decimated signal),
so a whole search costs about K FFTs of the capture.

    band = select_band(acc, fs, min_bandwidth=800.0)             # BandChoice(lo, hi, kurtosis)
    env = hilbert_envelope(acc, fs, (band.lo, band.hi))          # unit of acc
    es = envelope_spectrum(acc, fs, band=(2000.0, 4000.0))       # Spectrum, fmax = band width
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.vibration.dsp import analytic_signal, as_signal, bandpass_fft, detrend
from analytics.vibration.spectrum import Spectrum, amplitude_spectrum


@dataclass(frozen=True)
class BandChoice:
    """A demodulation band (Hz) and why: its spectral kurtosis, or 'user'."""

    lo: float
    hi: float
    kurtosis: float | None
    method: str  # "kurtogram" | "targeted" | "user" | "default"

    def to_dict(self) -> dict[str, object]:
        return {
            "lo_hz": round(self.lo, 2),
            "hi_hz": round(self.hi, 2),
            "spectral_kurtosis": None if self.kurtosis is None else round(self.kurtosis, 3),
            "method": self.method,
        }


def _band_envelopes(
    x: np.ndarray, fs: float, levels: int, min_bandwidth: float
) -> list[tuple[float, float, np.ndarray, float]]:
    """(lo, hi, complex envelope, its sample rate) of every band of the search."""
    a = detrend(as_signal(x))
    spec = np.fft.rfft(a)
    nf = spec.size
    nyq = fs / 2
    df = nyq / (nf - 1)
    out = []
    for k in range(1, levels + 1):
        if nyq / 2**k < min_bandwidth:
            break
        lines = max(4, round(nf / 2**k))
        for s0 in range(0, nf - lines + 1, lines // 2):
            # The band's lines shifted to 0 Hz, zero-padded 2x so |c| is not aliased: the
            # complex envelope at a decimated rate, one short inverse FFT per band.
            padded = np.zeros(2 * lines, dtype=complex)
            padded[:lines] = spec[s0 : s0 + lines]
            c = np.fft.ifft(padded)
            lo = s0 * df
            out.append((lo, min(nyq, lo + lines * df), c, 2 * lines * df))
    return out


def _sk(c: np.ndarray) -> float:
    p = np.abs(c) ** 2
    m2 = p.mean()
    return float((p**2).mean() / m2**2 - 2.0) if m2 > 0 else 0.0


def kurtogram(
    x: np.ndarray, fs: float, *, levels: int = 7, min_bandwidth: float = 0.0
) -> list[tuple[float, float, float]]:
    """(lo, hi, spectral kurtosis) of every band searched, for plotting and for the choice."""
    return [(lo, hi, _sk(c)) for lo, hi, c, _ in _band_envelopes(x, fs, levels, min_bandwidth)]


def _target_score(env: np.ndarray, rate: float, targets: tuple[float, ...]) -> float:
    """How clearly the envelope shows any target family: the best, over targets, of the mean
    log line-to-floor ratio of its two strongest of the first three harmonics."""
    e = env - env.mean()
    w = np.hanning(e.size)
    amp = np.abs(np.fft.rfft(e * w))
    f = np.fft.rfftfreq(e.size, 1.0 / rate)
    df = f[1] - f[0]
    best = 0.0
    for f0 in targets:
        snr = []
        for k in (1, 2, 3):
            fk = k * f0
            if fk >= f[-1] - 2 * df:
                break
            m = np.abs(f - fk) <= max(2 * df, 0.012 * fk)
            floor = np.median(amp[np.abs(f - fk) <= max(0.25 * f0, 10 * df)])
            snr.append(np.log10(max(1.0, amp[m].max() / floor)) if floor > 0 else 0.0)
        if len(snr) >= 2:
            best = max(best, float(np.mean(sorted(snr)[-2:])))
    return best


def select_band(
    x: np.ndarray,
    fs: float,
    *,
    levels: int = 7,
    min_bandwidth: float | None = None,
    f_min: float | None = None,
    targets: tuple[float, ...] = (),
) -> BandChoice:
    """The demodulation band. Without ``targets``: the most impulsive band by the fast
    kurtogram. With ``targets`` (defect frequencies in Hz, when the bearing is known): the band
    whose envelope spectrum shows one of those families most clearly, spectral kurtosis
    breaking ties — a kurtogram is easily won by impulsive noise unrelated to the bearing
    (electrical or process transients), which a targeted score ignores (cf. pybearing's
    harmonic score, Antoni's infogram). ``min_bandwidth`` (Hz) defaults to fs/64; bands
    starting below ``f_min`` (default 10 % of Nyquist, so shaft harmonics do not dominate)
    are skipped."""
    nyq = fs / 2
    mb = fs / 64 if min_bandwidth is None else min(min_bandwidth, nyq / 2)
    fl = 0.1 * nyq if f_min is None else f_min
    bands = [b for b in _band_envelopes(x, fs, levels, mb) if b[0] >= fl]
    if not bands:
        return BandChoice(max(fl, nyq / 4), nyq * 0.95, None, "default")
    if targets:
        scored = [(_target_score(np.abs(c), r, targets), _sk(c), lo, hi) for lo, hi, c, r in bands]
        score, sk, lo, hi = max(scored)
        if score > 0:
            return BandChoice(float(lo), float(hi), sk, "targeted")
    lo, hi, sk = max(((lo, hi, _sk(c)) for lo, hi, c, _ in bands), key=lambda b: b[2])
    return BandChoice(float(lo), float(hi), sk, "kurtogram")


def hilbert_envelope(
    x: np.ndarray, fs: float, band: tuple[float, float] | None = None
) -> np.ndarray:
    """|analytic signal| of ``x`` after an optional band-pass (Hz); unit of ``x``."""
    a = detrend(as_signal(x))
    if band is not None:
        a = bandpass_fft(a, fs, band)
    return np.abs(analytic_signal(a))


def envelope_spectrum(
    x: np.ndarray,
    fs: float,
    *,
    band: tuple[float, float] | None = None,
    fmax: float | None = None,
    window: str = "hann",
) -> Spectrum:
    """Peak-amplitude spectrum of the Hilbert envelope (mean removed), cut at ``fmax`` (default:
    the band width, beyond which the envelope holds no information); unit of ``x``."""
    env = hilbert_envelope(x, fs, band)
    s = amplitude_spectrum(env, fs, window=window)
    top = (band[1] - band[0]) if band is not None and fmax is None else fmax
    if top is not None:
        keep = s.freqs <= top
        s = Spectrum(s.freqs[keep], s.amp[keep], "envelope", s.unit, window, 1)
    else:
        s = Spectrum(s.freqs, s.amp, "envelope", s.unit, window, 1)
    return s
