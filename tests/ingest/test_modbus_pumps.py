"""The pump signal model behind the simulated Modbus gateways (pure numpy, no I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.simulator.pumps import (
    BEARING_6205,
    AxisOverall,
    BearingGeometry,
    Fault,
    Outage,
    PumpModel,
    amplitude_spectrum,
    demo_plant,
    demo_specs,
    envelope,
    overall_values,
)

FS = 25600.0
SPEC = demo_specs()[0]  # P-101A, 2970 rpm


def peak_hz(freqs: np.ndarray, amps: np.ndarray, lo: float, hi: float) -> float:
    band = (freqs >= lo) & (freqs <= hi)
    return float(freqs[band][np.argmax(amps[band])])


def test_bearing_frequencies_worked_example() -> None:
    """Case Western Reserve University Bearing Data Center, drive-end bearing SKF 6205-2RS JEM:
    9 balls, ball diameter 0.3126 in, pitch diameter 1.537 in; published defect frequencies
    as multiples of running speed: BPFI 5.4152, BPFO 3.5848, FTF 0.39828, BSF 4.7135 (which
    CWRU quotes as twice the ball spin frequency of the formula)."""
    b = BEARING_6205
    assert b.bpfo(1.0) == pytest.approx(3.5848, abs=2e-4)
    assert b.bpfi(1.0) == pytest.approx(5.4152, abs=2e-4)
    assert b.ftf(1.0) == pytest.approx(0.39828, abs=1e-4)
    assert 2 * b.bsf(1.0) == pytest.approx(4.7135, abs=2e-4)
    # The same formula by hand at 1797 rpm (a CWRU test speed): n/2 · fr · (1 − d/D · cos 0).
    fr = 1797 / 60
    assert b.bpfo(fr) == pytest.approx(9 / 2 * fr * (1 - 0.3126 / 1.537), rel=1e-4)
    assert b.bpfo(fr) == pytest.approx(107.36, abs=0.01)
    # Contact angle: BPFO + BPFI = n · fr for any geometry.
    ac = BearingGeometry("angular", 12, 10.0, 50.0, 40.0)
    assert ac.bpfo(25.0) + ac.bpfi(25.0) == pytest.approx(12 * 25.0)
    assert ac.bpfo(25.0) == pytest.approx(6 * 25.0 * (1 - 0.2 * np.cos(np.radians(40))))


def test_unbalance_peaks_at_running_speed_radially() -> None:
    pump = PumpModel(SPEC, faults=[Fault("unbalance", severity=1.0)], seed=3)
    acc = pump.acceleration(100.0, "DE", n=32768, fs=FS)
    fr = pump.speed_rpm(100.0) / 60
    # Velocity spectrum (acceleration / 2πf) of the horizontal axis peaks at 1×.
    freqs, amps = amplitude_spectrum(acc[0], FS)
    vel = np.where(freqs > 0, amps / (2 * np.pi * np.maximum(freqs, 1e-9)), 0)
    assert peak_hz(freqs, vel, 5, 1000) == pytest.approx(fr, abs=FS / 32768 * 1.5)
    over = [overall_values(acc[i], FS) for i in range(3)]
    healthy = PumpModel(SPEC, seed=3).acceleration(100.0, "DE", n=32768, fs=FS)
    base = overall_values(healthy[0], FS)
    assert over[0].velocity_rms_mm_s > 4 * base.velocity_rms_mm_s
    assert over[2].velocity_rms_mm_s < over[0].velocity_rms_mm_s / 3  # radial, not axial


def test_outer_race_envelope_peaks_at_bpfo() -> None:
    spec = demo_specs()[2]  # P-201A with the 6205 at the drive end
    pump = PumpModel(spec, faults=[Fault("outer_race", sensor="DE")], seed=5)
    acc = pump.acceleration(50.0, "DE", n=32768, fs=FS)
    fr = pump.speed_rpm(50.0) / 60
    bpfo = spec.bearing_de.bpfo(fr)
    env = envelope(acc[1], FS, band=(spec.resonance_hz - 1200, spec.resonance_hz + 1200))
    freqs, amps = amplitude_spectrum(env, FS)
    assert peak_hz(freqs, amps, 10, 1000) == pytest.approx(bpfo, abs=2 * FS / 32768)
    # Impacts make the signal spiky: kurtosis well above a Gaussian's 3.
    assert overall_values(acc[1], FS).kurtosis > 5
    assert overall_values(PumpModel(spec, seed=5).acceleration(50.0, "DE")[1], FS).kurtosis < 4


def test_inner_race_envelope_shows_bpfi_with_running_speed_sidebands() -> None:
    spec = demo_specs()[3]
    pump = PumpModel(spec, faults=[Fault("inner_race", sensor="NDE")], seed=2)
    acc = pump.acceleration(10.0, "NDE", n=32768, fs=FS)
    fr = pump.speed_rpm(10.0) / 60
    bpfi = spec.bearing_nde.bpfi(fr)
    freqs, amps = amplitude_spectrum(envelope(acc[1], FS, band=(2000, 4400)), FS)
    assert peak_hz(freqs, amps, 2.5 * fr, 1000) == pytest.approx(bpfi, abs=2 * FS / 32768)
    noise = np.median(amps[(freqs > 10) & (freqs < 1000)])
    for side in (bpfi - fr, bpfi + fr):  # amplitude modulation by the load zone
        assert amps[np.argmin(np.abs(freqs - side))] > 5 * noise


def test_misalignment_looseness_and_cavitation_signatures() -> None:
    fr = SPEC.rated_speed_rpm / 60
    mis = PumpModel(SPEC, faults=[Fault("misalignment")], seed=1).acceleration(5.0, "DE", n=32768)
    freqs, amps = amplitude_spectrum(mis[2], FS)  # axial
    vel = amps / (2 * np.pi * np.maximum(freqs, 1e-9))
    one_x = vel[np.argmin(np.abs(freqs - fr))]
    base = PumpModel(SPEC, seed=1).acceleration(5.0, "DE", n=32768)
    f0, a0 = amplitude_spectrum(base[2], FS)
    assert one_x > 5 * (a0 / (2 * np.pi * np.maximum(f0, 1e-9)))[np.argmin(np.abs(f0 - fr))]

    loose = PumpModel(SPEC, faults=[Fault("looseness")], seed=1).acceleration(5.0, "DE", n=32768)
    freqs, amps = amplitude_spectrum(loose[1], FS)
    noise = np.median(amps[(freqs > 5) & (freqs < 1000)])
    for order in (0.5, 1.5, 3, 7):  # subharmonics and a comb of harmonics
        assert amps[np.argmin(np.abs(freqs - order * fr))] > 10 * noise

    cav_pump = PumpModel(SPEC, faults=[Fault("cavitation")], seed=1)
    cav = cav_pump.acceleration(5.0, "DE", n=32768)
    f, a = amplitude_spectrum(cav[0], FS)
    f0, a0 = amplitude_spectrum(base[0], FS)
    hf = (f > 3000) & (f < 10000)
    assert a[hf].mean() > 10 * a0[hf].mean()  # broadband high-frequency noise
    assert cav_pump.current_a(5.0) < PumpModel(SPEC, seed=1).current_a(5.0)


def test_overall_values_of_a_known_sine() -> None:
    # 1 m/s² peak at 100 Hz: velocity peak 1/(2π·100) m/s = 1.5915 mm/s, RMS 1.1254 mm/s;
    # displacement peak 1/(2π·100)² m = 2.533 µm, so 5.066 µm peak to peak.
    t = np.arange(25600) / FS
    o = overall_values(np.sin(2 * np.pi * 100 * t), FS)
    assert isinstance(o, AxisOverall)
    assert o.velocity_rms_mm_s == pytest.approx(1.1254, rel=1e-3)
    assert o.accel_rms_m_s2 == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert o.accel_peak_m_s2 == pytest.approx(1.0, rel=1e-3)
    assert o.displacement_pp_um == pytest.approx(5.066, rel=1e-2)
    assert o.kurtosis == pytest.approx(1.5, rel=1e-3)  # a sine's kurtosis
    assert o.crest_factor == pytest.approx(np.sqrt(2), rel=1e-3)
    # Out of the 10-1000 Hz band: no velocity.
    assert overall_values(np.sin(2 * np.pi * 3000 * t), FS).velocity_rms_mm_s < 0.01


def test_deterministic_with_a_seed_and_shaped_as_asked() -> None:
    a = PumpModel(SPEC, seed=9).reading(42.0, "NDE", n=4096, fs=12800.0)
    b = PumpModel(SPEC, seed=9).reading(42.0, "NDE", n=4096, fs=12800.0)
    c = PumpModel(SPEC, seed=10).reading(42.0, "NDE", n=4096, fs=12800.0)
    assert a.acceleration.shape == (3, 4096)
    assert np.array_equal(a.acceleration, b.acceleration) and a.overall == b.overall
    assert a.temperature_c == b.temperature_c and a.current_a == b.current_a
    assert not np.array_equal(a.acceleration, c.acceleration)
    big = PumpModel(SPEC, seed=9).acceleration(0.0, "DE", n=65536, fs=FS)
    assert big.shape == (3, 65536) and np.isfinite(big).all()


def test_schedule_ramps_battery_and_outages() -> None:
    pump = PumpModel(
        SPEC,
        faults=[Fault("unbalance", start_s=100, ramp_s=100, severity=2.0)],
        outages=[Outage("NDE", 50, 60)],
        battery_start_pct=10.0,
        battery_life_days=1.0,
    )
    assert pump.level("unbalance", 99) == 0
    assert pump.level("unbalance", 150) == pytest.approx(1.0)
    assert pump.level("unbalance", 500) == 2.0
    assert pump.online(55, "DE") and not pump.online(55, "NDE") and pump.online(61, "NDE")
    # 10 % left with a full charge lasting one day: empty after 0.1 day, then offline.
    assert pump.battery_pct(0, "DE") == 10.0
    assert pump.battery_pct(4320, "DE") == pytest.approx(5.0)
    assert pump.battery_pct(9000, "DE") == 0.0 and not pump.online(9000, "DE")
    # A bearing fault heats its own bearing more than the other one.
    hot = PumpModel(SPEC, faults=[Fault("outer_race", sensor="NDE")], seed=1)
    cold = PumpModel(SPEC, seed=1)
    assert hot.temperature_c(0, "NDE") - cold.temperature_c(0, "NDE") > 10
    assert hot.temperature_c(0, "DE") - cold.temperature_c(0, "DE") < 5
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("rub")  # type: ignore[arg-type]


def test_demo_plant_covers_every_p1_class_and_fault() -> None:
    plant = demo_plant()
    assert {c for p in plant for c in p.spec.pump_scope} == {
        "autoignition_or_260c",
        "liquefied_hydrocarbon_c5",
        "acute_toxicity_1_2",
    }
    assert {f.kind for p in plant for f in p.faults} == {
        "unbalance",
        "misalignment",
        "looseness",
        "outer_race",
        "inner_race",
        "cavitation",
    }
    for p in plant:
        r = p.reading(0.0, "DE", n=2048)
        assert 20 < r.temperature_c < 100 and r.speed_rpm > 1000 and r.current_a > 0
        assert -90 < r.signal_dbm < -40
