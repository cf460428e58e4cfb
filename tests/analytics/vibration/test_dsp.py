"""Analytic signals with known answers (P8): RMS, integration, envelope, cepstrum, orders,
cross-phase, waterfall, trend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.vibration.cepstrum import real_cepstrum
from analytics.vibration.dsp import crest_factor, find_peaks_spectrum, kurtosis, rms
from analytics.vibration.envelope import envelope_spectrum, hilbert_envelope, select_band
from analytics.vibration.orders import (
    estimate_running_speed,
    order_spectrum,
    tacho_pulse_times,
)
from analytics.vibration.phase import cross_phase
from analytics.vibration.spectrum import (
    amplitude_spectrum,
    differentiate,
    integrate_waveform,
    to_displacement,
    to_velocity,
    velocity_rms,
    waterfall,
)
from analytics.vibration.trend import trend

FS = 25600.0
N = 65536
T = np.arange(N) / FS


def test_sine_rms_kurtosis_crest() -> None:
    a = 3.0
    x = a * np.sin(2 * np.pi * 100.0 * T)
    assert rms(x) == pytest.approx(a / math.sqrt(2), rel=1e-3)
    assert kurtosis(x) == pytest.approx(1.5, rel=1e-2)
    assert crest_factor(x) == pytest.approx(math.sqrt(2), rel=1e-3)
    noise = np.random.default_rng(1).normal(0, 1, N)
    assert kurtosis(noise) == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("window", ["hann", "hamming", "flattop", "blackman"])
def test_spectrum_amplitude_of_a_sine(window: str) -> None:
    # 100 Hz exactly on a line (resolution 0.390625 Hz: 256 lines): amplitude reads exactly.
    x = 2.5 * np.sin(2 * np.pi * 100.0 * T) + 0.5
    s = amplitude_spectrum(x, FS, window=window)
    assert s.at(100.0) == pytest.approx(2.5, rel=1e-3)
    peaks = find_peaks_spectrum(s.freqs, s.amp, n=1, fmin=1.0)
    assert peaks[0].freq == pytest.approx(100.0, abs=0.05)


def test_averaging_keeps_amplitude_and_lowers_noise_variance() -> None:
    rng = np.random.default_rng(2)
    x = np.sin(2 * np.pi * 200.0 * T) + rng.normal(0, 1, N)
    one = amplitude_spectrum(x, FS)
    avg = amplitude_spectrum(x, FS, segments=8, overlap=0.5)
    assert avg.averages == 8
    assert avg.at(200.0) == pytest.approx(1.0, rel=0.1)
    band = (one.freqs > 3000) & (one.freqs < 9000)
    band_avg = (avg.freqs > 3000) & (avg.freqs < 9000)
    cv_one = one.amp[band].std() / one.amp[band].mean()
    cv_avg = avg.amp[band_avg].std() / avg.amp[band_avg].mean()
    assert cv_avg < 0.6 * cv_one
    peak = amplitude_spectrum(x, FS, segments=8, average="peak")
    assert peak.amp[band_avg].mean() > avg.amp[band_avg].mean()


def test_integration_of_a_known_sine() -> None:
    # a·sin(2πft) m/s² → velocity amplitude a/(2πf) m/s, displacement a/(2πf)² m.
    a, f = 10.0, 50.0
    x = a * np.sin(2 * np.pi * f * T)
    s = amplitude_spectrum(x, FS)
    v = to_velocity(s)
    d = to_displacement(s)
    assert v.unit == "mm/s" and d.unit == "um"
    assert v.at(f) == pytest.approx(a / (2 * np.pi * f) * 1e3, rel=1e-3)
    assert d.at(f) == pytest.approx(a / (2 * np.pi * f) ** 2 * 1e6, rel=1e-3)
    assert differentiate(v).at(f) == pytest.approx(a, rel=1e-3)
    vw = integrate_waveform(x, FS)
    assert np.max(np.abs(vw[1000:-1000])) == pytest.approx(a / (2 * np.pi * f) * 1e3, rel=1e-3)
    assert velocity_rms(x, FS) == pytest.approx(a / (2 * np.pi * f) * 1e3 / math.sqrt(2), rel=1e-3)
    # Outside the 10–1000 Hz band it does not count.
    assert velocity_rms(a * np.sin(2 * np.pi * 13 / (N / FS) * T), FS) < 1e-6  # 5.08 Hz


def _am_carrier(fm: float = 37.0, fc: float = 4000.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = (1 + 0.8 * np.cos(2 * np.pi * fm * T)) * np.sin(2 * np.pi * fc * T)
    return x + 3.0 * np.sin(2 * np.pi * 60.0 * T) + rng.normal(0, 0.2, N)


def test_envelope_of_am_carrier_peaks_at_modulation_frequency() -> None:
    x = _am_carrier()
    env = hilbert_envelope(x, FS, (3000.0, 5000.0))
    assert env.mean() == pytest.approx(1.0, rel=0.05)
    es = envelope_spectrum(x, FS, band=(3000.0, 5000.0))
    top = find_peaks_spectrum(es.freqs, es.amp, n=1, fmin=5.0)[0]
    assert top.freq == pytest.approx(37.0, abs=0.2)
    assert top.amp == pytest.approx(0.8, rel=0.1)  # modulation depth × carrier


def test_kurtogram_finds_the_resonance_band_of_impacts() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, N)
    train = np.zeros(N)
    train[:: int(FS / 23.0)] = 1
    tk = np.arange(200) / FS
    ring = np.exp(-900 * tk) * np.sin(2 * np.pi * 7000 * tk)
    x += 40 * np.convolve(train, ring)[:N]
    b = select_band(x, FS)
    assert b.method == "kurtogram"
    assert b.lo <= 7000 <= b.hi
    es = envelope_spectrum(x, FS, band=(b.lo, b.hi))
    assert find_peaks_spectrum(es.freqs, es.amp, n=1, fmin=5)[0].freq == pytest.approx(
        23.0, abs=0.5
    )


def test_cepstrum_rahmonic_at_harmonic_spacing() -> None:
    x = sum(np.sin(2 * np.pi * 40.0 * k * T + k) / k for k in range(1, 30))
    x = x + np.random.default_rng(5).normal(0, 0.01, N)
    c = real_cepstrum(x, FS)
    top = c.peaks(n=1, q_min=1 / 500)[0]
    assert top["quefrency_s"] == pytest.approx(1 / 40.0, rel=0.01)


def test_order_tracking_with_tacho_during_run_up() -> None:
    # Speed rising 20 → 30 Hz: the 3rd order smears over a band in Hz but is one line in orders.
    f_inst = 20 + 10 * T / T[-1]
    angle = np.cumsum(f_inst) / FS  # revolutions
    x = np.sin(2 * np.pi * 3 * angle)
    tacho = (np.mod(angle, 1.0) < 0.05).astype(float)
    pulses = tacho_pulse_times(tacho, FS)
    os_ = order_spectrum(x, FS, pulse_times=pulses)
    assert os_.at(3.0) == pytest.approx(1.0, rel=0.05)
    assert os_.mean_rpm == pytest.approx(25 * 60, rel=0.01)
    s = amplitude_spectrum(x, FS)
    assert s.amp.max() < 0.3  # the same signal in Hz is smeared


def test_speed_estimated_from_the_spectrum() -> None:
    fr = 49.37
    x = sum(a * 2 * np.pi * k * fr * np.sin(2 * np.pi * k * fr * T) for k, a in ((1, 1), (2, 0.3)))
    assert estimate_running_speed(x, FS, rpm_hint=2970) == pytest.approx(fr * 60, abs=3.0)


def test_cross_phase_of_quadrature_channels() -> None:
    rng = np.random.default_rng(6)
    x = np.sin(2 * np.pi * 49.5 * T) + rng.normal(0, 0.1, N)
    y = np.sin(2 * np.pi * 49.5 * T + np.pi / 2) + rng.normal(0, 0.1, N)
    cp = cross_phase(x, y, FS, 49.5)
    assert cp.phase_deg == pytest.approx(90.0, abs=3.0)
    assert cp.coherence > 0.9


def test_waterfall_of_rising_line() -> None:
    caps = [np.sin(2 * np.pi * (100 + 10 * i) * T[:8192]) * 10 for i in range(5)]
    w = waterfall(caps, FS, speeds_rpm=[3000.0] * 5, kind="acceleration")
    assert w.amp.shape == (5, w.freqs.size)
    tops = w.freqs[np.argmax(w.amp, axis=1)]
    assert np.allclose(tops, [100, 110, 120, 130, 140], atol=2 * (w.freqs[1] - w.freqs[0]))
    assert w.orders(0)[1] == pytest.approx(w.freqs[1] / 50.0)
    with pytest.raises(ValueError, match="at least one capture"):
        waterfall([], FS)


def test_trend_slope_and_projection() -> None:
    t = np.arange(0, 30) * 86400.0
    v = 1.0 + 0.1 * np.arange(30)
    tr = trend(t, v)
    assert tr.slope_per_day == pytest.approx(0.1, rel=1e-6)
    assert tr.days_to(4.5) == pytest.approx((4.5 - v[-1]) / 0.1, rel=1e-6)
    assert tr.ratio_to_baseline > 2


def test_bad_signals_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="non-finite value at sample 3"):
        rms_in = np.ones(100)
        rms_in[3] = np.nan
        amplitude_spectrum(rms_in, FS)
    with pytest.raises(ValueError, match="at least 16"):
        amplitude_spectrum(np.ones(4), FS)
