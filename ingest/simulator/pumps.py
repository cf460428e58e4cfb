"""Physics-based signals of the demo plant's in-scope pumps (P1), pure (numpy only).

Each pump carries two triaxial wireless sensors, at the drive-end (DE) and non-drive-end
(NDE) bearing housings; axes are X horizontal radial, Y vertical radial, Z axial. A capture
is the acceleration (m/s²) the sensor would record, built from the mechanisms that produce it
in a centrifugal pump, with faults injected on a schedule:

- unbalance: a rotating force at 1× running speed, radial, X and Y 90° apart;
- misalignment: 2× radial with strong axial 1× and 2×;
- mechanical looseness: many harmonics of 1× plus ½× subharmonics (truncated motion);
- bearing outer / inner race defects: impacts at BPFO / BPFI (from the bearing geometry),
  each ringing a structural resonance; inner-race impacts are amplitude-modulated by 1×
  because the defect rotates through the load zone;
- cavitation: bursts of broadband high-frequency noise, a noisier vane-pass tone and a
  fluctuating, lower motor current.

Overall values (velocity RMS 10–1000 Hz in mm/s, acceleration RMS and peak, displacement
peak-to-peak, kurtosis, crest factor) are computed from the waveform the same way an analyser
would. Everything is deterministic for a seed and a plant time (seconds since the plant
started), so the Modbus gateway, tests and the demo agree on every value.

    pump = PumpModel(demo_specs()[0], faults=[Fault("unbalance", start_s=0)], seed=1)
    acc = pump.acceleration(t_s=60.0, sensor="DE", n=8192, fs=25600.0)   # (3, 8192) m/s²
    reading = pump.reading(60.0, "DE")                                 # all register values
    reading.overall["X"].velocity_rms_mm_s
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

AXES = ("X", "Y", "Z")
SENSORS = ("DE", "NDE")
FaultKind = Literal[
    "unbalance", "misalignment", "looseness", "outer_race", "inner_race", "cavitation"
]
FAULT_KINDS: tuple[str, ...] = (
    "unbalance",
    "misalignment",
    "looseness",
    "outer_race",
    "inner_race",
    "cavitation",
)
DAY_S = 86400.0


# -- bearings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry and its defect frequencies.

    The kinematic formulas (e.g. SKF, "Vibration diagnostic guide", CM5003; Randall & Antoni,
    "Rolling element bearing diagnostics — a tutorial", MSSP 25 (2011) 485–520), with
    ``r = d/D · cos α``:

        BPFO = n/2 · f_r · (1 − r)        ball pass frequency, outer race
        BPFI = n/2 · f_r · (1 + r)        ball pass frequency, inner race
        FTF  = f_r/2 · (1 − r)            cage (fundamental train) frequency
        BSF  = D/(2d) · f_r · (1 − r²)    ball spin frequency

    >>> BEARING_6205.bpfo(1.0)   # Case Western Reserve bearing data: 3.5848 × running speed
    3.5848...
    """

    name: str
    n_elements: int
    element_d_mm: float
    pitch_d_mm: float
    contact_deg: float = 0.0

    @property
    def _r(self) -> float:
        return self.element_d_mm / self.pitch_d_mm * math.cos(math.radians(self.contact_deg))

    def bpfo(self, fr_hz: float) -> float:
        return self.n_elements / 2 * fr_hz * (1 - self._r)

    def bpfi(self, fr_hz: float) -> float:
        return self.n_elements / 2 * fr_hz * (1 + self._r)

    def ftf(self, fr_hz: float) -> float:
        return fr_hz / 2 * (1 - self._r)

    def bsf(self, fr_hz: float) -> float:
        return self.pitch_d_mm / (2 * self.element_d_mm) * fr_hz * (1 - self._r**2)


