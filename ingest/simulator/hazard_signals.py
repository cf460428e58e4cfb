"""The demo plant's discrete safety signals over MQTT: the loading area's static-grounding
monitors and overfill alarms (R4) and the process unit's SIS interlock flags (R2).

Pure signal generation (``HazardSignals``: each signal a function of plant time, deterministic
for a seed), apart from publishing (``publish_forever``), like ``ingest.simulator.gas``::

    sig = HazardSignals(seed=1)
    sig.value("LB-LA1-01", "grounding", 150.0)     # 1.0: the clamp is off at 150 s
    pubs = sig.publications(150.0, wall=datetime.now(UTC))
    Path("hazard.toml").write_text(mapping_text())  # the collector's map

Topics (``PREFIX`` = ``hazwatch/demo/hazard``), QoS 1::

    PREFIX/GDS-LA1/LB-LA1-01/loading  {"ts": 1795366019123, "loading": 1, "grounding": 0,
                                        "overfill": 0}
    PREFIX/DCS-TEP/IS-TEP-101/sis      {"ts": ..., "bypass": 0, "trip": 0}

What happens, and why:

- **Loading bays** LB-LA1-01/02 load a tank truck for 10-15 minutes of every 20.
  ``grounding`` is 1 while the static-grounding clamp reports disconnected during loading
  (about a third of the loadings, 20-90 s; the first at 120 s on bay 1 so a demo shows one);
  ``overfill`` is 1 while the overfill probe is wet at the end of a loading (about one loading
  in seven, 15-40 s; the first at 240 s on bay 2).
- **SIS** IS-TEP-101 (reactor high-pressure interlock) is bypassed for maintenance now and
  then (5-15 minutes within an hour, half the hours, never in the first ten minutes);
  IS-TEP-102 (reactor high-temperature interlock) trips rarely for a minute.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

log = logging.getLogger("ingest.simulator.hazard_signals")

PREFIX = "hazwatch/demo/hazard"
LOADING_WINDOW_S = 1200.0
SIS_WINDOW_S = 3600.0
TRIP_WINDOW_S = 7200.0


@dataclass(frozen=True)
class Signal:
    device: str  # loading bay or interlock code
    unit: str  # registry.unit code
    gateway: str
    topic_kind: str  # "loading" or "sis"
    fields: tuple[str, ...]


SIGNALS: tuple[Signal, ...] = (
    Signal("LB-LA1-01", "LA-1", "GDS-LA1", "loading", ("loading", "grounding", "overfill")),
    Signal("LB-LA1-02", "LA-1", "GDS-LA1", "loading", ("loading", "grounding", "overfill")),
    Signal("IS-TEP-101", "TEP", "DCS-TEP", "sis", ("bypass", "trip")),
    Signal("IS-TEP-102", "TEP", "DCS-TEP", "sis", ("bypass", "trip")),
)
#: field -> (tag suffix, description)
FIELDS: dict[str, tuple[str, str]] = {
    "loading": ("LOAD", "装车作业中"),
    "grounding": ("GND", "静电接地断开报警"),
    "overfill": ("OVF", "溢油报警"),
    "bypass": ("BYP", "联锁旁路"),
    "trip": ("TRIP", "联锁动作"),
}


def _rng(seed: int, *key: object) -> random.Random:
    return random.Random(zlib.crc32(repr((seed, *key)).encode()))  # noqa: S311 (a simulation)


def tag_name(device: str, field: str) -> str:
    """``LB-LA1-01.GND``: the tag the map gives a field of a device."""
    return f"{device}.{FIELDS[field][0]}"


class HazardSignals:
    """Every signal as a pure function of plant time; see the module doc."""

    def __init__(self, seed: int = 1, prefix: str = PREFIX) -> None:
        self.seed = seed
        self.prefix = prefix

    def _session(self, bay: str, k: int) -> tuple[float, float]:
        """Start and end of bay ``bay``'s loading in window ``k``."""
        rng = _rng(self.seed, "load", bay, k)
        offset = 30.0 if k == 0 else rng.uniform(0, 300)
        start = k * LOADING_WINDOW_S + offset
        return start, start + rng.uniform(600, 900)

    def _grounding(self, bay: str, k: int) -> tuple[float, float] | None:
        start, end = self._session(bay, k)
        if k == 0 and bay.endswith("01"):
            return 120.0, 180.0
        rng = _rng(self.seed, "ground", bay, k)
        if rng.random() >= 0.33:
            return None
        at = rng.uniform(start + 60, end - 120)
        return at, at + rng.uniform(20, 90)

    def _overfill(self, bay: str, k: int) -> tuple[float, float] | None:
        _, end = self._session(bay, k)
        if k == 0 and bay.endswith("02"):
            return 240.0, 270.0
        rng = _rng(self.seed, "overfill", bay, k)
        if rng.random() >= 0.15:
            return None
        at = end - rng.uniform(15, 40)
        return at, end

    def value(self, device: str, field: str, t_s: float) -> float:
        """0.0 or 1.0 for one field of one device at plant time ``t_s``."""
        if field in ("loading", "grounding", "overfill"):
            k = math.floor(t_s / LOADING_WINDOW_S)
            start, end = self._session(device, k)
            if field == "loading":
                return 1.0 if start <= t_s < end else 0.0
            span = self._grounding(device, k) if field == "grounding" else self._overfill(device, k)
            return 1.0 if span and span[0] <= t_s < span[1] else 0.0
        if field == "bypass":
            k = math.floor(t_s / SIS_WINDOW_S)
            rng = _rng(self.seed, "bypass", device, k)
            if device != "IS-TEP-101" or rng.random() >= 0.5:
                return 0.0
            at = max(k * SIS_WINDOW_S + rng.uniform(0, SIS_WINDOW_S - 900), 600.0)
            return 1.0 if at <= t_s < at + rng.uniform(300, 900) else 0.0
        if field == "trip":
            k = math.floor(t_s / TRIP_WINDOW_S)
            rng = _rng(self.seed, "trip", device, k)
            if device != "IS-TEP-102" or rng.random() >= 0.2:
                return 0.0
            at = max(k * TRIP_WINDOW_S + rng.uniform(0, TRIP_WINDOW_S - 120), 900.0)
            return 1.0 if at <= t_s < at + 60 else 0.0
        raise ValueError(f"unknown field {field!r}")

    def publications(self, t_s: float, wall: datetime) -> list[tuple[str, bytes]]:
        """``(topic, payload)`` of every device at one moment."""
        ms = int(wall.timestamp() * 1000)
        out = []
        for s in SIGNALS:
            body: dict[str, object] = {"ts": ms}
            body.update({f: int(self.value(s.device, f, t_s)) for f in s.fields})
            topic = f"{self.prefix}/{s.gateway}/{s.device}/{s.topic_kind}"
            out.append((topic, json.dumps(body, separators=(",", ":")).encode()))
        return out


