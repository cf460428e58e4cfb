"""Collect one OPC UA server into a sink: values and A&C events, reconnecting for ever.

    collector = OpcUaCollector(
        "opc.tcp://10.1.2.3:4840", {"ns=2;s=FIC101": 17}, writer, device_id=4,
        security=Security("SignAndEncrypt", Path("c.pem"), Path("k.pem")),
    )
    collector.run(stop)                # until the threading.Event is set

What it does, and why:

- One subscription per session carries the data changes of the mapped nodes and the events
  of the Server object. Every data change becomes a ts.sample row (source timestamp, quality
  byte from the StatusCode); a value that is not a number goes to quarantine. Every A&C event
  is compared with the last state seen of its condition (``decode.transitions``), which gives
  ALM / ACK / RTN / SHELVE / … rows for alarm.event; other events are ignored.
- After subscribing it calls ConditionRefresh, so alarms already standing when it connects are
  recorded too (servers that lack the method are fine: their alarms show up when they change).
  The last state of every condition is kept across reconnects, so a refresh after an outage
  gives rows only for what changed.
- The reconnect loop is its own (asyncua's auto-reconnect stays off): a lost session, a dead
  subscription, a refused connection all lead to a new session after a back-off (0.5 s
  doubling to 10 s), with the subscription created anew, since a restarted server knows
  nothing of the old one. Each outage is recorded in ts.device_health as a
  ``DeviceHealth(device_kind="collector", online=False)`` row when it starts and an
  ``online=True`` row when a session is back; a first connection that fails counts as an
  outage from the start. A clean stop writes ``online=False`` too: nothing is collected after.
- Rows are handed to the sink every ``flush_s`` from a worker thread (the sink may block for
  back-pressure, and tag look-ups may touch the database), never from the event loop, so
  keep-alives go on while the writer is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.opcua.decode import (
    CONDITION_ID,
    SOURCE,
    ConditionState,
    DataChange,
    alarm_events,
    condition_state,
    sample_from_change,
)
from ingest.opcua.transport import Connection, Security, TransportError
from ingest.types import AlarmEvent, DeviceHealth, Rejected, Sample, Sink

log = logging.getLogger(__name__)

#: Reconnect back-off: first retry after 0.5 s, doubling, at most 10 s apart.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0

TagForSource = Callable[[str, str], int | None]
PointsFor = Callable[[int], Mapping[str, tuple[int, str]]]


@dataclass
class CollectorStats:
    samples: int = 0
    alarm_events: int = 0
    health: int = 0
    rejected: int = 0
    sessions: int = 0  # successful connections, the first one included
    outages: int = 0


class OpcUaCollector:
    """Values and alarm events of one OPC UA server into a ``Sink``; see the module doc.

    ``nodes`` maps node ids (``ns=2;s=FIC101``) to tag ids. ``tag_for_source(node_id, name)``
    gives the tag of an alarm whose source node is not mapped (the CLI creates it; None
    rejects the event); ``points_for(tag_id)`` gives the tag's alarm points as
    ``{condition: (point_id, category)}``. Both run in the worker thread.
    """

    def __init__(
        self,
        url: str,
        nodes: Mapping[str, int],
        sink: Sink,
        *,
        device_id: int,
        security: Security | None = None,
        events: bool = True,
        tag_for_source: TagForSource | None = None,
        points_for: PointsFor | None = None,
        publishing_ms: float = 250,
        flush_s: float = 0.2,
        backoff_start_s: float = BACKOFF_START_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        timeout_s: float = 4.0,
    ) -> None:
        self.url = url
        self.nodes = dict(nodes)
        self.sink = sink
        self.device_id = device_id
        self.security = security or Security()
        self.events = events
        self.tag_for_source = tag_for_source
        self.points_for = points_for
        self.publishing_ms = publishing_ms
        self.flush_s = flush_s
        self.backoff_start_s = backoff_start_s
        self.backoff_max_s = backoff_max_s
        self.timeout_s = timeout_s
        self.stats = CollectorStats()
        #: Last state seen of each condition (ConditionId -> state), across sessions.
        self.conditions: dict[str, ConditionState] = {}
        self.online: bool | None = None
        self._changes: list[DataChange] = []
        self._events: list[tuple[dict[str, Any], datetime]] = []
        self._health: list[DeviceHealth] = []
        self._rejected: list[Rejected] = []
        self._refused_reported: set[str] = set()
        self._alarm_tags: dict[str, int | None] = {}
        self._done = False

    # -- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Collect until ``stop`` is set; everything received is in the sink on return."""
        asyncio.run(self.run_async(stop))

    async def run_async(self, stop: threading.Event) -> None:
        self._done = False
        flusher = asyncio.create_task(self._flush_loop(stop), name="opcua-flush")
        try:
            await self._session_loop(stop)
        finally:
            self._set_online(False, "collector stopped", outage=False)
            self._done = True
            await flusher  # ends after a last flush

    async def _session_loop(self, stop: threading.Event) -> None:
        backoff = self.backoff_start_s
        while not stop.is_set():
            conn = Connection(self.url, self.security, timeout_s=self.timeout_s)
            try:
                await conn.open()
                refused = await conn.subscribe(
                    self.nodes,
                    self._on_change,
                    self._on_event if self.events else None,
                    publishing_ms=self.publishing_ms,
                )
                if self.events:
                    await conn.condition_refresh()
            except Exception as exc:
                # Refused, unreachable, security rejected, a subscription the server would not
                # create (asyncua raises UaError subclasses and OSErrors): all mean "not now".
                await conn.close()
                why = str(exc) if isinstance(exc, TransportError) else f"{self.url}: {exc!r}"
                self._set_online(False, why)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            self._report_refused(refused)
            self.stats.sessions += 1
            self._set_online(True, f"connected to {self.url}")
            backoff = self.backoff_start_s
            while not stop.is_set() and not conn.lost.is_set():
                await _first(conn.lost.wait(), 0.1)
            if conn.lost.is_set():
                self._set_online(False, conn.lost_reason or "connection lost")
            await conn.close()

    # Methods, not bound ``list.append``: flush() swaps the lists.
    def _on_change(self, change: DataChange) -> None:
        self._changes.append(change)

    def _on_event(self, fields: dict[str, Any]) -> None:
        self._events.append((fields, datetime.now(UTC)))

    def _set_online(self, online: bool, why: str, *, outage: bool = True) -> None:
        if self.online is online:
            return
        if online:
            log.info("opcua %s: online (%s)", self.url, why)
        else:
            (log.warning if outage else log.info)("opcua %s: offline (%s)", self.url, why)
            self.stats.outages += outage
        self.online = online
        self._health.append(DeviceHealth(datetime.now(UTC), "collector", self.device_id, online))

    def _report_refused(self, refused: Mapping[str, str]) -> None:
        # A node the server does not know is a mapping error: quarantine it once per run.
        for node_id, reason in refused.items():
            if node_id in self._refused_reported:
                continue
            self._refused_reported.add(node_id)
            log.warning("opcua %s: node %s refused: %s", self.url, node_id, reason)
            self._rejected.append(
                Rejected(SOURCE, f"monitored item refused: {reason}", node_id, origin=self.url)
            )

    # -- handing rows to the sink ----------------------------------------------------------

    async def _flush_loop(self, stop: threading.Event) -> None:
        # Runs until the session loop is over (``_done``), then flushes once more, so the
        # rows of the last moments (and the final health row) reach the sink.
        while True:
            last = self._done
            try:
                await self.flush()
            except Exception:
                # A sink that fails must not end collection; the writer logs its own errors.
                log.exception("opcua %s: handing rows to the sink failed", self.url)
            if last:
                return
            await asyncio.sleep(self.flush_s)

    async def flush(self) -> None:
        """Decode what arrived since the last flush and hand it to the sink (worker thread)."""
        changes, self._changes = self._changes, []
        events, self._events = self._events, []
        health, self._health = self._health, []
        rejected, self._rejected = self._rejected, []
        if changes or events or health or rejected:
            await asyncio.to_thread(self._deliver, changes, events, health, rejected)

    def _deliver(
        self,
        changes: list[DataChange],
        events: list[tuple[dict[str, Any], datetime]],
        health: list[DeviceHealth],
        rejected: list[Rejected],
    ) -> None:
        now = datetime.now(UTC)
        samples: list[Sample] = []
        for change in changes:
            tag_id = self.nodes.get(change.node_id)
            if tag_id is None:
                continue
            row = sample_from_change(change, tag_id, now)
            if isinstance(row, Rejected):
                rejected.append(row)
            else:
                samples.append(row)
        alarms: list[AlarmEvent] = []
        for fields, received in events:
            alarms += self._alarm_rows(fields, received, rejected)
        # Health first: an outage row belongs before the data that follows the recovery.
        if health:
            self.sink.put_health(health)
            self.stats.health += len(health)
        if samples:
            self.sink.put_samples(samples)
            self.stats.samples += len(samples)
        if alarms:
            self.sink.put_alarm_events(alarms)
            self.stats.alarm_events += len(alarms)
        for item in rejected:
            self.sink.reject(item)
        self.stats.rejected += len(rejected)

    def _alarm_rows(
        self, fields: dict[str, Any], received: datetime, rejected: list[Rejected]
    ) -> list[AlarmEvent]:
        source = str(fields.get("SourceNode") or "")
        key = str(fields.get(CONDITION_ID) or f"{source}/{fields.get('ConditionName') or ''}")
        previous = self.conditions.get(key)
        current = condition_state(fields, previous)
        if current is None:
            return []  # not an alarm: audit, system, refresh start/end events
        self.conditions[key] = current
        tag_id = self._tag_of(source, str(fields.get("SourceName") or ""))
        if tag_id is None:
            rejected.append(
                Rejected(
                    SOURCE,
                    f"alarm source {source or '(none)'} is not mapped to a tag",
                    repr({k: v for k, v in fields.items() if v is not None})[:4000],
                    origin=self.url,
                )
            )
            return []
        points = self.points_for(tag_id) if self.points_for else None
        return alarm_events(
            fields, current, previous, tag_id=tag_id, received=received, points=points
        )

    def _tag_of(self, source: str, name: str) -> int | None:
        if source in self.nodes:
            return self.nodes[source]
        if source not in self._alarm_tags:
            if not (self.tag_for_source and source):
                return None
            try:
                self._alarm_tags[source] = self.tag_for_source(source, name)
            except Exception:
                # The database may be away; the event is quarantined, the next one retries.
                log.exception("opcua %s: no tag for alarm source %s", self.url, source)
                return None
        return self._alarm_tags[source]


async def _sleep(stop: threading.Event, seconds: float) -> None:
    """Sleep, waking early (within 50 ms) when ``stop`` is set."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not stop.is_set() and loop.time() < end:
        await asyncio.sleep(min(0.05, end - loop.time()))


async def _first(aw: Any, timeout: float) -> None:
    """Await ``aw`` for at most ``timeout`` seconds (without leaving it pending)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(aw, timeout)
