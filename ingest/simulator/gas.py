"""The demo plant's gas detection over MQTT: combustible and toxic gas detectors (R5), the
loading area (R4) and the major-hazard warehouse with temperature and humidity (R3).

Pure signal generation (``GasPlant``: values, leaks, outages and batteries as functions of
plant time, deterministic for a seed) is kept apart from publishing (``publish_forever``, a
paho client through ``ingest.mqtt.transport``)::

    plant = GasPlant(seed=1)
    plant.concentration(plant.detector("GD-LA1-02"), t_s=95.0)       # %LEL at 95 s
    pubs = plant.publications(95.0, wall=datetime.now(UTC))          # [Publication(topic, ...)]
    Path("gas.toml").write_text(mapping_text())                      # the collector's map
    publish_forever("127.0.0.1", 18830, stop, seed=1, interval_s=1.0)

Topics (``PREFIX`` = ``hazwatch/demo/gas``), QoS 1::

    PREFIX/{gateway}/{detector}/lel   {"ts": 1795366019123, "value": 3.2, "q": "good",
                                       "online": true, "battery": 87.5, "rssi": -71}
    PREFIX/{gateway}/{detector}/h2s   (also co, nh3, cl2; value in ppm)
    PREFIX/{gateway}/{detector}/env   {"time": "2026-11-22T16:40:20.123+08:00",
                                       "temperature": 24.1, "humidity": 61.2, ...}
    PREFIX/{gateway}/status           {"ts": ..., "online": true, "signal": -55}   retained

What happens in the plant, and why it is there:

- **Leaks** (about one every ten minutes, the first at 60 s in the loading area so a demo
  shows one at once): a plume at one detector rises, holds while the leak lasts and decays;
  detectors of the same gas in the same unit see it attenuated by distance (Gaussian,
  σ = 8 m) and delayed (1 m/s of wind). Peaks reach the first alarm level and sometimes the
  second (GB/T 50493: combustible 20 / 50 %LEL; toxic about 1 and 2 times the exposure limit).
- **Radio outages**: a wireless detector's gateway reports it offline (``"online": false``,
  no value) for a minute or two now and then.
- **Batteries** of wireless detectors drain; TD-WH1-01 starts almost empty, goes dead after
  about three minutes (reported offline) and gets a new battery ten minutes later.
- **Gateway power failures**: GDS-WH1 goes dark now and then, publishing nothing at all;
  the collector's ``silent_after_s`` turns that silence into offline rows (P7).
- **Sensor faults**: rarely a detector sends ``"value": null, "q": "bad"``.
- The loading area's detectors are wired to a gas detection cabinet: no battery, no signal.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property

log = logging.getLogger("ingest.simulator.gas")

PREFIX = "hazwatch/demo/gas"
CHINA = timezone(timedelta(hours=8), "CST")

#: Seconds per scheduling window: leaks, radio outages and gateway failures are drawn per
#: window from a generator seeded by (seed, window), so any plant time is computed directly.
LEAK_WINDOW_S = 600.0
RADIO_WINDOW_S = 900.0
GATEWAY_WINDOW_S = 1800.0
STATUS_EVERY_S = 10.0
PLUME_SIGMA_M = 8.0
WIND_M_S = 1.0


@dataclass(frozen=True)
class Gas:
    """What one kind of detector measures."""

    key: str  # topic level: lel, h2s, co, nh3, cl2
    tag_suffix: str
    eng_unit: str
    sensor_kind: str  # registry.sensor.kind
    full_scale: float
    alarm: tuple[float, float]  # first and second alarm level
    noise: float  # standard deviation of the reading at zero
    name: str


GASES: dict[str, Gas] = {
    g.key: g
    for g in (
        Gas("lel", "LEL", "%LEL", "gas_combustible", 100.0, (20.0, 50.0), 0.3, "可燃气体"),
        Gas("h2s", "H2S", "ppm", "gas_toxic", 100.0, (10.0, 20.0), 0.15, "硫化氢"),
        Gas("co", "CO", "ppm", "gas_toxic", 500.0, (24.0, 48.0), 0.5, "一氧化碳"),
        Gas("nh3", "NH3", "ppm", "gas_toxic", 100.0, (28.0, 56.0), 0.3, "氨"),
        Gas("cl2", "CL2", "ppm", "gas_toxic", 10.0, (0.5, 1.0), 0.01, "氯气"),
    )
}


@dataclass(frozen=True)
class Unit:
    """A unit of the demo enterprise (registry.unit: code, name, kind)."""

    code: str
    name: str
    kind: str
    gateway: str


UNITS: tuple[Unit, ...] = (
    Unit("TEP", "田纳西-伊斯曼工艺装置", "unit", "GDS-TEP"),
    Unit("TF-1", "液化烃罐区", "tank_farm", "GDS-TF1"),
    Unit("LA-1", "液化烃及液氨装卸区", "loading_area", "GDS-LA1"),
    Unit("WH-1", "甲类仓库（硝酸铵、氯酸钠）", "warehouse", "GDS-WH1"),
    Unit("UT-1", "液氯加药间", "utility", "GDS-UT1"),
)


@dataclass(frozen=True)
class Detector:
    code: str
    unit: str
    gateway: str
    kind: str  # a GASES key, or "env" (temperature and humidity)
    x: float  # metres within the unit
    y: float
    wireless: bool = True

    @property
    def gas(self) -> Gas | None:
        return GASES.get(self.kind)


def demo_detectors() -> list[Detector]:
    """The 27 detectors of the demo plant."""
    out: list[Detector] = []

    def add(unit: str, kind: str, prefix: str, spots: Sequence[tuple[float, float]], **kw: bool):
        gw = next(u.gateway for u in UNITS if u.code == unit)
        short = unit.replace("-", "")
        first = 1 + sum(1 for d in out if d.unit == unit and d.code.startswith(prefix))
        for n, (x, y) in enumerate(spots, start=first):
            out.append(Detector(f"{prefix}-{short}-{n:02d}", unit, gw, kind, x, y, **kw))

    # Process unit: reactor, separator, stripper, compressor, feed and product areas.
    add("TEP", "lel", "GD", [(0, 0), (12, 0), (24, 0), (12, 10), (0, 20), (24, 20)])
    add("TEP", "co", "TD", [(3, 2), (13, 9)])
    # LPG spheres (sour LPG: H2S).
    add("TF-1", "lel", "GD", [(0, 0), (15, 0), (0, 15), (15, 15)])
    add("TF-1", "h2s", "TD", [(7, 0), (7, 15)])
    # Loading area: LPG loading arms and liquid ammonia; wired to the detection cabinet.
    add("LA-1", "lel", "GD", [(0, 0), (6, 0), (12, 0), (18, 0)], wireless=False)
    add("LA-1", "nh3", "TD", [(24, 0), (30, 0)], wireless=False)
    # Major-hazard warehouse: solvents, ammonium nitrate (NH3 on decomposition); T and RH.
    add("WH-1", "lel", "GD", [(0, 0), (20, 0)])
    add("WH-1", "nh3", "TD", [(10, 5)])
    add("WH-1", "env", "TH", [(5, 5), (15, 5)])
    # Chlorine dosing room.
    add("UT-1", "cl2", "TD", [(0, 0), (4, 0)])
    return out


@dataclass(frozen=True)
class Leak:
    start_s: float
    source: str  # detector code
    gas: str
    peak: float
    rise_s: float
    hold_s: float
    decay_s: float

    def level(self, t_s: float) -> float:
        """Concentration at the source at plant time ``t_s`` (0 before the leak)."""
        dt = t_s - self.start_s
        if dt <= 0:
            return 0.0
        if dt <= self.hold_s:
            return self.peak * (1 - math.exp(-dt / self.rise_s))
        at_end = self.peak * (1 - math.exp(-self.hold_s / self.rise_s))
        return at_end * math.exp(-(dt - self.hold_s) / self.decay_s)

    def over_by(self) -> float:
        """Plant seconds after its start when the plume is gone (below 0.1 % of its peak)."""
        return self.hold_s + self.decay_s * math.log(1000)


@dataclass(frozen=True)
class Publication:
    topic: str
    payload: bytes
    retain: bool = False


def _rng(seed: int, *key: object) -> random.Random:
    """A generator for one (seed, key): same numbers in every process (str hashes are not)."""
    return random.Random(zlib.crc32(repr((seed, *key)).encode()))  # noqa: S311 (a simulation)


class GasPlant:
    """Every detector's reading as a pure function of plant time; see the module doc."""

    def __init__(
        self, detectors: Sequence[Detector] | None = None, seed: int = 1, prefix: str = PREFIX
    ) -> None:
        self.detectors = list(detectors if detectors is not None else demo_detectors())
        self.seed = seed
        self.prefix = prefix
        self._by_code = {d.code: d for d in self.detectors}

    def detector(self, code: str) -> Detector:
        return self._by_code[code]

    @cached_property
    def gateways(self) -> list[str]:
        return list(dict.fromkeys(d.gateway for d in self.detectors))

    # -- leaks -------------------------------------------------------------------------------

    def _window_leaks(self, k: int) -> list[Leak]:
        gas_detectors = [d for d in self.detectors if d.gas is not None]
        if not gas_detectors:
            return []
        rng = _rng(self.seed, "leak", k)
        leaks = []
        if k == 0:
            # The demo shows a leak at once: the loading area, a minute in.
            first = next((d for d in gas_detectors if d.unit == "LA-1"), gas_detectors[0])
            leaks.append(self._leak(rng, first, 60.0))
        if rng.random() < 0.7:
            src = rng.choice(gas_detectors)
            leaks.append(self._leak(rng, src, k * LEAK_WINDOW_S + rng.uniform(0, 400)))
        return leaks

    def _leak(self, rng: random.Random, src: Detector, start: float) -> Leak:
        gas = src.gas
        assert gas is not None
        if gas.key == "lel":
            peak = rng.uniform(15.0, 65.0)
        else:
            peak = min(gas.full_scale, gas.alarm[0] * rng.uniform(0.8, 3.0))
        return Leak(
            start_s=start,
            source=src.code,
            gas=gas.key,
            peak=peak,
            rise_s=rng.uniform(10, 40),
            hold_s=rng.uniform(30, 180),
            decay_s=rng.uniform(20, 60),
        )

    def leaks(self, t0_s: float, t1_s: float) -> list[Leak]:
        """Leaks whose plume is present at some time in [t0, t1]."""
        longest = 180 + 60 * math.log(1000)  # hold + decay of the longest possible leak
        first = max(0, math.floor((t0_s - longest) / LEAK_WINDOW_S))
        last = max(0, math.floor(t1_s / LEAK_WINDOW_S))
        out = []
        for k in range(first, last + 1):
            for leak in self._window_leaks(k):
                if leak.start_s <= t1_s and leak.start_s + leak.over_by() >= t0_s:
                    out.append(leak)
        return out

    def concentration(self, det: Detector, t_s: float) -> float:
        """What the detector sees of every leak of its gas in its unit (no noise)."""
        total = 0.0
        for leak in self.leaks(t_s - PLUME_SIGMA_M * 6 / WIND_M_S, t_s):
            src = self._by_code[leak.source]
            if leak.gas != det.kind or src.unit != det.unit:
                continue
            d = math.hypot(det.x - src.x, det.y - src.y)
            share = math.exp(-(d**2) / (2 * PLUME_SIGMA_M**2))
            if share < 1e-3:
                continue
            total += share * leak.level(t_s - d / WIND_M_S)
        gas = det.gas
        return min(total, gas.full_scale) if gas else total

    # -- devices -----------------------------------------------------------------------------

    def battery(self, det: Detector, t_s: float) -> float | None:
        """Battery % of a wireless detector (None: wired); 0 means dead."""
        if not det.wireless:
            return None
        rng = _rng(self.seed, "battery", det.code)
        level, drain = rng.uniform(35, 100), rng.uniform(0.5, 2.0) / 86400
        replace_after = 600.0
        if det.code == "TD-WH1-01":
            # The demo's neglected detector: 3 % left, empty at 3 min, a new battery at 13 min.
            if t_s < 180.0:
                return 3.0 * (1 - t_s / 180.0)
            if t_s < 180.0 + replace_after:
                return 0.0
            level, t_s = 100.0, t_s - 180.0 - replace_after
        dead_at = level / drain
        if t_s < dead_at:
            return level - drain * t_s
        cycle = 100.0 / drain + replace_after
        since = (t_s - dead_at) % cycle
        if since < replace_after:
            return 0.0
        return 100.0 - drain * (since - replace_after)

    def radio_lost(self, det: Detector, t_s: float) -> bool:
        """True while the gateway has lost radio contact with a wireless detector."""
        if not det.wireless:
            return False
        k = math.floor(t_s / RADIO_WINDOW_S)
        for w in (k - 1, k):
            if w < 0:
                continue
            rng = _rng(self.seed, "radio", det.code, w)
            if rng.random() < 0.06:
                start = w * RADIO_WINDOW_S + rng.uniform(0, RADIO_WINDOW_S)
                if start <= t_s < start + rng.uniform(30, 120):
                    return True
        return False

    def gateway_down(self, gateway: str, t_s: float) -> bool:
        """True while a gateway is without power (it publishes nothing). Only GDS-WH1, and
        never in the first ten minutes of a demo."""
        if gateway != "GDS-WH1":
            return False
        k = math.floor(t_s / GATEWAY_WINDOW_S)
        rng = _rng(self.seed, "gateway", gateway, k)
        if rng.random() >= 0.5:
            return False
        start = max(k * GATEWAY_WINDOW_S + rng.uniform(0, GATEWAY_WINDOW_S - 300), 600.0)
        return start <= t_s < start + rng.uniform(60, 240)

    def faulty(self, det: Detector, t_s: float) -> bool:
        """A rare sensor fault: the reading is null with bad quality (about 0.1 % of them)."""
        return _rng(self.seed, "fault", det.code, int(t_s)).random() < 0.001

    def noise(self, det: Detector, t_s: float) -> float:
        return _rng(self.seed, "noise", det.code, round(t_s * 10)).gauss(0, 1)

    def value(self, det: Detector, t_s: float) -> float:
        """The gas reading (never below zero, at most full scale), rounded as a transmitter
        would send it."""
        gas = det.gas
        assert gas is not None
        v = self.concentration(det, t_s) + gas.noise * self.noise(det, t_s)
        v = min(max(v, 0.0), gas.full_scale)
        return round(v, 2 if gas.full_scale <= 10 else 1)

    def environment(self, det: Detector, t_s: float) -> tuple[float, float]:
        """Warehouse temperature (°C) and relative humidity (%): a daily swing and noise."""
        phase = 2 * math.pi * t_s / 86400 + _rng(self.seed, "env", det.code).uniform(0, 1)
        n = self.noise(det, t_s)
        temp = 24.0 + 5.0 * math.sin(phase) + 0.1 * n
        rh = 60.0 - 12.0 * math.sin(phase) + 0.5 * n
        return round(temp, 1), round(min(max(rh, 5.0), 99.0), 1)

    def rssi(self, det: Detector, t_s: float) -> int:
        base = -60 - (zlib.crc32(det.code.encode()) % 25)
        return base + round(2 * self.noise(det, t_s + 0.05))

    # -- messages ----------------------------------------------------------------------------

    def publications(
        self, t_s: float, wall: datetime, *, status: bool = False
    ) -> list[Publication]:
        """Every message of one moment: a reading per detector, and the gateways' status
        when ``status`` (every ``STATUS_EVERY_S``)."""
        ms = int(wall.timestamp() * 1000)
        out = []
        for det in self.detectors:
            if self.gateway_down(det.gateway, t_s):
                continue
            topic = f"{self.prefix}/{det.gateway}/{det.code}/{det.kind}"
            battery = self.battery(det, t_s)
            body: dict[str, object]
            if det.kind == "env":
                body = {"time": wall.astimezone(CHINA).isoformat(timespec="milliseconds")}
            else:
                body = {"ts": ms}
            if self.radio_lost(det, t_s) or battery == 0.0:
                body["online"] = False
                if battery == 0.0:
                    body["battery"] = 0.0  # the gateway's last word from it: empty
                out.append(Publication(topic, _json(body)))
                continue
            if det.kind == "env":
                body["temperature"], body["humidity"] = self.environment(det, t_s)
            elif self.faulty(det, t_s):
                body.update(value=None, q="bad")
            else:
                body.update(value=self.value(det, t_s), q="good")
            body["online"] = True
            if battery is not None:
                body["battery"] = round(battery, 1)
                body["rssi"] = self.rssi(det, t_s)
            out.append(Publication(topic, _json(body)))
        if status:
            for gw in self.gateways:
                if not self.gateway_down(gw, t_s):
                    out.append(self.status(gw, t_s, wall, online=True))
        return out

    def status(self, gateway: str, t_s: float, wall: datetime, *, online: bool) -> Publication:
        """A gateway's retained status message (``online`` False: it is shutting down)."""
        body: dict[str, object] = {"ts": int(wall.timestamp() * 1000), "online": online}
        if online:
            body["signal"] = -50 - zlib.crc32(gateway.encode()) % 20 + (int(t_s) % 3)
        return Publication(f"{self.prefix}/{gateway}/status", _json(body), retain=True)


