"""An in-memory ``Sink`` for collector tests that need no database.

sink = ListSink(refuse={"vibration", "waveforms"})   # those puts fail the test
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ingest.types import AlarmEvent, DeviceHealth, Rejected, Sample, VibrationOverall, Waveform


class ListSink:
    """Keeps every row it is given (thread-safe); ``refuse`` names row kinds that the collector
    under test must never produce: ``events``, ``vibration``, ``waveforms``."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.refuse = frozenset(refuse)
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.events: list[AlarmEvent] = []
        self.vibration: list[VibrationOverall] = []
        self.waveforms: list[Waveform] = []
        self.health: list[DeviceHealth] = []
        self.rejected: list[Rejected] = []

    def _keep(self, kind: str, target: list, rows: list) -> None:  # type: ignore[type-arg]
        if kind in self.refuse:
            raise AssertionError(f"this collector must write no {kind}: got {rows[:3]}")
        with self.lock:
            target += rows

    def put_samples(self, rows: list[Sample]) -> None:
        self._keep("samples", self.samples, rows)

    def put_alarm_events(self, rows: list[AlarmEvent]) -> None:
        self._keep("events", self.events, rows)

    def put_vibration(self, rows: list[VibrationOverall]) -> None:
        self._keep("vibration", self.vibration, rows)

    def put_waveforms(self, rows: list[Waveform]) -> None:
        self._keep("waveforms", self.waveforms, rows)

    def put_health(self, rows: list[DeviceHealth]) -> None:
        self._keep("health", self.health, rows)

    def reject(self, item: Rejected) -> None:
        with self.lock:
            self.rejected.append(item)

    def collector_states(self) -> list[bool]:
        """The online flags of the collector's own health rows, in order."""
        with self.lock:
            return [h.online for h in self.health if h.device_kind == "collector"]
