"""Poll one Modbus TCP gateway by a register map and hand rows to a sink (the writer).

    rmap = RegisterMap.from_csv(Path("plant.csv"))
    with ModbusTransport("127.0.0.1", 5020) as gw:
        collector = ModbusCollector(gw, rmap, sink, tag_ids={...}, device_ids={...})
        collector.run(stop_event)        # until stop_event is set; or poll_all() once

What it does, and why:

- Points are grouped by poll interval (a row's ``interval_s``, else the collector's), so each
  device is polled at its own rate; within a group, the scalar points of one unit and register
  table are coalesced into as few reads as possible (at most 125 registers each, gaps of at
  most ``max_gap`` unmapped registers bridged, 8 by default). Many devices refuse to read
  unmapped addresses (exception 2): such a block is then split into its mapped runs for good.
- Every scalar point with a tag becomes a ts.sample row (quality good); overall vibration
  fields become vib.overall rows per sensor and axis; a waveform capture area is read in
  blocks when its header's sequence number changes and becomes a vib.waveform row; a capture
  that changed while being read (sequence differs before and after) is read again next time.
- Device health (ts.device_health): a unit that answers is online unless its ``online``
  register says 0 (the gateway reports the sensor lost; its stale values are then not
  written). A unit that does not answer (time-out, exception 0x0A/0x0B) makes its devices
  offline; a lost connection makes the gateway devices offline. A change is written at once
  and once; an online device is written again every ``health_every_s`` with battery and signal.
  Nothing is invented for what could not be read: no BAD-quality samples, no guessed health.
- Exceptions and time-outs never end the loop. Answers that cannot be used (a Modbus exception
  other than "unit unreachable", a wrong register count, a NaN, a malformed capture header)
  go to the sink's quarantine as ``Rejected``, once per episode rather than once per poll.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, cast

from ingest.modbus.decode import (
    HEALTH_FIELDS,
    MAX_READ,
    OVERALL_FIELDS,
    WAVEFORM_TYPES,
    CaptureHeader,
    DecodeError,
    Point,
    RegisterMap,
    decode_array,
)
from ingest.modbus.transport import (
    DeviceException,
    MalformedResponse,
    NoResponse,
    TransportError,
    Unreachable,
)
from ingest.types import (
    GOOD,
    DeviceHealth,
    Rejected,
    Sample,
    Sink,
    VibrationOverall,
    Waveform,
)

log = logging.getLogger(__name__)

Device = tuple[str, str]  # ("sensor" | "gateway", code)
_ILLEGAL = object()  # _read's answer when a coalesced read hit unmapped registers


class RegisterReader(Protocol):
    """What the collector needs from a transport (``ModbusTransport`` in production)."""

    endpoint: str

    def read(self, table: str, unit_id: int, address: int, count: int) -> list[int]: ...


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers from ``address`` of one unit and table."""

    unit_id: int
    table: str
    address: int
    count: int
    points: tuple[Point, ...]

    @property
    def where(self) -> str:
        return f"unit {self.unit_id} {self.table} {self.address}+{self.count}"


def plan_blocks(
    points: Iterable[Point], max_gap: int = 0, max_count: int = MAX_READ
) -> list[Block]:
    """Coalesce scalar points into as few reads as possible.

    Points of the same unit and table whose registers touch or overlap (or leave a gap of at
    most ``max_gap`` registers) share a read, up to ``max_count`` registers.

    >>> [b.count for b in plan_blocks(rmap.points)]   # e.g. [8, 46, 46, ...]
    """
    if not 1 <= max_count <= MAX_READ:
        raise ValueError(f"max_count must be 1..{MAX_READ}")
    by_key: dict[tuple[int, str], list[Point]] = {}
    for p in points:
        if p.is_waveform:
            continue
        by_key.setdefault((p.unit_id, p.table), []).append(p)
    blocks: list[Block] = []
    for (unit, table), pts in sorted(by_key.items()):
        pts.sort(key=lambda p: (p.address, p.end))
        current: list[Point] = []
        start = end = 0
        for p in pts:
            if current and p.address <= end + max_gap and max(end, p.end) - start <= max_count:
                current.append(p)
                end = max(end, p.end)
                continue
            if current:
                blocks.append(Block(unit, table, start, end - start, tuple(current)))
            current, start, end = [p], p.address, p.end
        if current:
            blocks.append(Block(unit, table, start, end - start, tuple(current)))
    return blocks


