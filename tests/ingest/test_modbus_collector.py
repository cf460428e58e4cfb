"""The Modbus collector against the simulated gateway: a real pymodbus server on 127.0.0.1.

No mocks: the sink below is a plain in-memory implementation of ``ingest.types.Sink`` and
every read goes over TCP to ``ingest.simulator.modbus_gateway``.
"""

from __future__ import annotations

import math
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.modbus.collector import ModbusCollector, PollGroup
from ingest.modbus.decode import RegisterMap, encode_value
from ingest.modbus.transport import (
    _UNIT_KW,
    DeviceException,
    ModbusTransport,
    NoResponse,
    Unreachable,
)
from ingest.simulator.modbus_gateway import (
    GATEWAY_REGISTERS,
    GATEWAY_UNIT,
    NODE_REGISTERS,
    SimulatedGateway,
    register_map_csv,
    sensor_unit,
)
from ingest.simulator.pumps import demo_plant
from ingest.types import (
    DeviceHealth,
)
from tests.conftest import find_free_port
from tests.ingest.sinks import ListSink

MAP_FILE = Path(__file__).parent / "data" / "modbus" / "gw01.csv"
CAPTURE = 2048


@pytest.fixture
def gateway() -> Iterator[SimulatedGateway]:
    """GW-01 with three pumps; values change only when a test calls update()."""
    gw = SimulatedGateway(
        "GW-01",
        demo_plant()[:3],
        port=find_free_port(),
        update_interval_s=None,
        capture_samples=CAPTURE,
    )
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def rmap() -> RegisterMap:
    return RegisterMap.from_csv(MAP_FILE)


class Rig:
    """A collector wired to a gateway through a real transport and a ListSink."""

    def __init__(self, gw: SimulatedGateway, rmap: RegisterMap, **kwargs: object) -> None:
        self.gw = gw
        self.rmap = rmap
        self.sink = ListSink()
        self.transport = ModbusTransport(
            gw.host, gw.port, timeout_s=0.5, reconnect_min_s=0.05, reconnect_max_s=0.2
        )
        self.tag_ids = {p.tag: 1000 + i for i, p in enumerate(rmap.tags()) if p.tag}
        self.device_ids = {d: 1 + i for i, d in enumerate(rmap.devices())}
        self.collector = ModbusCollector(
            self.transport,
            rmap,
            self.sink,
            tag_ids=self.tag_ids,
            device_ids=self.device_ids,
            **kwargs,
        )  # type: ignore[arg-type]

    def group(self, waveforms: bool) -> PollGroup:
        return next(g for g in self.collector.groups if bool(g.waveforms) == waveforms)

    def tag(self, tag_id: int) -> str:
        return next(t for t, i in self.tag_ids.items() if i == tag_id)

    def device(self, device_id: int) -> tuple[str, str]:
        return next(d for d, i in self.device_ids.items() if i == device_id)

    def health_of(self, code: str) -> list[DeviceHealth]:
        return [h for h in self.sink.health if self.device(h.device_id)[1] == code]


@pytest.fixture
def rig(gateway: SimulatedGateway, rmap: RegisterMap) -> Iterator[Rig]:
    r = Rig(gateway, rmap)
    yield r
    r.transport.close()


def register_name(unit: int, address: int) -> str:
    regs = GATEWAY_REGISTERS if unit == GATEWAY_UNIT else NODE_REGISTERS
    return next(name for name, (addr, _t, _s) in regs.items() if addr == address)


def test_map_file_matches_the_simulated_gateway() -> None:
    """The committed map is what the simulator generates for GW-01 (no drift)."""
    body = "".join(ln for ln in MAP_FILE.read_text().splitlines(True) if not ln.startswith("#"))
    assert body == register_map_csv("GW-01", demo_plant()[:3])


def test_unit_keyword_of_installed_pymodbus() -> None:
    assert _UNIT_KW == "device_id"  # pymodbus 3.16; "slave" before 3.10, "unit" in 2.x