def mapping_text(prefix: str = PREFIX) -> str:
    """The MQTT collector's map (TOML) for what ``publish_forever`` publishes."""
    lines = ["# hazwatch collect mqtt --map hazard.toml: loading bays (R4) and SIS flags (R2)",
             "# written by ingest.simulator.hazard_signals.mapping_text()", ""]  # fmt: skip
    for kind, fields in (("loading", ("loading", "grounding", "overfill")),
                         ("sis", ("bypass", "trip"))):  # fmt: skip
        lines += ["[[topic]]", f'template = "{prefix}/{{gateway}}/{{device}}/{kind}"',
                  'time = "ts"', ""]  # fmt: skip
        for f in fields:
            lines += ["  [[topic.value]]", f'  path = "{f}"',
                      f'  tag = "{{device}}.{FIELDS[f][0]}"', ""]  # fmt: skip
    return "\n".join(lines)


def tag_names() -> list[str]:
    return [tag_name(s.device, f) for s in SIGNALS for f in s.fields]


def publish_forever(
    host: str, port: int, stop: threading.Event, seed: int = 1, interval_s: float = 1.0
) -> None:
    """Publish every ``interval_s`` until ``stop`` is set (plant time = wall time since start)."""
    from ingest.mqtt.transport import MqttPublisher

    sig = HazardSignals(seed=seed)
    publisher = MqttPublisher(host, port, client_id=f"hazwatch-hazard-sim-{port}")
    if not publisher.start():
        log.warning("hazard signals: broker %s not reachable yet, retrying", publisher.url)
    start_wall, start = datetime.now(UTC), time.monotonic()
    step = 0
    try:
        while not stop.is_set():
            t_s = step * interval_s
            for topic, payload in sig.publications(t_s, start_wall + timedelta(seconds=t_s)):
                publisher.publish(topic, payload)
            step = max(step + 1, math.floor((time.monotonic() - start) / interval_s))
            stop.wait(max(0.0, start + step * interval_s - time.monotonic()))
    finally:
        publisher.wait_published(2.0)
        publisher.close()
