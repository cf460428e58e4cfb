"""A wireless-sensor gateway of the demo plant, served as a real Modbus TCP server (pymodbus).

One gateway serves several pumps. Unit 1 is the gateway itself; each pump's DE and NDE
sensor nodes are units ``10·k + 1`` and ``10·k + 2`` for the k-th pump (11, 12, 21, 22, ...).
Every unit answers Read Holding Registers (3) and Read Input Registers (4) from the same
registers; the layout is in docs/modbus-register-map.md and in the constants below. Values come
from ``ingest.simulator.pumps`` and are refreshed every ``update_interval_s``; a new waveform
capture is published every ``capture_interval_s``.

    with SimulatedGateway("GW-01", demo_plant()[:3], port=5020) as gw:
        gw.values(11)["temperature_c"]          # what unit 11 serves right now
        Path("map.csv").write_text(gw.map_csv())   # the collector's register map for it
        gw.set_answering(11, False)             # unit 11 now gets exception 0x0B
    # or: python -m ingest.simulator.modbus_gateway --port 5020

The server runs its own asyncio loop in a thread and binds 127.0.0.1 by default. Register
updates are applied inside that loop without yielding, so a request never sees half of an
update; a waveform read in many requests can still straddle a new capture, which its header's
sequence number tells the collector.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import functools
import io
import logging
import math
import threading
import time
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ingest.modbus.decode import (
    OVERALL_FIELDS,
    ByteOrder,
    CaptureHeader,
    WordOrder,
    encode_array,
    encode_capture_header,
    encode_value,
)
from ingest.simulator.pumps import AXES, SENSORS, PumpModel, SensorReading, demo_plant

log = logging.getLogger(__name__)

GATEWAY_UNIT = 1
#: Registers of the gateway unit: name -> (address, type, scale).
GATEWAY_REGISTERS: dict[str, tuple[int, str, float]] = {
    "online": (0, "uint16", 1.0),
    "battery_pct": (1, "uint16", 0.1),
    "signal_dbm": (2, "int16", 1.0),
    "counter": (3, "uint16", 1.0),
    "uptime_s": (4, "uint32", 1.0),
    "sensors": (6, "uint16", 1.0),
    "sensors_online": (7, "uint16", 1.0),
}
GATEWAY_SIZE = 8
#: Registers of a sensor node: name -> (address, type, scale); per-axis overall values follow.
NODE_REGISTERS: dict[str, tuple[int, str, float]] = {
    "online": (0, "uint16", 1.0),
    "battery_pct": (1, "uint16", 0.1),
    "signal_dbm": (2, "int16", 1.0),
    "counter": (3, "uint16", 1.0),
    "temperature_c": (4, "float32", 1.0),
    "speed_rpm": (6, "float32", 1.0),
    "current_a": (8, "float32", 1.0),
}
for _i, _axis in enumerate(AXES):
    for _j, _field in enumerate(OVERALL_FIELDS):
        NODE_REGISTERS[f"{_axis}.{_field}"] = (10 + 12 * _i + 2 * _j, "float32", 1.0)
NODE_SIZE = 46
#: Device information of a node, after a hole of unmapped registers (46..59), as real nodes
#: have: reading across the hole is refused with exception 2 (illegal data address).
NODE_INFO: dict[str, tuple[int, str, float]] = {
    "firmware": (60, "uint16", 1.0),  # 0x0103 = 1.3
    "model": (61, "uint16", 1.0),
    "serial": (62, "uint32", 1.0),
}
NODE_INFO_BASE, NODE_INFO_SIZE = 60, 4
#: Waveform capture areas: header (CaptureHeader, 16 registers) then int16 samples.
CAPTURE_BASE = {"X": 1000, "Y": 21000, "Z": 41000}
CAPTURE_MAX_SAMPLES = 20000 - CaptureHeader.LENGTH
ENG_UNITS = {
    "temperature_c": "degC",
    "speed_rpm": "rpm",
    "current_a": "A",
    "battery_pct": "%",
    "signal_dbm": "dBm",
    "velocity_rms_mm_s": "mm/s",
    "accel_rms_m_s2": "m/s2",
    "accel_peak_m_s2": "m/s2",
    "displacement_pp_um": "um",
}


def sensor_unit(pump_index: int, sensor: str) -> int:
    """Unit id of a pump's sensor node: ``sensor_unit(0, "DE") == 11``."""
    return 10 * (pump_index + 1) + 1 + SENSORS.index(sensor)


