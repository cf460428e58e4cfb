"""What collectors hand to the writer, and the contract between them.

Every collector produces rows of a few fixed shapes and passes them to a ``Sink`` (in
production the one writer of ``ingest.writer``; the writer owns batching, back-pressure and
store-and-forward). Collectors never talk SQL to the hypertables themselves.

    sink.put_samples([Sample(t, tag_id, 42.0)])
    sink.put_alarm_events([AlarmEvent(t, tag_id, "ALM", condition="H", priority="high", ...)])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

#: OPC DA style quality bytes, as stored in ts.sample.quality.
GOOD = 192
UNCERTAIN = 64
BAD = 0

EventKind = Literal[
    "ALM", "ACK", "RTN", "SHELVE", "UNSHELVE", "SUPPRESS", "UNSUPPRESS", "OOS", "INS"
]
EVENT_KINDS: tuple[str, ...] = (
    "ALM", "ACK", "RTN", "SHELVE", "UNSHELVE", "SUPPRESS", "UNSUPPRESS", "OOS", "INS",
)  # fmt: skip
PRIORITIES: tuple[str, ...] = ("emergency", "high", "low", "journal")
CATEGORIES: tuple[str, ...] = ("process", "equipment", "instrument", "safety")


class Sample(NamedTuple):
    """One row of ts.sample."""

    time: datetime
    tag_id: int
    value: float | None
    quality: int = GOOD


class AlarmEvent(NamedTuple):
    """One row of alarm.event (column order as in the table)."""

    time: datetime
    tag_id: int
    kind: str
    condition: str = ""
    point_id: int | None = None
    priority: str | None = None
    category: str | None = None
    limit_value: float | None = None
    value: float | None = None
    message: str | None = None
    operator: str | None = None
    source: str = "unknown"
    source_event_id: str | None = None


class VibrationOverall(NamedTuple):
    time: datetime
    sensor_id: int
    axis: str
    velocity_rms_mm_s: float | None = None
    accel_rms_m_s2: float | None = None
    accel_peak_m_s2: float | None = None
    displacement_pp_um: float | None = None
    kurtosis: float | None = None
    crest_factor: float | None = None


class Waveform(NamedTuple):
    time: datetime
    sensor_id: int
    axis: str
    sample_rate_hz: float
    speed_rpm: float | None
    unit: str
    samples: list[float]


class DeviceHealth(NamedTuple):
    time: datetime
    device_kind: str
    device_id: int
    online: bool
    battery_pct: float | None = None
    signal_dbm: float | None = None


@dataclass(frozen=True)
class Rejected:
    """Input that could not be taken in: goes to ingest.quarantine with the reason."""

    source: str
    reason: str
    raw: str
    origin: str | None = None
    position: str | None = None


class Sink(Protocol):
    """Where collectors put what they read. Calls may block briefly (back-pressure)."""

    def put_samples(self, rows: list[Sample]) -> None: ...

    def put_alarm_events(self, rows: list[AlarmEvent]) -> None: ...

    def put_vibration(self, rows: list[VibrationOverall]) -> None: ...

    def put_waveforms(self, rows: list[Waveform]) -> None: ...

    def put_health(self, rows: list[DeviceHealth]) -> None: ...

    def reject(self, item: Rejected) -> None: ...