def _json(body: dict[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def mapping_text(prefix: str = PREFIX, interval_s: float = 1.0) -> str:
    """The collector's map (TOML) for what ``publish_forever`` publishes.

    >>> load_map(mapping_text(), "gas.toml").subscriptions()[0]
    'hazwatch/demo/gas/+/+/lel'
    """
    silent = max(15.0, 5 * interval_s)
    lines = [
        "# hazwatch collect mqtt --map gas.toml: the demo plant's gas detection (R3, R4, R5)",
        "# written by ingest.simulator.gas.mapping_text()",
        "",
    ]
    for gas in GASES.values():
        lines += [
            "[[topic]]",
            f'template = "{prefix}/{{gateway}}/{{detector}}/{gas.key}"',
            'time = "ts"',
            'quality = "q"',
            "",
            "  [[topic.value]]",
            '  path = "value"',
            f'  tag = "{{detector}}.{gas.tag_suffix}"',
            f'  eng_unit = "{gas.eng_unit}"',
            "",
            "  [topic.health]",
            '  device = "sensor"',
            '  code = "{detector}"',
            f'  sensor_kind = "{gas.sensor_kind}"',
            '  gateway = "{gateway}"',
            '  online = "online"',
            '  battery = "battery"',
            '  signal = "rssi"',
            f"  silent_after_s = {silent:g}",
            "",
        ]
    lines += [
        "# Warehouse climate (R3): ISO 8601 time with the +08:00 offset.",
        "[[topic]]",
        f'template = "{prefix}/{{gateway}}/{{detector}}/env"',
        'time = "time"',
        "",
        "  [[topic.value]]",
        '  path = "temperature"',
        '  tag = "{detector}.TEMP"',
        '  eng_unit = "degC"',
        "",
        "  [[topic.value]]",
        '  path = "humidity"',
        '  tag = "{detector}.RH"',
        '  eng_unit = "%RH"',
        "",
        "  [topic.health]",
        '  device = "sensor"',
        '  code = "{detector}"',
        '  sensor_kind = "temperature"',
        '  gateway = "{gateway}"',
        '  online = "online"',
        '  battery = "battery"',
        '  signal = "rssi"',
        f"  silent_after_s = {silent:g}",
        "",
        "# Gateways: retained status every 10 s, nothing at all when without power.",
        "[[topic]]",
        f'template = "{prefix}/{{gateway}}/status"',
        'time = "ts"',
        "",
        "  [topic.health]",
        '  device = "gateway"',
        '  code = "{gateway}"',
        '  online = "online"',
        '  signal = "signal"',
        f"  silent_after_s = {max(30.0, 3 * STATUS_EVERY_S):g}",
    ]
    return "\n".join(lines) + "\n"


def tag_names(detectors: Iterable[Detector] | None = None) -> list[str]:
    """Every tag the demo's map gives, e.g. ``GD-TEP-01.LEL``, ``TH-WH1-01.RH``."""
    out = []
    for d in detectors if detectors is not None else demo_detectors():
        if d.kind == "env":
            out += [f"{d.code}.TEMP", f"{d.code}.RH"]
        else:
            out.append(f"{d.code}.{GASES[d.kind].tag_suffix}")
    return out


def publish_forever(
    host: str, port: int, stop: threading.Event, seed: int = 1, interval_s: float = 1.0
) -> None:
    """Publish the plant every ``interval_s`` until ``stop`` is set (plant time = wall time
    since the start). On stop the gateways' status says offline (retained)."""
    from ingest.mqtt.transport import MqttPublisher

    plant = GasPlant(seed=seed)
    publisher = MqttPublisher(host, port, client_id=f"hazwatch-gas-sim-{port}")
    if not publisher.start():
        log.warning("gas simulator: broker %s not reachable yet, retrying", publisher.url)
    start_wall = datetime.now(UTC)
    start = time.monotonic()
    status_every = max(1, round(STATUS_EVERY_S / interval_s))
    step = 0
    try:
        while not stop.is_set():
            t_s = step * interval_s
            wall = start_wall + timedelta(seconds=t_s)
            for p in plant.publications(t_s, wall, status=step % status_every == 0):
                publisher.publish(p.topic, p.payload, retain=p.retain)
            step += 1
            # Keep to the clock: a late round is skipped rather than published in a burst.
            behind = math.floor((time.monotonic() - start) / interval_s)
            step = max(step, behind)
            stop.wait(max(0.0, start + step * interval_s - time.monotonic()))
    finally:
        wall = datetime.now(UTC)
        t_s = (time.monotonic() - start) * 1.0
        for gw in plant.gateways:
            p = plant.status(gw, t_s, wall, online=False)
            publisher.publish(p.topic, p.payload, retain=True)
        publisher.wait_published(2.0)
        publisher.close()