def sensor_code(pump: PumpModel, sensor: str) -> str:
    """Device code in registry.sensor: ``P-101A-DE``."""
    return f"{pump.spec.code}-{sensor}"


@dataclass(frozen=True)
class Capture:
    """A published waveform capture, as the gateway holds it."""

    seq: int
    counts: np.ndarray  # int16
    scale: float  # float32 value, m/s² per count
    sample_rate_hz: float
    speed_rpm: float
    epoch_s: int

    @property
    def samples(self) -> np.ndarray:
        return self.counts.astype(np.float64) * self.scale


@dataclass
class _Batch:
    """One update: register writes (unit, address, words) and the values they carry."""

    writes: list[tuple[int, int, list[int]]]
    values: dict[int, dict[str, float]]
    captures: dict[tuple[int, str], Capture]
    t_s: float


def _f32(x: float) -> float:
    """The value a float32 register pair carries."""
    return float(np.float32(x))


class SimulatedGateway:
    """A Modbus TCP gateway for some pumps; start() / stop() or use as a context manager."""

    def __init__(
        self,
        code: str,
        pumps: Sequence[PumpModel],
        *,
        port: int,
        host: str = "127.0.0.1",
        sample_rate_hz: float = 25600.0,
        capture_samples: int = 8192,
        update_interval_s: float | None = 1.0,
        capture_interval_s: float | None = 10.0,
        time_scale: float = 1.0,
        start_s: float = 0.0,
        byte_order: ByteOrder = "big",
        word_order: WordOrder = "big",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= capture_samples <= CAPTURE_MAX_SAMPLES:
            raise ValueError(f"capture_samples must be 1..{CAPTURE_MAX_SAMPLES}")
        if len(pumps) > 24:
            raise ValueError("at most 24 pumps per gateway (unit ids 11..242)")
        self.code = code
        self.pumps = list(pumps)
        self.host = host
        self.port = port
        self.sample_rate_hz = sample_rate_hz
        self.capture_samples = capture_samples
        self.update_interval_s = update_interval_s
        self.capture_interval_s = capture_interval_s
        self.time_scale = time_scale
        self.start_s = start_s
        self.byte_order: ByteOrder = byte_order
        self.word_order: WordOrder = word_order
        self._clock = clock
        self._t0 = clock()
        self.nodes: dict[int, tuple[PumpModel, str]] = {
            sensor_unit(i, s): (p, s) for i, p in enumerate(self.pumps) for s in SENSORS
        }
        self._answering: dict[int, bool] = {u: True for u in [GATEWAY_UNIT, *self.nodes]}
        self._internal_write = False
        self._lock = threading.Lock()
        self._values: dict[int, dict[str, float]] = {}
        self._captures: dict[tuple[int, str], Capture] = {}
        self._seq = 0
        self._counter = 0
        self._last_capture_t: float | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> SimulatedGateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def plant_time(self) -> float:
        """Plant seconds now: ``start_s`` plus elapsed time times ``time_scale``."""
        return self.start_s + (self._clock() - self._t0) * self.time_scale

    def start(self, timeout_s: float = 10.0) -> None:
        """Compute the first values, start serving; returns once the port listens."""
        if self.running:
            return
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._thread_main, name=f"modbus-gateway-{self.code}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"gateway {self.code} did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join(timeout_s)
            self._thread = None
            raise RuntimeError(
                f"gateway {self.code} cannot listen on {self.host}:{self.port}: {self._error}"
            ) from self._error

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the listening socket and every client connection; idempotent."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        self._thread = None

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); nothing else can see it
            self._error = self._error or exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._server = ModbusTcpServer(self._devices(), address=(self.host, self.port))
        try:
            await self._server.serve_forever(background=True)
            await self._write(self._compute(self.plant_time(), capture=True))
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await self._server.shutdown()
            return
        self._ready.set()
        updater = asyncio.create_task(self._updates()) if self.update_interval_s else None
        try:
            await self._stop.wait()
        finally:
            if updater is not None:
                updater.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await updater
            await self._server.shutdown()

    async def _updates(self) -> None:
        assert self.update_interval_s is not None and self._loop is not None
        while True:
            await asyncio.sleep(self.update_interval_s)
            t = self.plant_time()
            capture = self.capture_interval_s is not None and (
                self._last_capture_t is None
                or t - self._last_capture_t >= self.capture_interval_s * self.time_scale
            )
            try:
                # numpy work off the loop, register writes on it (atomic for requests).
                batch = await self._loop.run_in_executor(None, self._compute, t, capture)
                await self._write(batch)
            except Exception:  # a bad update must not stop the gateway
                log.exception("gateway %s: update failed", self.code)

    # -- the datastore ------------------------------------------------------------------------

    def _devices(self) -> list[SimDevice]:
        devices = [
            SimDevice(
                id=GATEWAY_UNIT,
                simdata=[SimData(0, count=GATEWAY_SIZE, values=0, datatype=DataType.REGISTERS)],
                action=functools.partial(self._action, GATEWAY_UNIT),
            )
        ]
        for unit in self.nodes:
            serial = zlib.crc32(f"{self.code}/{unit}".encode()) & 0xFFFFFFFF
            info = [
                0x0103,
                0x2A01,
                *encode_value(serial, "uint32", self.byte_order, self.word_order),
            ]
            simdata = [
                SimData(0, count=NODE_SIZE, values=0, datatype=DataType.REGISTERS),
                SimData(NODE_INFO_BASE, values=info, datatype=DataType.REGISTERS),
            ]
            for base in CAPTURE_BASE.values():
                simdata.append(
                    SimData(
                        base,
                        count=CaptureHeader.LENGTH + self.capture_samples,
                        values=0,
                        datatype=DataType.REGISTERS,
                    )
                )
            devices.append(
                SimDevice(id=unit, simdata=simdata, action=functools.partial(self._action, unit))
            )
        # Any other unit id: a real gateway answers "gateway path unavailable".
        devices.append(
            SimDevice(
                id=0,
                simdata=[SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
                action=self._no_path,
            )
        )
        return devices

    async def _action(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is not None and not self._internal_write:
            return ExcCodes.ILLEGAL_ADDRESS  # measurements are read-only to clients
        if set_values is None and not self._answering.get(unit, True):
            return ExcCodes.GATEWAY_NO_RESPONSE
        return None

    async def _no_path(self, *_args: object) -> ExcCodes | None:
        return ExcCodes.GATEWAY_PATH_UNAVIABLE

    def _encode(self, value: float, type_: str, scale: float) -> list[int]:
        return encode_value(value / scale, type_, self.byte_order, self.word_order)

    def _compute(self, t_s: float, capture: bool = False) -> _Batch:
        """Registers to write and the values they carry, for plant time ``t_s``."""
        writes: list[tuple[int, int, list[int]]] = []
        values: dict[int, dict[str, float]] = {}
        captures: dict[tuple[int, str], Capture] = {}
        self._counter = (self._counter + 1) & 0xFFFF
        seq = self._seq + 1 if capture else self._seq
        epoch = int(time.time())
        online = 0
        for unit, (pump, sensor) in self.nodes.items():
            r = pump.reading(t_s, sensor, n=self.capture_samples, fs=self.sample_rate_hz)
            if not r.online:
                # The gateway flags the node offline and keeps its last values (stale).
                writes.append((unit, 0, self._encode(0, "uint16", 1.0)))
                values[unit] = {"online": 0.0}
                continue
            online += 1
            regs, vals = self._node_registers(r)
            writes.append((unit, 0, regs))
            values[unit] = vals
            if capture:
                for i, axis in enumerate(AXES):
                    cap, area = self._capture_registers(r, i, axis, seq, epoch)
                    captures[(unit, axis)] = cap
                    writes.append((unit, CAPTURE_BASE[axis], area))
        battery = 96.0 + 3.0 * math.sin(t_s / 7200.0)  # solar-backed gateway battery
        signal = -70.0 + round(2 * math.sin(t_s / 600.0))
        gw = {
            "online": 1.0,
            "battery_pct": battery,
            "signal_dbm": signal,
            "counter": float(self._counter),
            "uptime_s": float(int(t_s - self.start_s)),
            "sensors": float(len(self.nodes)),
            "sensors_online": float(online),
        }
        regs = []
        for name, (_addr, type_, scale) in GATEWAY_REGISTERS.items():
            regs += self._encode(gw[name], type_, scale)
        writes.append((GATEWAY_UNIT, 0, regs))
        values[GATEWAY_UNIT] = {**gw, "battery_pct": round(battery * 10) / 10}
        return _Batch(writes, values, captures, t_s)

    def _node_registers(self, r: SensorReading) -> tuple[list[int], dict[str, float]]:
        raw: dict[str, float] = {
            "online": 1.0,
            "battery_pct": r.battery_pct,
            "signal_dbm": r.signal_dbm,
            "counter": float(self._counter),
            "temperature_c": r.temperature_c,
            "speed_rpm": r.speed_rpm,
            "current_a": r.current_a if r.sensor == "DE" else 0.0,  # clamp wired to DE node
        }
        for axis in AXES:
            for name in OVERALL_FIELDS:
                raw[f"{axis}.{name}"] = getattr(r.overall[axis], name)
        regs = [0] * NODE_SIZE
        shown: dict[str, float] = {}
        for name, (addr, type_, scale) in NODE_REGISTERS.items():
            words = self._encode(raw[name], type_, scale)
            regs[addr : addr + len(words)] = words
            # What a client decodes, computed independently of the decoder under test.
            shown[name] = (
                _f32(raw[name]) if type_ == "float32" else round(raw[name] / scale) * scale
            )
        return regs, shown

    def _capture_registers(
        self, r: SensorReading, i: int, axis: str, seq: int, epoch: int
    ) -> tuple[Capture, list[int]]:
        x = r.acceleration[i]
        scale = _f32(max(float(np.abs(x).max()), 1e-6) / 32000.0)
        counts = np.clip(np.round(x / scale), -32768, 32767).astype(np.int16)
        header = encode_capture_header(
            seq=seq,
            sample_rate_hz=r.sample_rate_hz,
            scale=scale,
            n_samples=counts.size,
            speed_rpm=r.speed_rpm,
            axis=axis,
            unit="m/s2",
            epoch_s=epoch,
            byte_order=self.byte_order,
            word_order=self.word_order,
        )
        samples = encode_array(counts, "int16", byte_order=self.byte_order)
        cap = Capture(seq, counts, scale, r.sample_rate_hz, _f32(r.speed_rpm), epoch)
        return cap, header + samples

    async def _write(self, batch: _Batch) -> None:
        writes, values, captures, t_s = batch.writes, batch.values, batch.captures, batch.t_s
        assert self._server is not None
        # No await below yields to the loop (our action never suspends), so requests see the
        # registers either before or after the whole update.
        self._internal_write = True
        try:
            for unit, address, regs in writes:
                await self._server.async_setValues(unit, 16, address, regs)
        finally:
            self._internal_write = False
        with self._lock:
            for unit, vals in values.items():
                self._values.setdefault(unit, {}).update(vals)
            self._captures.update(captures)
            if captures:
                self._seq = max(c.seq for c in captures.values())
                self._last_capture_t = t_s

    def _call(
        self, coro_factory: Callable[[], Coroutine[Any, Any, None]], timeout_s: float = 30.0
    ) -> None:
        if self._loop is None or not self.running:
            raise RuntimeError(f"gateway {self.code} is not running")
        fut = asyncio.run_coroutine_threadsafe(coro_factory(), self._loop)
        fut.result(timeout_s)

    # -- control and inspection (thread-safe) ---------------------------------------------------

    def update(self, t_s: float | None = None, *, capture: bool = False) -> None:
        """Recompute and publish every register now (at plant time ``t_s``)."""
        batch = self._compute(self.plant_time() if t_s is None else t_s, capture)
        self._call(lambda: self._write(batch))

    def inject(self, unit_id: int, address: int, registers: Sequence[int]) -> None:
        """Overwrite registers as a faulty node would (a NaN, a garbled capture header); the
        next update writes good values again. For tests and for showing the quarantine."""
        batch = _Batch([(unit_id, address, list(registers))], {}, {}, self.plant_time())
        self._call(lambda: self._write(batch))

    def set_answering(self, unit_id: int, answering: bool) -> None:
        """Make one unit stop (or resume) answering: the gateway replies exception 0x0B."""
        if unit_id not in self._answering:
            raise KeyError(f"gateway {self.code} has no unit {unit_id}")
        self._answering[unit_id] = answering

    def values(self, unit_id: int) -> dict[str, float]:
        """Engineering values unit ``unit_id`` serves now, as a client should decode them."""
        with self._lock:
            return dict(self._values.get(unit_id, {}))

    def capture(self, unit_id: int, axis: str) -> Capture | None:
        with self._lock:
            return self._captures.get((unit_id, axis))

    def map_csv(self, *, interval_s: float | None = None, capture_interval_s: float = 5.0) -> str:
        """The collector's register map for this gateway (see docs/modbus-register-map.md)."""
        return register_map_csv(
            self.code,
            self.pumps,
            byte_order=self.byte_order,
            word_order=self.word_order,
            interval_s=interval_s,
            capture_interval_s=capture_interval_s,
        )


MAP_COLUMNS = (
    "tag",
    "unit_id",
    "address",
    "type",
    "scale",
    "offset",
    "byte_order",
    "word_order",
    "eng_unit",
    "table",
    "device",
    "field",
    "axis",
    "interval_s",
)


def register_map_csv(
    gateway_code: str,
    pumps: Sequence[PumpModel],
    *,
    byte_order: ByteOrder = "big",
    word_order: WordOrder = "big",
    interval_s: float | None = None,
    capture_interval_s: float = 5.0,
) -> str:
    """A register map for a gateway of this module: tags for trends, device fields for
    ts.device_health, vib.overall and vib.waveform.

    Tag names: ``P-101A.DE.TEMP``, ``P-101A.DE.X.VEL_RMS``, ``P-101A.SPEED``, ``GW-01.BATTERY``.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(MAP_COLUMNS)
    iv = "" if interval_s is None else f"{interval_s:g}"

    def row(
        tag: str,
        unit: int,
        name: str,
        regs: dict[str, tuple[int, str, float]],
        device: str,
        field: str = "",
        axis: str = "",
    ) -> None:
        addr, type_, scale = regs[name]
        unit_name = ENG_UNITS.get(name.split(".")[-1], "")
        w.writerow(
            [
                tag,
                unit,
                addr,
                type_,
                f"{scale:g}",
                "",
                byte_order,
                word_order,
                unit_name,
                "holding",
                device,
                field,
                axis,
                iv,
            ]
        )

    gw = f"gateway:{gateway_code}"
    row("", GATEWAY_UNIT, "online", GATEWAY_REGISTERS, gw, "online")
    row(
        f"{gateway_code}.BATTERY", GATEWAY_UNIT, "battery_pct", GATEWAY_REGISTERS, gw, "battery_pct"
    )
    row(f"{gateway_code}.SIGNAL", GATEWAY_UNIT, "signal_dbm", GATEWAY_REGISTERS, gw, "signal_dbm")
    row(f"{gateway_code}.SENSORS_ONLINE", GATEWAY_UNIT, "sensors_online", GATEWAY_REGISTERS, gw)
    for i, pump in enumerate(pumps):
        for sensor in SENSORS:
            unit = sensor_unit(i, sensor)
            dev = f"sensor:{sensor_code(pump, sensor)}"
            base = f"{pump.spec.code}.{sensor}"
            row("", unit, "online", NODE_REGISTERS, dev, "online")
            row(f"{base}.BATTERY", unit, "battery_pct", NODE_REGISTERS, dev, "battery_pct")
            row("", unit, "signal_dbm", NODE_REGISTERS, dev, "signal_dbm")
            row(f"{base}.TEMP", unit, "temperature_c", NODE_REGISTERS, dev)
            if sensor == "DE":
                row(f"{pump.spec.code}.SPEED", unit, "speed_rpm", NODE_REGISTERS, dev)
                row(f"{pump.spec.code}.CURRENT", unit, "current_a", NODE_REGISTERS, dev)
            for axis in AXES:
                for name in OVERALL_FIELDS:
                    tag = {
                        "velocity_rms_mm_s": f"{base}.{axis}.VEL_RMS",
                        "accel_rms_m_s2": f"{base}.{axis}.ACC_RMS",
                    }.get(name, "")
                    row(tag, unit, f"{axis}.{name}", NODE_REGISTERS, dev, name, axis)
            for axis in AXES:
                w.writerow(
                    [
                        "",
                        unit,
                        CAPTURE_BASE[axis],
                        "wave_int16",
                        "1",
                        "",
                        byte_order,
                        word_order,
                        "m/s2",
                        "holding",
                        dev,
                        "waveform",
                        axis,
                        f"{capture_interval_s:g}",
                    ]
                )
    return out.getvalue()


def demo_gateways(
    base_port: int = 5020, host: str = "127.0.0.1", **kwargs: Any
) -> list[SimulatedGateway]:
    """The demo plant's two gateways (three pumps each) on ``base_port`` and the next port.
    The second gateway stores 32-bit values word-swapped (CDAB), as many gateways do."""
    pumps = demo_plant()
    return [
        SimulatedGateway("GW-01", pumps[:3], port=base_port, host=host, **kwargs),
        SimulatedGateway(
            "GW-02", pumps[3:], port=base_port + 1, host=host, word_order="little", **kwargs
        ),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the demo gateways until Ctrl-C; print their register maps with --print-map."""
    ap = argparse.ArgumentParser(prog="python -m ingest.simulator.modbus_gateway")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5020, help="first gateway's port (default 5020)")
    ap.add_argument("--time-scale", type=float, default=1.0, help="plant seconds per second")
    ap.add_argument("--print-map", action="store_true", help="print the maps and exit")
    args = ap.parse_args(argv)
    gateways = demo_gateways(args.port, args.host, time_scale=args.time_scale)
    if args.print_map:
        for gw in gateways:
            print(f"# {gw.code} on {gw.host}:{gw.port}\n{gw.map_csv()}")
        return
    for gw in gateways:
        gw.start()
        print(f"{gw.code} serving {len(gw.pumps)} pumps on {gw.host}:{gw.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for gw in gateways:
            gw.stop()


if __name__ == "__main__":
    main()