def test_values_equal_what_the_gateway_serves(rig: Rig) -> None:
    rig.collector.poll(rig.group(waveforms=False))
    sink = rig.sink
    assert len(sink.samples) == len(rig.rmap.tags()) == 57
    by_line = {p.tag: p for p in rig.rmap.tags()}
    for s in sink.samples:
        p = by_line[rig.tag(s.tag_id)]
        expected = rig.gw.values(p.unit_id)[register_name(p.unit_id, p.address)]
        # float32 registers decode exactly; scaled integers to the last bit of a double.
        assert s.value == pytest.approx(expected, rel=1e-12, abs=1e-12), p.tag
        assert s.quality == 192
    assert len(sink.vibration) == 6 * 3  # six sensors, three axes
    for v in sink.vibration:
        unit = next(p.unit_id for p in rig.rmap.points if p.device == rig.device(v.sensor_id))
        served = rig.gw.values(unit)
        assert v.velocity_rms_mm_s == served[f"{v.axis}.velocity_rms_mm_s"]
        assert v.kurtosis == served[f"{v.axis}.kurtosis"]
        assert v.crest_factor == served[f"{v.axis}.crest_factor"]
    assert {rig.device(h.device_id)[1] for h in sink.health} == {
        "GW-01",
        "P-101A-DE",
        "P-101A-NDE",
        "P-102A-DE",
        "P-102A-NDE",
        "P-201A-DE",
        "P-201A-NDE",
    }
    assert all(h.online for h in sink.health)
    de = rig.health_of("P-101A-DE")[0]
    assert de.battery_pct == rig.gw.values(11)["battery_pct"]
    assert de.signal_dbm == rig.gw.values(11)["signal_dbm"]
    assert not sink.rejected


def test_reads_are_coalesced_into_blocks(gateway: SimulatedGateway, rmap: RegisterMap) -> None:
    # 52 scalar points on 7 units. Unmapped registers inside a unit's range (a sensor node's
    # counter at 3, the NDE nodes' speed and current at 6..9, the gateway's 3..6) are bridged
    # by default (max_gap 8): one read per unit. With max_gap=0 only touching registers share
    # a read: DE nodes 2 reads, NDE nodes 3, the gateway 2.
    for max_gap, expected, sizes in ((8, 7, [8, 46]), (0, 17, [1, 2, 3, 36, 42])):
        rig = Rig(gateway, rmap, max_gap=max_gap)
        group = rig.group(waveforms=False)
        rig.collector.poll(group)
        assert rig.transport.stats.requests == expected
        assert len(group.blocks) == expected
        assert sorted({b.count for b in group.blocks}) == sizes
        assert len(rig.sink.samples) == 57
        rig.transport.close()


