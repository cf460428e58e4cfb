"""Collect the topics of one MQTT broker into a sink: values, device health, quarantine.

    mmap = load_map(text, "gas.toml")
    transport = MqttTransport("10.0.0.5", 1883, client_id="hazwatch-gas")
    collector = MqttCollector(transport, mmap, writer, device_id=7,
                              tag_for=lambda r: resolver.id_for(r.tag, source="mqtt"),
                              device_for=lambda h: devices[h.code])
    collector.run(stop)            # until the threading.Event is set

What it does, and why:

- Messages arrive on paho's thread and wait in an inbox; this collector's own thread (the
  one calling ``run``) decodes them, looks up tag and device ids (which may touch the
  database) and hands the rows to the sink, then acknowledges the messages to the broker.
  Nothing slow runs on paho's thread, so keep-alives go on while the writer pushes back.
- Each message gives ts.sample rows for its mapped values and at most one quarantine row
  naming all its problems (``decode.decode_message``), plus problems found here: a tag that
  could not be created (database away) is named in that same row, with the payload, so the
  value can be recovered from the quarantine. A topic that fits no entry of the map is
  quarantined once per topic, then only counted.
- Device health (ts.device_health) follows the Modbus collector's conventions: a device's
  change of state is written at once and once; an online device is written again every
  ``health_every_s`` with its battery and signal. A map entry with ``silent_after_s`` marks
  a device offline when it has sent nothing for that long while the broker was reachable
  (a gateway that lost power cannot say so itself). Nothing is guessed while the broker is
  away: its devices' clocks restart when it is back.
- The broker connection is itself a device: ``DeviceHealth(device_kind="collector",
  online=False)`` when it is lost or cannot be reached, ``online=True`` when a session is
  back, ``online=False`` again on a clean stop (nothing is collected after it).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from ingest.mqtt.decode import (
    SOURCE,
    HealthReport,
    MqttMap,
    Reading,
    decode_message,
    raw_text,
)
from ingest.mqtt.transport import OnMessage, OnState, Received
from ingest.types import DeviceHealth, Rejected, Sample, Sink

log = logging.getLogger(__name__)

TagFor = Callable[[Reading], int | None]
DeviceFor = Callable[[HealthReport], int | None]


class Transport(Protocol):
    """What the collector needs of a connection (``MqttTransport`` in production)."""

    url: str
    refused: dict[str, str]

    def start(
        self,
        filters: Sequence[str],
        *,
        on_message: OnMessage,
        on_state: OnState | None = None,
        wait_s: float = 10.0,
    ) -> bool: ...

    def ack(self, messages: Iterable[Received]) -> None: ...

    def close(self) -> None: ...


@dataclass
class CollectorStats:
    messages: int = 0
    samples: int = 0
    health: int = 0
    rejected: int = 0
    unmatched: int = 0  # messages on topics that fit no entry of the map
    sessions: int = 0  # successful connections, the first one included
    outages: int = 0


@dataclass
class _Device:
    """What the collector knows of one sensor or gateway of the map."""

    kind: str
    code: str
    device_id: int | None = None
    online: bool | None = None  # as last written
    written_at: float = -math.inf
    last_seen: float = 0.0
    silent_after_s: float | None = None


@dataclass
class _Inbox:
    messages: list[Received] = field(default_factory=list)
    health: list[DeviceHealth] = field(default_factory=list)
    reset_silence: bool = False


class MqttCollector:
    """Messages of one broker into a ``Sink``; see the module doc.

    ``tag_for(reading)`` gives the tag id for a reading's tag name (the CLI creates unknown
    tags), None to refuse it; ``device_for(report)`` the registry id of a sensor or gateway
    named by a health report. Both run in the collector's thread and may raise (database
    away): the reading is then quarantined, the health row skipped until a later message.
    """

    def __init__(
        self,
        transport: Transport,
        mmap: MqttMap,
        sink: Sink,
        *,
        device_id: int,
        tag_for: TagFor,
        device_for: DeviceFor | None = None,
        health_every_s: float = 60.0,
        connect_wait_s: float = 10.0,
        tick_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.mmap = mmap
        self.sink = sink
        self.device_id = device_id
        self.tag_for = tag_for
        self.device_for = device_for
        self.health_every_s = health_every_s
        self.connect_wait_s = connect_wait_s
        self.tick_s = tick_s
        self.stats = CollectorStats()
        #: Broker connection state as last written (None: nothing written yet).
        self.online: bool | None = None
        self._clock = clock
        self._cond = threading.Condition()
        self._inbox = _Inbox()
        self._devices: dict[tuple[str, str], _Device] = {}
        self._unmatched_topics: set[str] = set()
        self._refused_reported: set[str] = set()

    @property
    def url(self) -> str:
        return self.transport.url

    # -- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Collect until ``stop`` is set; everything received is in the sink on return.

        Raises ``BrokerRefused`` (before anything is written) when the broker refuses the
        credentials on the first connection.
        """
        self.transport.start(
            self.mmap.subscriptions(),
            on_message=self._on_message,
            on_state=self._on_state,
            wait_s=self.connect_wait_s,
        )
        try:
            while not stop.is_set():
                with self._cond:
                    if not self._inbox.messages:
                        self._cond.wait(self.tick_s)
                self.process()
                self._check_silent()
            self.process()  # what arrived before the stop: delivered and acknowledged
        finally:
            self.transport.close()
            self._set_online(False, "collector stopped", outage=False)
            # Arrived between the last round and the disconnect: delivered, not acknowledged
            # (the broker sends them again next time; rows with a payload time stay unique).
            self.process(ack=False)

    # -- paho's thread -----------------------------------------------------------------------

    def _on_message(self, message: Received) -> None:
        with self._cond:
            self._inbox.messages.append(message)
            self._cond.notify()

    def _on_state(self, online: bool, why: str) -> None:
        if online:
            self.stats.sessions += 1
        self._set_online(online, why)

    def _set_online(self, online: bool, why: str, *, outage: bool = True) -> None:
        with self._cond:
            if self.online is online:
                return
            if online:
                log.info("mqtt %s: online (%s)", self.url, why)
                self._inbox.reset_silence = True
            else:
                (log.warning if outage else log.info)("mqtt %s: offline (%s)", self.url, why)
                self.stats.outages += outage
            self.online = online
            self._inbox.health.append(
                DeviceHealth(datetime.now(UTC), "collector", self.device_id, online)
            )

    # -- the collector's thread ------------------------------------------------------------

    def process(self, *, ack: bool = True) -> None:
        """Decode what arrived, hand the rows to the sink, then acknowledge the messages."""
        with self._cond:
            inbox, self._inbox = self._inbox, _Inbox()
        if inbox.reset_silence:
            now = self._clock()
            for dev in self._devices.values():
                dev.last_seen = now
        samples: list[Sample] = []
        health = list(inbox.health)
        rejected: list[Rejected] = []
        for message in inbox.messages:
            self._decode(message, samples, health, rejected)
        for f, why in self.transport.refused.items():
            if f not in self._refused_reported:
                self._refused_reported.add(f)
                rejected.append(Rejected(SOURCE, f"subscription refused: {why}", f, self.url))
        self.stats.messages += len(inbox.messages)
        # Health first: an outage row belongs before the data that follows the recovery.
        if health:
            self.sink.put_health(health)
            self.stats.health += len(health)
        if samples:
            self.sink.put_samples(samples)
            self.stats.samples += len(samples)
        for item in rejected:
            self.sink.reject(item)
        self.stats.rejected += len(rejected)
        if ack and inbox.messages:
            self.transport.ack(inbox.messages)

    def _decode(
        self,
        message: Received,
        samples: list[Sample],
        health: list[DeviceHealth],
        rejected: list[Rejected],
    ) -> None:
        decoded = decode_message(
            self.mmap,
            message.topic,
            message.payload,
            message.received,
            retained=message.retain,
            origin=self.url,
        )
        if decoded.rejected is not None and self.mmap.match(message.topic) is None:
            self.stats.unmatched += 1
            if message.topic in self._unmatched_topics:
                return
            self._unmatched_topics.add(message.topic)
            log.warning("mqtt %s: topic %s fits no entry of the map", self.url, message.topic)
        problems: list[str] = []
        for reading in decoded.readings:
            try:
                tag_id = self.tag_for(reading)
            except Exception as exc:
                log.warning("mqtt %s: no tag id for %s: %s", self.url, reading.tag, exc)
                problems.append(f"{reading.tag}: no tag id ({type(exc).__name__}: {exc})")
                continue
            if tag_id is None:
                problems.append(f"{reading.tag}: not a known tag")
                continue
            samples.append(Sample(reading.time, tag_id, reading.value, reading.quality))
        if decoded.health is not None:
            row = self._health_row(decoded.health)
            if row is not None:
                health.append(row)
        item = decoded.rejected
        if problems:
            reason = "; ".join(problems)
            item = (
                replace(item, reason=f"{item.reason}; {reason}")
                if item is not None
                else Rejected(SOURCE, reason, raw_text(message.payload), self.url, message.topic)
            )
        if item is not None:
            rejected.append(item)

    def _health_row(self, report: HealthReport) -> DeviceHealth | None:
        key = (report.device_kind, report.code)
        dev = self._devices.get(key)
        if dev is None:
            dev = self._devices[key] = _Device(report.device_kind, report.code)
        now = self._clock()
        dev.last_seen = now
        dev.silent_after_s = report.silent_after_s
        if dev.device_id is None:
            if self.device_for is None:
                return None
            try:
                dev.device_id = self.device_for(report)
            except Exception as exc:
                # Tried again with the next message of the device.
                log.warning(
                    "mqtt %s: no id for %s %s: %s", self.url, report.device_kind, report.code, exc
                )
                return None
            if dev.device_id is None:
                return None
        changed = dev.online is not report.online
        if not changed and now - dev.written_at < self.health_every_s:
            return None
        if changed and dev.online is not None:
            (log.info if report.online else log.warning)(
                "mqtt %s: %s %s %s",
                self.url,
                report.device_kind,
                report.code,
                "online" if report.online else "offline",
            )
        dev.online = report.online
        dev.written_at = now
        return DeviceHealth(
            report.time,
            report.device_kind,
            dev.device_id,
            report.online,
            report.battery_pct,
            report.signal_dbm,
        )

    def _check_silent(self) -> None:
        """Devices silent for longer than their ``silent_after_s``: offline (broker up)."""
        if not self.online:
            return  # broker away: the silence says nothing of the devices
        now = self._clock()
        rows = []
        for dev in self._devices.values():
            if (
                dev.silent_after_s is None
                or dev.device_id is None
                or dev.online is not True
                or now - dev.last_seen <= dev.silent_after_s
            ):
                continue
            log.warning(
                "mqtt %s: %s %s silent for %.0f s, offline",
                self.url,
                dev.kind,
                dev.code,
                now - dev.last_seen,
            )
            dev.online = False
            dev.written_at = now
            rows.append(DeviceHealth(datetime.now(UTC), dev.kind, dev.device_id, False))
        if rows:
            self.sink.put_health(rows)
            self.stats.health += len(rows)