#: The deep-groove bearing of the Case Western Reserve University bearing data set (drive end):
#: 9 balls of 0.3126 in on a 1.537 in pitch circle.
BEARING_6205 = BearingGeometry("SKF 6205-2RS JEM", 9, 7.94004, 39.0398, 0.0)
#: A typical process-pump thrust bearing (angular contact, 40°); geometry approximate.
BEARING_7309 = BearingGeometry("7309 BECBP (approx.)", 11, 17.462, 72.5, 40.0)
#: A typical process-pump radial bearing (deep groove); geometry approximate.
BEARING_6309 = BearingGeometry("6309 (approx.)", 8, 17.462, 72.5, 0.0)


# -- the schedule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A fault that appears at ``start_s`` and grows linearly to ``severity`` over ``ramp_s``.

    Severity 1.0 is a clearly alarming condition (for the velocity faults about zone C/D of
    ISO 10816-3 for a 15–300 kW machine on a rigid foundation). Bearing faults sit at one
    ``sensor`` (DE or NDE); the other sensor sees a fifth of them.
    """

    kind: FaultKind
    start_s: float = 0.0
    ramp_s: float = 0.0
    severity: float = 1.0
    sensor: str = "DE"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}")
        if self.sensor not in SENSORS:
            raise ValueError(f"sensor {self.sensor!r} is not DE or NDE")

    def level(self, t_s: float) -> float:
        if t_s < self.start_s:
            return 0.0
        if self.ramp_s <= 0:
            return self.severity
        return self.severity * min(1.0, (t_s - self.start_s) / self.ramp_s)


@dataclass(frozen=True)
class Outage:
    """A sensor that drops off the wireless network between two plant times."""

    sensor: str
    start_s: float
    end_s: float

    def covers(self, sensor: str, t_s: float) -> bool:
        return sensor == self.sensor and self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class PumpSpec:
    """What the equipment register records about a pump (P1 scope class included)."""

    code: str
    name: str
    medium: str
    pump_scope: tuple[str, ...]
    medium_temp_c: float
    rated_speed_rpm: float = 2970.0
    rated_power_kw: float = 55.0
    rated_current_a: float = 100.0
    vanes: int = 6
    bearing_de: BearingGeometry = BEARING_6309
    bearing_nde: BearingGeometry = BEARING_7309
    #: Housing resonance that bearing impacts ring (Hz); typical 2–5 kHz for pump housings.
    resonance_hz: float = 3200.0


@dataclass(frozen=True)
class AxisOverall:
    velocity_rms_mm_s: float
    accel_rms_m_s2: float
    accel_peak_m_s2: float
    displacement_pp_um: float
    kurtosis: float
    crest_factor: float


@dataclass(frozen=True)
class SensorReading:
    """Everything one sensor node reports at a plant time (what the gateway publishes)."""

    t_s: float
    pump: str
    sensor: str
    online: bool
    battery_pct: float
    signal_dbm: float
    temperature_c: float
    speed_rpm: float
    current_a: float
    overall: dict[str, AxisOverall]
    #: The capture the overall values came from: (3, n) m/s², rows X, Y, Z.
    acceleration: np.ndarray = field(repr=False)
    sample_rate_hz: float = 25600.0


# -- signal processing helpers (also used by tests and analytics-free checks) -------------------


def overall_values(
    accel: np.ndarray, fs: float, band: tuple[float, float] = (10.0, 1000.0)
) -> AxisOverall:
    """Overall values of one axis from acceleration in m/s².

    Velocity and displacement are integrated in the frequency domain over ``band`` (ISO
    10816/20816 use 10–1000 Hz for machines above 600 rpm); acceleration values are broadband.

    >>> overall_values(np.sin(2 * np.pi * 100 * np.arange(25600) / 25600), 25600.0)
    AxisOverall(velocity_rms_mm_s=1.125..., accel_rms_m_s2=0.707..., ...)
    """
    a = np.asarray(accel, dtype=np.float64)
    a = a - a.mean()
    n = a.size
    spectrum = np.fft.rfft(a)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    in_band = (freqs >= band[0]) & (freqs <= band[1])
    jw = np.where(in_band, 2j * np.pi * np.where(freqs > 0, freqs, 1.0), 1.0)
    velocity = np.fft.irfft(np.where(in_band, spectrum / jw, 0), n)  # m/s
    displacement = np.fft.irfft(np.where(in_band, spectrum / jw**2, 0), n)  # m
    rms = float(np.sqrt(np.mean(a**2)))
    peak = float(np.max(np.abs(a)))
    return AxisOverall(
        velocity_rms_mm_s=float(np.sqrt(np.mean(velocity**2)) * 1e3),
        accel_rms_m_s2=rms,
        accel_peak_m_s2=peak,
        displacement_pp_um=float((displacement.max() - displacement.min()) * 1e6),
        kurtosis=float(np.mean(a**4) / rms**4) if rms > 0 else 0.0,
        crest_factor=peak / rms if rms > 0 else 0.0,
    )


def amplitude_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum with a Hann window (amplitude-corrected)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.hanning(x.size)
    spec = np.abs(np.fft.rfft((x - x.mean()) * w)) * 2 / w.sum()
    return np.fft.rfftfreq(x.size, 1.0 / fs), spec


def envelope(x: np.ndarray, fs: float, band: tuple[float, float] | None = None) -> np.ndarray:
    """Envelope (|analytic signal|) after an optional FFT band-pass; numpy-only Hilbert."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    spectrum = np.fft.fft(x - x.mean())
    freqs = np.fft.fftfreq(n, 1.0 / fs)
    if band is not None:
        spectrum[(np.abs(freqs) < band[0]) | (np.abs(freqs) > band[1])] = 0
    # Analytic signal: keep DC and Nyquist, double positive frequencies, drop negative ones.
    h = np.zeros(n)
    h[0] = 1
    if n % 2 == 0:
        h[n // 2] = 1
        h[1 : n // 2] = 2
    else:
        h[1 : (n + 1) // 2] = 2
    return np.abs(np.fft.ifft(spectrum * h))


# -- the pump model ----------------------------------------------------------------------------


def _stable_int(text: str) -> int:
    """A seed component from a name that is the same in every process (hash() is salted)."""
    return zlib.crc32(text.encode())


class PumpModel:
    """One pump's signals over plant time, with its fault and outage schedule."""

    def __init__(
        self,
        spec: PumpSpec,
        *,
        faults: Sequence[Fault] = (),
        outages: Sequence[Outage] = (),
        seed: int = 0,
        battery_start_pct: float = 100.0,
        battery_life_days: float = 730.0,
    ) -> None:
        self.spec = spec
        self.faults = tuple(faults)
        self.outages = tuple(outages)
        self.seed = seed
        self.battery_start_pct = battery_start_pct
        self.battery_life_days = battery_life_days
        # Fixed phases of the slow process variations, drawn once per pump.
        rng = np.random.default_rng([seed, _stable_int(spec.code)])
        self._phases = rng.uniform(0, 2 * np.pi, 16)

    def __repr__(self) -> str:
        return f"PumpModel({self.spec.code!r}, faults={[f.kind for f in self.faults]})"

    # slow process values -----------------------------------------------------------------

    def level(self, kind: str, t_s: float, sensor: str | None = None) -> float:
        """Current severity of a fault kind (bearing faults: as seen at ``sensor``)."""
        total = 0.0
        for f in self.faults:
            if f.kind != kind:
                continue
            lvl = f.level(t_s)
            if kind in ("outer_race", "inner_race") and sensor is not None and f.sensor != sensor:
                lvl *= 0.2  # transmitted through the shaft and casing, attenuated
            total += lvl
        return total

    def _rng(self, t_s: float, *salt: int) -> np.random.Generator:
        return np.random.default_rng(
            [self.seed, _stable_int(self.spec.code), round(t_s * 1000) & 0x7FFFFFFF, *salt]
        )

    def _slow(self, t_s: float, i: int, period_s: float) -> float:
        return math.sin(2 * math.pi * t_s / period_s + self._phases[i])

    def speed_rpm(self, t_s: float) -> float:
        """Induction-motor speed: rated, slip varying slowly with load, up a little when the
        pump cavitates (less hydraulic load)."""
        s = self.spec
        cav = self.level("cavitation", t_s)
        return s.rated_speed_rpm * (1 + 0.0015 * self._slow(t_s, 0, 900.0) + 0.003 * cav)

    def current_a(self, t_s: float) -> float:
        s = self.spec
        cav = self.level("cavitation", t_s)
        mis = self.level("misalignment", t_s)
        jitter = self._rng(t_s, 1).normal(0, 0.004 + 0.03 * cav)
        load = 0.82 * (1 + 0.01 * self._slow(t_s, 1, 1800.0)) * (1 - 0.08 * cav) * (1 + 0.03 * mis)
        return s.rated_current_a * (load + jitter)

    def temperature_c(self, t_s: float, sensor: str) -> float:
        """Bearing-housing temperature: ambient (daily cycle) + running rise + heat from the
        medium (hot-service pumps run warmer) + friction from faults at that bearing."""
        idx = SENSORS.index(sensor)
        ambient = 18 + 7 * self._slow(t_s, 2, DAY_S)
        medium = 0.05 * max(0.0, self.spec.medium_temp_c - 20) * (1.0 if idx == 0 else 0.6)
        faults = (
            12 * (self.level("outer_race", t_s, sensor) + self.level("inner_race", t_s, sensor))
            + 6 * self.level("misalignment", t_s)
            + 2 * self.level("looseness", t_s)
        )
        noise = self._rng(t_s, 2, idx).normal(0, 0.05)
        return ambient + 22 + 3 * idx + medium + faults + noise

    def battery_pct(self, t_s: float, sensor: str) -> float:
        """Linear run-down over the battery life (sensors differ by a few percent)."""
        idx = SENSORS.index(sensor)
        life = self.battery_life_days * DAY_S * (1 - 0.03 * idx)
        return float(min(100.0, max(0.0, self.battery_start_pct - 100 * t_s / life)))

    def signal_dbm(self, t_s: float, sensor: str) -> float:
        idx = SENSORS.index(sensor)
        base = -61 - 5 * idx + 3 * self._slow(t_s, 3 + idx, 3600.0)
        return float(round(base + self._rng(t_s, 3, idx).normal(0, 0.7)))

    def online(self, t_s: float, sensor: str) -> bool:
        if any(o.covers(sensor, t_s) for o in self.outages):
            return False
        return self.battery_pct(t_s, sensor) > 0

    # vibration ---------------------------------------------------------------------------

    def acceleration(
        self, t_s: float, sensor: str, *, n: int = 8192, fs: float = 25600.0
    ) -> np.ndarray:
        """A triaxial capture starting at ``t_s``: shape (3, n), rows X, Y, Z, in m/s²."""
        if sensor not in SENSORS:
            raise ValueError(f"sensor {sensor!r} is not DE or NDE")
        idx = SENSORS.index(sensor)
        rng = self._rng(t_s, 10, idx)
        s = self.spec
        fr = self.speed_rpm(t_s) / 60.0
        t = np.arange(n) / fs
        out = np.zeros((3, n))

        def tone(axis: int, f_hz: float, v_mm_s: float, phase: float) -> None:
            """Add a sinusoid given by its velocity amplitude (mm/s peak), as acceleration."""
            if f_hz <= 0 or f_hz >= fs / 2 or v_mm_s == 0:
                return
            out[axis] += v_mm_s * 1e-3 * 2 * np.pi * f_hz * np.sin(2 * np.pi * f_hz * t + phase)

        ph = rng.uniform(0, 2 * np.pi, 64)
        # A healthy pump: residual unbalance, a little 2x, vane pass, broadband noise.
        for ax, v in enumerate((0.9, 0.7, 0.3)):
            tone(ax, fr, v, ph[0] + ax * np.pi / 2)
            tone(ax, 2 * fr, 0.25 * (1 if ax < 2 else 0.6), ph[1] + ax)
            tone(ax, s.vanes * fr, 0.45 if ax < 2 else 0.2, ph[2] + ax)
        out += rng.normal(0, 0.12, out.shape)

        unb = self.level("unbalance", t_s)
        if unb:
            # A rotating force: equal radial response 90° apart, little axial.
            tone(0, fr, 6.5 * unb, ph[3])
            tone(1, fr, 5.5 * unb, ph[3] - np.pi / 2)
            tone(2, fr, 0.6 * unb, ph[3])

        mis = self.level("misalignment", t_s)
        if mis:
            for ax, (v1, v2) in enumerate(((1.8, 3.5), (1.5, 3.0), (4.5, 3.2))):
                tone(ax, fr, v1 * mis, ph[4] + ax)
                tone(ax, 2 * fr, v2 * mis, ph[5] + ax)

        loose = self.level("looseness", t_s)
        if loose:
            # Truncated, non-linear motion: a comb of harmonics and half-order subharmonics,
            # strongest vertically (Y) where the foot or bearing cap is loose.
            for ax, w in enumerate((0.6, 1.0, 0.3)):
                for k in range(1, 11):
                    tone(ax, k * fr, 2.8 * w * loose / math.sqrt(k), ph[6 + k])
                for k in (0.5, 1.5, 2.5, 3.5):
                    tone(ax, k * fr, 1.2 * w * loose, ph[20 + int(2 * k)])

        for kind, defect_hz, modulate in (
            ("outer_race", self._bearing(sensor).bpfo(fr), False),
            ("inner_race", self._bearing(sensor).bpfi(fr), True),
        ):
            lvl = self.level(kind, t_s, sensor)
            if lvl:
                impacts = self._impacts(n, fs, defect_hz, fr if modulate else None, rng, ph[30])
                for ax, w in enumerate((0.6, 1.0, 0.3)):
                    out[ax] += 30.0 * lvl * w * impacts

        cav = self.level("cavitation", t_s)
        if cav:
            # Bubble collapse: broadband noise above ~2 kHz in bursts, plus flow turbulence.
            noise = rng.normal(0, 1, (3, n))
            spec = np.fft.rfft(noise, axis=1)
            freqs = np.fft.rfftfreq(n, 1 / fs)
            spec[:, freqs < 2000] = 0
            hf = np.fft.irfft(spec, n, axis=1)
            hf /= hf.std(axis=1, keepdims=True) + 1e-12
            bursts = 0.4 + np.abs(np.convolve(rng.normal(0, 1, n), np.ones(64) / 8, "same"))
            out += 3.5 * cav * hf * bursts
            for ax in range(3):
                tone(ax, s.vanes * fr, 1.5 * cav, ph[40 + ax])
        return out

    def _bearing(self, sensor: str) -> BearingGeometry:
        return self.spec.bearing_de if sensor == "DE" else self.spec.bearing_nde

    def _impacts(
        self,
        n: int,
        fs: float,
        rate_hz: float,
        modulate_hz: float | None,
        rng: np.random.Generator,
        phase: float,
    ) -> np.ndarray:
        """Impacts at ``rate_hz`` (1 % random slip) ringing the housing resonance; unit peak."""
        period = 1.0 / rate_hz
        jitter = rng.normal(0, 0.01 * period, int(n / fs / period) + 2)
        times = rng.uniform(0, period) + np.cumsum(np.full(jitter.size, period)) - period + jitter
        idx = np.round(times * fs).astype(int)
        keep = (idx >= 0) & (idx < n)
        train = np.zeros(n)
        amp = np.ones(int(keep.sum()))
        if modulate_hz is not None:
            # The defect passes through the load zone once per revolution.
            amp = 0.65 + 0.35 * np.cos(2 * np.pi * modulate_hz * times[keep] + phase)
        train[idx[keep]] = amp
        fn = min(self.spec.resonance_hz, 0.35 * fs)
        zeta = 0.05
        wn = 2 * np.pi * fn
        tk = np.arange(int(math.log(100) / (zeta * wn) * fs) + 1) / fs
        ring = np.exp(-zeta * wn * tk) * np.sin(wn * math.sqrt(1 - zeta**2) * tk)
        return np.convolve(train, ring / np.abs(ring).max())[:n]

    def reading(
        self, t_s: float, sensor: str, *, n: int = 8192, fs: float = 25600.0
    ) -> SensorReading:
        """Every value a sensor node reports at ``t_s``, overall values from a fresh capture."""
        acc = self.acceleration(t_s, sensor, n=n, fs=fs)
        return SensorReading(
            t_s=t_s,
            pump=self.spec.code,
            sensor=sensor,
            online=self.online(t_s, sensor),
            battery_pct=self.battery_pct(t_s, sensor),
            signal_dbm=self.signal_dbm(t_s, sensor),
            temperature_c=self.temperature_c(t_s, sensor),
            speed_rpm=self.speed_rpm(t_s),
            current_a=self.current_a(t_s),
            overall={ax: overall_values(acc[i], fs) for i, ax in enumerate(AXES)},
            acceleration=acc,
            sample_rate_hz=fs,
        )


# -- the demo plant ----------------------------------------------------------------------------


def demo_specs() -> list[PumpSpec]:
    """Six in-scope pumps, two of each P1 class."""
    hot = ("autoignition_or_260c",)
    lpg = ("liquefied_hydrocarbon_c5",)
    tox = ("acute_toxicity_1_2",)
    return [
        PumpSpec(
            "P-101A",
            "常压渣油泵A",
            "常压渣油",
            hot,
            350.0,
            rated_power_kw=90.0,
            rated_current_a=165.0,
        ),
        PumpSpec(
            "P-102A",
            "减压渣油泵A",
            "减压渣油",
            hot,
            380.0,
            rated_speed_rpm=1480.0,
            rated_power_kw=110.0,
            rated_current_a=200.0,
            vanes=7,
        ),
        PumpSpec(
            "P-201A",
            "液化石油气泵A",
            "液化石油气",
            lpg,
            35.0,
            rated_power_kw=37.0,
            rated_current_a=70.0,
            bearing_de=BEARING_6205,
        ),
        PumpSpec(
            "P-202A", "戊烷泵A", "C5 馏分", lpg, 45.0, rated_power_kw=30.0, rated_current_a=57.0
        ),
        PumpSpec(
            "P-301A",
            "氢氟酸泵A",
            "氢氟酸",
            tox,
            30.0,
            rated_power_kw=15.0,
            rated_current_a=29.0,
            vanes=5,
        ),
        PumpSpec(
            "P-302A",
            "液氯泵A",
            "液氯",
            tox,
            20.0,
            rated_power_kw=18.5,
            rated_current_a=35.0,
            vanes=5,
        ),
    ]


def demo_plant(seed: int = 0) -> list[PumpModel]:
    """The demo plant's pumps with a fault schedule that shows each mechanism within hours.

    Times are plant seconds since start; the demo may run the clock faster than real time.
    """
    specs = {s.code: s for s in demo_specs()}
    return [
        PumpModel(
            specs["P-101A"],
            seed=seed,
            faults=[Fault("unbalance", start_s=600, ramp_s=3600, severity=1.2)],
        ),
        PumpModel(
            specs["P-102A"], seed=seed, faults=[Fault("misalignment", start_s=1800, ramp_s=3600)]
        ),
        PumpModel(
            specs["P-201A"],
            seed=seed,
            faults=[Fault("outer_race", start_s=0, ramp_s=7200, sensor="DE")],
            outages=[Outage("NDE", 2400, 3000)],
        ),
        PumpModel(
            specs["P-202A"],
            seed=seed,
            faults=[Fault("inner_race", start_s=3600, ramp_s=7200, sensor="NDE")],
        ),
        PumpModel(
            specs["P-301A"],
            seed=seed,
            faults=[Fault("cavitation", start_s=1200, ramp_s=120, severity=0.8)],
            battery_start_pct=12.0,
            battery_life_days=1.0,
        ),
        PumpModel(
            specs["P-302A"], seed=seed, faults=[Fault("looseness", start_s=5400, ramp_s=1800)]
        ),
    ]