@dataclass
class PollGroup:
    """Everything polled at one interval: coalesced blocks and waveform capture areas."""

    interval_s: float
    blocks: list[Block]
    waveforms: list[Point]
    devices: list[Device]
    next_due: float = 0.0


@dataclass
class CollectorStats:
    polls: int = 0
    samples: int = 0
    vibration: int = 0
    waveforms: int = 0
    health: int = 0
    rejected: int = 0
    torn_captures: int = 0
    errors: int = 0


@dataclass
class _DeviceState:
    online: bool | None = None  # as last written
    written_at: float = -math.inf


@dataclass
class _PollResult:
    """What one group poll learnt, before rows are made."""

    time: datetime
    connection_down: bool = False
    units_ok: set[int] = field(default_factory=set)
    units_silent: set[int] = field(default_factory=set)
    values: list[tuple[Point, float]] = field(default_factory=list)


class ModbusCollector:
    """Polls one gateway (one ``RegisterReader``) by a ``RegisterMap`` into a ``Sink``."""

    def __init__(
        self,
        reader: RegisterReader,
        rmap: RegisterMap,
        sink: Sink,
        *,
        tag_ids: Mapping[str, int],
        device_ids: Mapping[Device, int],
        interval_s: float = 1.0,
        max_gap: int = 8,
        health_every_s: float = 60.0,
        source: str = "modbus",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        missing_tags = [p.tag for p in rmap.points if p.tag and p.tag not in tag_ids]
        if missing_tags:
            raise ValueError(f"no tag id for {', '.join(missing_tags[:5])}")
        missing_devs = [f"{k}:{c}" for k, c in rmap.devices() if (k, c) not in device_ids]
        if missing_devs:
            raise ValueError(f"no device id for {', '.join(missing_devs[:5])}")
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.reader = reader
        self.rmap = rmap
        self.sink = sink
        self.tag_ids = dict(tag_ids)
        self.device_ids = dict(device_ids)
        self.interval_s = interval_s
        self.health_every_s = health_every_s
        self.source = source
        self.stats = CollectorStats()
        self._clock = clock
        self._now = now
        self._devices: dict[Device, _DeviceState] = {d: _DeviceState() for d in rmap.devices()}
        self._rejecting: set[tuple[object, ...]] = set()  # episodes already quarantined
        self._last_seq: dict[int, int] = {}  # waveform point line -> last sequence taken
        self._connection_down = False
        self._silent_units: set[int] = set()
        self._max_gap = max_gap
        #: Devices whose gateway reports their online state in a register.
        self._flagged = {p.device for p in rmap.points if p.device and p.field == "online"}
        self.groups = self._plan(rmap.points, max_gap)

    def _plan(self, points: Sequence[Point], max_gap: int) -> list[PollGroup]:
        by_interval: dict[float, list[Point]] = {}
        for p in points:
            by_interval.setdefault(p.interval_s or self.interval_s, []).append(p)
        groups = []
        for interval, pts in sorted(by_interval.items()):
            devices = list(dict.fromkeys(p.device for p in pts if p.device))
            groups.append(
                PollGroup(
                    interval_s=interval,
                    blocks=plan_blocks(pts, max_gap),
                    waveforms=[p for p in pts if p.is_waveform],
                    devices=devices,
                )
            )
        return groups

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll every group when due until ``stop`` is set. Never raises for I/O problems."""
        now = self._clock()
        for g in self.groups:
            g.next_due = now
        while not stop.is_set():
            now = self._clock()
            for g in self.groups:
                if stop.is_set():
                    break
                if g.next_due <= now:
                    self._safe_poll(g)
                    g.next_due += g.interval_s
                    if g.next_due < self._clock():  # fell behind: skip, do not burst
                        g.next_due = self._clock() + g.interval_s
            wait = min(g.next_due for g in self.groups) - self._clock()
            if wait > 0:
                stop.wait(wait)

    def poll_all(self) -> None:
        """Poll every group once, now (tests, commissioning)."""
        for g in self.groups:
            self._safe_poll(g)

    def _safe_poll(self, group: PollGroup) -> None:
        try:
            self.poll(group)
        except Exception:  # a bug in one poll must not end collection; the log has it
            self.stats.errors += 1
            log.exception("modbus %s: poll failed", self.reader.endpoint)

    def poll(self, group: PollGroup) -> None:
        """Read one group and put its rows into the sink."""
        self.stats.polls += 1
        res = _PollResult(time=self._now())
        for whole in list(group.blocks):
            if res.connection_down or whole.unit_id in res.units_silent:
                continue  # do not hammer what just failed
            for block, regs in self._read_block(group, whole, res):
                self._decode_block(block, regs, res)
        waveforms: list[tuple[Device, Waveform]] = []
        for wp in group.waveforms:
            if res.connection_down or wp.unit_id in res.units_silent:
                continue
            wf = self._read_waveform(wp, res)
            if wf is not None:
                assert wp.device is not None
                waveforms.append((wp.device, wf))
        self._track_connection(res)
        self._emit(group, res, waveforms)

    # -- reading -------------------------------------------------------------------------------

    def _read_block(
        self, group: PollGroup, block: Block, res: _PollResult
    ) -> list[tuple[Block, list[int]]]:
        """Read a coalesced block; if the device refuses the unmapped registers it spans
        (exception 2), read only the mapped runs, now and from then on."""
        parts = plan_blocks(block.points, max_gap=0) if self._max_gap else [block]
        regs = self._read(
            block.table, block.unit_id, block.address, block.count, res, split_ok=len(parts) > 1
        )
        if regs is _ILLEGAL:
            log.info(
                "modbus %s: %s refuses unmapped registers, reading it in %d parts",
                self.reader.endpoint,
                block.where,
                len(parts),
            )
            i = group.blocks.index(block)
            group.blocks[i : i + 1] = parts
            out = []
            for part in parts:
                got = self._read(part.table, part.unit_id, part.address, part.count, res)
                if isinstance(got, list):
                    out.append((part, got))
            return out
        return [(block, regs)] if isinstance(regs, list) else []

    def _decode_block(self, block: Block, regs: list[int], res: _PollResult) -> None:
        for p in block.points:
            words = regs[p.address - block.address : p.end - block.address]
            try:
                value = p.decode(words)
            except DecodeError as exc:
                self._reject(("point", p.line), f"{p.name}: {exc}", words, block, p)
                continue
            if not math.isfinite(value):
                self._reject(("point", p.line), f"{p.name}: value is {value}", words, block, p)
                continue
            self._recovered(("point", p.line))
            res.values.append((p, value))

    def _read(
        self,
        table: str,
        unit_id: int,
        address: int,
        count: int,
        res: _PollResult,
        *,
        split_ok: bool = False,
    ) -> list[int] | object | None:
        where = f"unit {unit_id} {table} {address}+{count}"
        try:
            regs = self.reader.read(table, unit_id, address, count)
        except Unreachable as exc:
            res.connection_down = True
            log.debug("modbus: %s", exc)
            return None
        except NoResponse as exc:
            res.units_silent.add(unit_id)
            log.debug("modbus: %s", exc)
            return None
        except DeviceException as exc:
            if exc.unit_unreachable:
                res.units_silent.add(unit_id)
            elif exc.code == 2 and split_ok:
                res.units_ok.add(unit_id)
                return _ILLEGAL
            else:
                res.units_ok.add(unit_id)  # it answered, just not with data
                self._reject(("read", unit_id, table, address), str(exc), [], None, None, where)
            return None
        except MalformedResponse as exc:
            self._reject(
                ("read", unit_id, table, address), str(exc), [], None, None, where, raw=exc.raw
            )
            return None
        except TransportError as exc:
            log.warning("modbus: %s", exc)
            return None
        res.units_ok.add(unit_id)
        self._recovered(("read", unit_id, table, address))
        return regs

    def _read_waveform(self, wp: Point, res: _PollResult) -> Waveform | None:
        element = WAVEFORM_TYPES[wp.type]
        head = self._read(wp.table, wp.unit_id, wp.address, CaptureHeader.LENGTH, res)
        if not isinstance(head, list):
            return None
        try:
            header = CaptureHeader.decode(head, wp.byte_order, wp.word_order)
            words_per = 1 if element == "int16" else 2
            total = header.n_samples * words_per
            if wp.address + CaptureHeader.LENGTH + total > 65536:
                raise DecodeError(
                    f"capture {header.seq}: {header.n_samples} samples run past register 65535"
                )
        except DecodeError as exc:
            self._reject(("wave", wp.line), f"{wp.name}: {exc}", head, None, wp)
            return None
        if header.seq == 0 or header.seq == self._last_seq.get(wp.line):
            return None  # nothing new
        if wp.axis and header.axis != wp.axis:
            self._reject(
                ("wave", wp.line),
                f"{wp.name}: capture is of axis {header.axis}, the map says {wp.axis}",
                head,
                None,
                wp,
            )
            return None
        start = wp.address + CaptureHeader.LENGTH
        words: list[int] = []
        chunk = MAX_READ - MAX_READ % words_per  # keep float32 samples whole per request
        for off in range(0, total, chunk):
            part = self._read(wp.table, wp.unit_id, start + off, min(chunk, total - off), res)
            if not isinstance(part, list):
                return None
            words += part
        again = self._read(wp.table, wp.unit_id, wp.address, CaptureHeader.LENGTH, res)
        if not isinstance(again, list):
            return None
        if again[:2] != head[:2]:
            # A new capture was published while we read: this one is torn, take the next.
            self.stats.torn_captures += 1
            return None
        self._recovered(("wave", wp.line))
        self._last_seq[wp.line] = header.seq
        samples = decode_array(
            words,
            cast(Literal["int16", "float32"], element),
            scale=header.scale * wp.scale,
            byte_order=wp.byte_order,
            word_order=wp.word_order,
        )
        when = datetime.fromtimestamp(header.epoch_s, UTC) if header.epoch_s else res.time
        assert wp.device is not None and wp.axis is not None
        return Waveform(
            time=when,
            sensor_id=self.device_ids[wp.device],
            axis=wp.axis,
            sample_rate_hz=header.sample_rate_hz,
            speed_rpm=header.speed_rpm or None,
            unit=header.unit,
            samples=samples.tolist(),
        )

    # -- rejections ------------------------------------------------------------------------------

    def _reject(
        self,
        key: tuple[object, ...],
        reason: str,
        words: Sequence[int],
        block: Block | None,
        point: Point | None,
        where: str | None = None,
        raw: str | None = None,
    ) -> None:
        if key in self._rejecting:
            return  # already quarantined in this episode
        self._rejecting.add(key)
        if point is not None:
            where = f"unit {point.unit_id} {point.table} {point.address} (map line {point.line})"
        elif block is not None:
            where = block.where
        if raw is None:
            raw = " ".join(f"0x{w:04X}" for w in words)
        self.stats.rejected += 1
        log.warning("modbus %s: rejected %s: %s", self.reader.endpoint, where, reason)
        self.sink.reject(
            Rejected(
                source=self.source,
                reason=reason,
                raw=raw or "(no data)",
                origin=self.reader.endpoint,
                position=where,
            )
        )

    def _recovered(self, key: tuple[object, ...]) -> None:
        self._rejecting.discard(key)

    # -- rows ----------------------------------------------------------------------------------

    def _track_connection(self, res: _PollResult) -> None:
        """Log state changes once (the per-poll details are at debug level)."""
        if res.connection_down and not self._connection_down:
            log.warning("modbus %s: gateway unreachable", self.reader.endpoint)
        elif self._connection_down and (res.units_ok or res.units_silent):
            log.warning("modbus %s: gateway reachable again", self.reader.endpoint)
        if res.connection_down or res.units_ok or res.units_silent:
            self._connection_down = res.connection_down
        for unit in res.units_silent - self._silent_units:
            log.warning("modbus %s: unit %d does not answer", self.reader.endpoint, unit)
        for unit in res.units_ok & self._silent_units:
            log.warning("modbus %s: unit %d answers again", self.reader.endpoint, unit)
        self._silent_units = (self._silent_units - res.units_ok) | res.units_silent

    def _emit(
        self, group: PollGroup, res: _PollResult, captures: list[tuple[Device, Waveform]]
    ) -> None:
        # Health first: it decides whether a device's values are current.
        fields: dict[Device, dict[str, float]] = {}
        for p, v in res.values:
            if p.device and p.field in HEALTH_FIELDS:
                fields.setdefault(p.device, {})[p.field] = v
        units_of: dict[Device, set[int]] = {}
        for b in group.blocks:
            for p in b.points:
                if p.device:
                    units_of.setdefault(p.device, set()).add(p.unit_id)
        for wp in group.waveforms:
            assert wp.device is not None
            units_of.setdefault(wp.device, set()).add(wp.unit_id)

        stale: set[Device] = set()
        health: list[DeviceHealth] = []
        clock = self._clock()
        for dev in group.devices:
            units = units_of.get(dev, set())
            f = fields.get(dev, {})
            online: bool | None
            if res.connection_down:
                online = False if dev[0] == "gateway" else None  # sensors: unknown, say nothing
            elif units & res.units_silent:
                online = False
            elif "online" in f:
                online = f["online"] != 0
            elif units & res.units_ok and dev not in self._flagged:
                online = True  # it answers, and has no online register to say otherwise
            else:
                online = None  # no evidence in this group (its online flag is read elsewhere)
            state = self._devices[dev]
            if online is False or (online is None and state.online is False):
                stale.add(dev)
            if online is None:
                continue
            changed = state.online is not online
            due = online and clock - state.written_at >= self.health_every_s
            if not (changed or due):
                continue
            state.online, state.written_at = online, clock
            battery = f.get("battery_pct") if online else None
            if battery is not None:
                battery = min(100.0, max(0.0, battery))  # the column is checked 0..100
            health.append(
                DeviceHealth(
                    time=res.time,
                    device_kind=dev[0],
                    device_id=self.device_ids[dev],
                    online=online,
                    battery_pct=battery,
                    signal_dbm=f.get("signal_dbm") if online else None,
                )
            )

        samples: list[Sample] = []
        overall: dict[tuple[Device, str], dict[str, float]] = {}
        for p, v in res.values:
            if p.device in stale:
                continue  # the gateway says the sensor is lost: its registers are stale
            if p.tag:
                samples.append(Sample(res.time, self.tag_ids[p.tag], v, GOOD))
            if p.device and p.field in OVERALL_FIELDS and p.axis:
                overall.setdefault((p.device, p.axis), {})[p.field] = v
        vib = [
            VibrationOverall(
                res.time, self.device_ids[dev], axis, *(vals.get(f) for f in OVERALL_FIELDS)
            )
            for (dev, axis), vals in overall.items()
        ]
        waveforms = [w for dev, w in captures if dev not in stale]

        if samples:
            self.sink.put_samples(samples)
            self.stats.samples += len(samples)
        if vib:
            self.sink.put_vibration(vib)
            self.stats.vibration += len(vib)
        if waveforms:
            self.sink.put_waveforms(waveforms)
            self.stats.waveforms += len(waveforms)
        if health:
            self.sink.put_health(health)
            self.stats.health += len(health)