def test_a_device_refusing_unmapped_registers_is_read_in_parts(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    """Sensor nodes have no registers 46..59 (device information starts at 60): a read that
    bridges them gets exception 2, after which only the mapped runs are read."""
    path = tmp_path / "info.csv"
    path.write_text(
        "tag,unit_id,address,type,scale\nT,11,44,float32,1\nFW,11,60,uint16,1\n"
        "SERIAL,11,62,uint32,1\n"
    )
    rig = Rig(gateway, RegisterMap.from_csv(path), max_gap=16)
    group = rig.group(waveforms=False)
    assert [(b.address, b.count) for b in group.blocks] == [(44, 20)]
    rig.collector.poll(group)
    assert [(b.address, b.count) for b in group.blocks] == [(44, 2), (60, 1), (62, 2)]
    assert rig.transport.stats.requests == 1 + 3
    assert {rig.tag(s.tag_id): s.value for s in rig.sink.samples}["FW"] == 0x0103
    assert len(rig.sink.samples) == 3 and not rig.sink.rejected
    rig.collector.poll(group)
    assert rig.transport.stats.requests == 4 + 3 and len(rig.sink.samples) == 6
    rig.transport.close()


def test_waveforms_are_captured_with_length_and_scale(rig: Rig) -> None:
    group = rig.group(waveforms=True)
    assert group.interval_s == 5.0 and len(group.waveforms) == 18
    rig.collector.poll(group)
    waves = rig.sink.waveforms
    assert len(waves) == 18
    # Header, ceil(2048 / 125) = 17 sample blocks, header again, for each of 18 areas.
    assert rig.transport.stats.requests == 18 * (1 + 17 + 1)
    for w in waves:
        code = rig.device(w.sensor_id)[1]
        unit = next(p.unit_id for p in rig.rmap.points if p.device == ("sensor", code))
        cap = rig.gw.capture(unit, w.axis)
        assert cap is not None
        assert len(w.samples) == CAPTURE
        assert w.sample_rate_hz == 25600.0 and w.unit == "m/s2"
        assert w.speed_rpm == cap.speed_rpm
        np.testing.assert_allclose(w.samples, cap.samples, rtol=0, atol=1e-12)
        assert np.abs(np.asarray(w.samples)).max() == pytest.approx(cap.scale * 32000, rel=1e-3)
    # Nothing new: only the 18 headers are read.
    before = rig.transport.stats.requests
    rig.collector.poll(group)
    assert len(rig.sink.waveforms) == 18
    assert rig.transport.stats.requests - before == 18
    rig.gw.update(capture=True)
    rig.collector.poll(group)
    assert len(rig.sink.waveforms) == 36


def test_a_capture_that_changes_while_read_is_taken_next_time(rig: Rig) -> None:
    """Instrument the real transport so the gateway publishes a capture mid-read."""
    read = rig.transport.read
    fired = []

    def read_then_capture(table: str, unit: int, address: int, count: int) -> list[int]:
        regs = read(table, unit, address, count)
        if address == 1016 and unit == 11 and not fired:  # first sample block of 11/X
            fired.append(True)
            rig.gw.update(capture=True)
        return regs

    rig.transport.read = read_then_capture  # type: ignore[method-assign]
    group = rig.group(waveforms=True)
    rig.collector.poll(group)
    assert rig.collector.stats.torn_captures == 1
    assert len(rig.sink.waveforms) == 17  # 11/X was torn; the others read after the update
    rig.collector.poll(group)
    assert len(rig.sink.waveforms) == 18
    x = [w for w in rig.sink.waveforms if rig.device(w.sensor_id)[1] == "P-101A-DE"]
    cap = rig.gw.capture(11, "X")
    assert cap is not None and cap.seq == 2
    np.testing.assert_allclose(next(w for w in x if w.axis == "X").samples, cap.samples)


def wait_for(cond: Callable[[], bool], timeout: float = 8.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_gateway_stopped_mid_run_then_restarted(rig: Rig) -> None:
    """The loop runs in its thread throughout: stop the server, start it again."""
    stop = threading.Event()
    for g in rig.collector.groups:
        g.interval_s = 0.1
    loop = threading.Thread(target=rig.collector.run, args=(stop,))
    loop.start()
    try:
        assert wait_for(lambda: len(rig.health_of("GW-01")) == 1 and len(rig.sink.samples) > 0)
        rig.gw.stop()
        assert wait_for(lambda: len(rig.health_of("GW-01")) == 2)
        down = rig.health_of("GW-01")[1]
        n_samples = len(rig.sink.samples)
        time.sleep(0.6)  # several more rounds against a closed port
        assert loop.is_alive()
        assert len(rig.health_of("GW-01")) == 2  # offline is written once
        assert not down.online and down.battery_pct is None
        assert len(rig.sink.samples) == n_samples  # nothing invented while down
        assert rig.transport.stats.failed_connects >= 2
        rig.gw.start()
        assert wait_for(lambda: len(rig.health_of("GW-01")) == 3)
        assert rig.health_of("GW-01")[2].online
        assert wait_for(lambda: len(rig.sink.samples) > n_samples)
    finally:
        stop.set()
        loop.join(5)
    assert not loop.is_alive()
    assert rig.collector.stats.errors == 0
    # Sensors were never reported offline: whether they were is unknown while the gateway was.
    assert all(h.online for h in rig.sink.health if rig.device(h.device_id)[0] == "sensor")


def test_a_unit_that_stops_answering(rig: Rig) -> None:
    group = rig.group(waveforms=False)
    rig.collector.poll(group)
    unit = sensor_unit(2, "DE")  # P-201A-DE, unit 31
    rig.gw.set_answering(unit, False)
    n = len(rig.sink.samples)
    rig.collector.poll(group)
    rig.collector.poll(group)
    health = rig.health_of("P-201A-DE")
    assert [h.online for h in health] == [True, False]  # offline once, not per poll
    tags = {p.tag for p in rig.rmap.tags() if p.unit_id == unit}
    new = rig.sink.samples[n:]
    assert not any(rig.tag(s.tag_id) in tags for s in new)
    assert len(new) == 2 * (len(rig.rmap.tags()) - len(tags))  # the other units are read as before
    assert not rig.sink.rejected  # exception 0x0B is a health matter, not bad data
    rig.gw.set_answering(unit, True)
    rig.collector.poll(group)
    assert [h.online for h in rig.health_of("P-201A-DE")] == [True, False, True]


def test_a_sensor_the_gateway_reports_lost(rig: Rig) -> None:
    """P-201A's NDE sensor drops off the radio network from plant time 2400 s to 3000 s."""
    group = rig.group(waveforms=False)
    rig.collector.poll(group)
    rig.gw.update(t_s=2500.0, capture=True)
    n = len(rig.sink.samples)
    rig.collector.poll(group)
    rig.collector.poll(rig.group(waveforms=True))
    health = rig.health_of("P-201A-NDE")
    assert [h.online for h in health] == [True, False]
    assert health[1].battery_pct is None  # stale, so not reported
    lost = {p.tag for p in rig.rmap.tags() if p.device == ("sensor", "P-201A-NDE")}
    assert lost and not any(rig.tag(s.tag_id) in lost for s in rig.sink.samples[n:])
    assert not any(rig.device(w.sensor_id)[1] == "P-201A-NDE" for w in rig.sink.waveforms)
    assert any(rig.device(w.sensor_id)[1] == "P-201A-DE" for w in rig.sink.waveforms)


def test_malformed_answers_are_rejected_once(rig: Rig, tmp_path: Path) -> None:
    group = rig.group(waveforms=False)
    rig.gw.inject(11, 4, encode_value(float("nan"), "float32"))  # P-101A-DE temperature
    rig.collector.poll(group)
    rig.collector.poll(group)
    assert len(rig.sink.rejected) == 1
    r = rig.sink.rejected[0]
    assert r.source == "modbus" and r.origin == f"127.0.0.1:{rig.gw.port}"
    assert "P-101A.DE.TEMP: value is nan" in r.reason
    assert r.position == "unit 11 holding 4 (map line 12)"
    assert r.raw == "0x7FC0 0x0000"
    temp_id = rig.tag_ids["P-101A.DE.TEMP"]
    assert not any(s.tag_id == temp_id for s in rig.sink.samples)
    assert len(rig.sink.samples) == 2 * 56  # everything else of the block was taken
    rig.gw.update()  # good values again: the episode ends
    rig.collector.poll(group)
    assert any(s.tag_id == temp_id and math.isfinite(s.value or 0) for s in rig.sink.samples)

    # A garbled capture header (axis code 9) on a new capture.
    header = rig.transport.read_holding(11, 1000, 16)
    header[0:2] = encode_value(99, "uint32")
    header[10] = 9
    rig.gw.inject(11, 1000, header)
    rig.collector.poll(rig.group(waveforms=True))
    assert "capture 99: axis code 9" in rig.sink.rejected[-1].reason
    assert len(rig.sink.waveforms) == 17

    # A map that names registers the device does not have: exception 2, quarantined once.
    path = tmp_path / "bad.csv"
    path.write_text("tag,unit_id,address,type,scale\nNOPE,11,50,float32,1\nOK,11,4,float32,1\n")
    bad = Rig(rig.gw, RegisterMap.from_csv(path))
    bad.collector.poll_all()
    bad.collector.poll_all()
    assert [x.reason for x in bad.sink.rejected] == [
        f"127.0.0.1:{rig.gw.port} unit 11 holding 50+2: exception 2 (illegal data address)"
    ]
    assert len(bad.sink.samples) == 2  # OK, twice
    bad.transport.close()


def test_transport_timeouts_and_refused_connections() -> None:
    # A peer that accepts TCP connections and never answers: a gateway whose radio hangs.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        with ModbusTransport("127.0.0.1", port, timeout_s=0.2, retries=1) as t:
            started = time.monotonic()
            with pytest.raises(NoResponse, match="no response"):
                t.read_holding(1, 0, 2)
            assert 0.35 < time.monotonic() - started < 3
            assert t.stats.requests == 2  # one retry
    closed = find_free_port()
    with ModbusTransport("127.0.0.1", closed, reconnect_min_s=10) as t:
        with pytest.raises(Unreachable, match="cannot connect"):
            t.read_input(1, 0, 1)
        with pytest.raises(Unreachable, match="next attempt in"):
            t.read_input(1, 0, 1)  # backing off: no new connect
        assert t.stats.failed_connects == 1
    with pytest.raises(ValueError, match="count 126"):
        ModbusTransport("127.0.0.1", closed).read_holding(1, 0, 126)


def test_timeouts_never_end_the_loop(tmp_path: Path) -> None:
    """A gateway that accepts connections and never answers: offline once, nothing else."""
    path = tmp_path / "gw.csv"
    path.write_text(
        "tag,unit_id,address,type,scale,device,field\n"
        ",1,0,uint16,1,gateway:G,online\nG.BAT,1,1,uint16,0.1,gateway:G,battery_pct\n"
    )
    rmap = RegisterMap.from_csv(path)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        sink = ListSink()
        transport = ModbusTransport("127.0.0.1", silent.getsockname()[1], timeout_s=0.1, retries=0)
        collector = ModbusCollector(
            transport, rmap, sink, tag_ids={"G.BAT": 1}, device_ids={("gateway", "G"): 7}
        )
        stop = threading.Event()
        loop = threading.Thread(target=collector.run, args=(stop,))
        for g in collector.groups:
            g.interval_s = 0.05
        loop.start()
        time.sleep(0.6)
        stop.set()
        loop.join(5)
        transport.close()
    assert not loop.is_alive()
    assert collector.stats.polls >= 3 and collector.stats.errors == 0
    assert transport.stats.no_response >= 3
    assert sink.health == [DeviceHealth(sink.health[0].time, "gateway", 7, False)]
    assert not sink.samples and not sink.rejected


def test_input_registers_and_unknown_units(rig: Rig) -> None:
    t = rig.transport
    assert t.read_input(11, 0, 8) == t.read_holding(11, 0, 8)
    with pytest.raises(DeviceException) as info:
        t.read_holding(99, 0, 1)
    assert info.value.code == 10 and info.value.unit_unreachable


MBPOLL = shutil.which("mbpoll")


@pytest.mark.parametrize("word_order", ["big", "little"])
def test_mbpoll_reads_the_same_float32(word_order: str) -> None:
    """An independent Modbus client (libmodbus) agrees with the collector, ABCD and CDAB."""
    assert MBPOLL, "Debian's mbpoll is missing: `make install` installs it"
    gw = SimulatedGateway(
        "GW-02",
        demo_plant()[:1],
        port=find_free_port(),
        update_interval_s=None,
        capture_samples=256,
        word_order=word_order,
    )  # type: ignore[arg-type]
    with gw:
        rmap = RegisterMap.from_text(gw.map_csv())
        r = Rig(gw, rmap)
        r.collector.poll(r.group(waveforms=False))
        temp = next(s.value for s in r.sink.samples if r.tag(s.tag_id) == "P-101A.DE.TEMP")
        r.transport.close()
        # -0: PDU addressing (register 4 is the 5th); -B: big-endian word order (ABCD);
        # mbpoll's default for 32-bit values is little-endian word order (CDAB).
        cmd = [
            MBPOLL,
            "-m",
            "tcp",
            "-p",
            str(gw.port),
            "-a",
            "11",
            "-r",
            "4",
            "-0",
            "-c",
            "1",
            "-t",
            "4:float",
            "-1",
            "-o",
            "2",
        ] + (["-B"] if word_order == "big" else [])
        out = subprocess.run(
            [*cmd, "127.0.0.1"], capture_output=True, text=True, timeout=20, check=False
        )
    assert out.returncode == 0, out.stdout + out.stderr
    match = re.search(r"^\[4\]:\s+(\S+)", out.stdout, re.M)
    assert match, out.stdout
    assert temp is not None
    assert float(match.group(1)) == pytest.approx(temp, rel=1e-5)  # mbpoll prints 6 digits
    assert 20 < temp < 100
