"""The demo plant's gas detection: pure signals (leaks, outages, batteries), its map, and the
publisher against a real broker."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.mqtt.broker import Mosquitto
from ingest.mqtt.decode import decode_message, load_map
from ingest.mqtt.transport import MqttTransport, Received
from ingest.simulator.gas import (
    GASES,
    PREFIX,
    UNITS,
    GasPlant,
    demo_detectors,
    mapping_text,
    publish_forever,
    tag_names,
)
from tests.conftest import find_free_port

WALL = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("no_leaked_threads")


@pytest.fixture(scope="module")
def plant() -> GasPlant:
    return GasPlant(seed=1)


def test_the_plant_covers_r3_r4_r5() -> None:
    dets = demo_detectors()
    assert len({d.code for d in dets}) == len(dets) == 27
    by_unit = {u.code: {d.kind for d in dets if d.unit == u.code} for u in UNITS}
    assert {u.kind for u in UNITS} >= {"loading_area", "warehouse"}
    assert by_unit["LA-1"] == {"lel", "nh3"}  # R4: combustible and toxic at the loading area
    assert by_unit["WH-1"] == {"lel", "nh3", "env"}  # R3: gas, temperature, humidity
    assert {d.kind for d in dets} == {*GASES, "env"}  # R5: every gas the plant handles
    assert not any(d.wireless for d in dets if d.unit == "LA-1")  # wired to the cabinet


def test_deterministic_for_a_seed(plant: GasPlant) -> None:
    again = GasPlant(seed=1)
    other = GasPlant(seed=2)
    times = [0.0, 61.5, 120.0, 3600.0]
    assert [again.publications(t, WALL) for t in times] == [
        plant.publications(t, WALL) for t in times
    ]
    assert [other.publications(t, WALL) for t in times] != [
        plant.publications(t, WALL) for t in times
    ]


def test_a_leak_rises_spreads_to_neighbours_and_decays(plant: GasPlant) -> None:
    leak = plant.leaks(0, 120)[0]
    assert (leak.start_s, leak.source, leak.gas) == (60.0, "GD-LA1-01", "lel")
    src = plant.detector("GD-LA1-01")
    near, far = plant.detector("GD-LA1-02"), plant.detector("GD-LA1-04")  # 6 m and 18 m
    peak_t = leak.start_s + leak.hold_s
    assert plant.concentration(src, 59.0) == 0.0
    rising = [plant.concentration(src, leak.start_s + s) for s in (5, 15, 30)]
    assert rising == sorted(rising) and rising[0] > 0
    at_peak = plant.concentration(src, peak_t)
    assert at_peak >= GASES["lel"].alarm[0]  # the first alarm level is reached
    assert at_peak > plant.concentration(near, peak_t + 6) > plant.concentration(far, peak_t + 18)
    assert plant.concentration(far, peak_t + 18) < 0.1 * at_peak
    # The neighbour sees it later: it travels with the wind.
    assert plant.concentration(near, leak.start_s + 5) == 0.0
    # Other gases and other units do not see it; it is gone after it decayed.
    assert plant.concentration(plant.detector("TD-LA1-01"), peak_t) == 0.0
    assert plant.concentration(plant.detector("GD-TF1-01"), peak_t) == 0.0
    assert plant.concentration(src, leak.start_s + leak.over_by() + 1) < 0.1
    # Readings carry noise at zero but never go below it.
    assert all(plant.value(src, t) >= 0 for t in range(0, 60))
    assert max(plant.value(src, t) for t in range(0, 60)) < 2.0


def test_leaks_keep_coming(plant: GasPlant) -> None:
    day = plant.leaks(0, 86400)
    assert 80 <= len(day) <= 180  # about one every ten minutes
    assert {leak.gas for leak in day} == set(GASES)
    assert len({plant.detector(leak.source).unit for leak in day}) == len(UNITS)


def test_a_dead_battery_and_a_new_one(plant: GasPlant) -> None:
    det = plant.detector("TD-WH1-01")

    def body(t: float) -> dict[str, object]:
        pub = next(p for p in plant.publications(t, WALL) if "/TD-WH1-01/" in p.topic)
        return json.loads(pub.payload)

    assert body(0)["battery"] == 3.0 and body(0)["online"] is True
    assert plant.battery(det, 200) == 0.0
    assert body(200) == {"ts": int(WALL.timestamp() * 1000), "online": False, "battery": 0.0}
    assert body(800)["online"] is True and float(body(800)["battery"]) > 99  # type: ignore[arg-type]
    assert plant.battery(plant.detector("GD-LA1-01"), 0) is None  # wired


def test_radio_outages_and_gateway_power_failures(plant: GasPlant) -> None:
    det = plant.detector("GD-TEP-01")
    lost = [t for t in range(0, 86400, 5) if plant.radio_lost(det, t)]
    assert lost and len(lost) < 86400 / 5 / 50  # now and then, for a minute or two
    t = lost[0]
    pub = next(p for p in plant.publications(t, WALL) if "/GD-TEP-01/" in p.topic)
    assert json.loads(pub.payload)["online"] is False and b"value" not in pub.payload
    down = [t for t in range(0, 86400, 5) if plant.gateway_down("GDS-WH1", t)]
    assert down and min(down) >= 600
    t = down[0]
    topics = [p.topic for p in plant.publications(t, WALL, status=True)]
    assert not any("/GDS-WH1/" in topic for topic in topics)
    assert f"{PREFIX}/GDS-TEP/status" in topics
    assert not any(plant.gateway_down(g, t) for g in plant.gateways if g != "GDS-WH1")


def test_the_map_decodes_every_message_without_a_reject(plant: GasPlant) -> None:
    mmap = load_map(mapping_text(), "gas.toml")
    assert mmap.subscriptions() == [
        f"{PREFIX}/+/+/{k}" for k in ("lel", "h2s", "co", "nh3", "cl2", "env")
    ] + [f"{PREFIX}/+/status"]
    tags: set[str] = set()
    health = 0
    for t in range(0, 1200, 7):
        wall = WALL + timedelta(seconds=t)
        for pub in plant.publications(float(t), wall, status=True):
            d = decode_message(mmap, pub.topic, pub.payload, wall, retained=pub.retain)
            assert d.rejected is None, (pub, d.rejected)
            assert all(abs((r.time - wall).total_seconds()) < 0.001 for r in d.readings)
            tags |= {r.tag for r in d.readings}
            health += d.health is not None
    assert tags == set(tag_names())
    assert "TH-WH1-01.TEMP" in tags and "GD-LA1-01.LEL" in tags
    assert health > 0


def test_publish_forever_leaves_retained_offline_status(tmp_path: Path) -> None:
    port = find_free_port()
    with Mosquitto(port, tmp_path / "broker"):
        stop = threading.Event()
        thread = threading.Thread(
            target=publish_forever, args=("127.0.0.1", port, stop), kwargs={"interval_s": 0.1}
        )
        thread.start()
        seen: list[Received] = []
        live = MqttTransport("127.0.0.1", port, client_id="gas-watch")
        assert live.start([f"{PREFIX}/+/+/lel"], on_message=seen.append)
        time.sleep(0.6)
        stop.set()
        thread.join(10)
        live.close()
        assert not thread.is_alive()
        assert len({m.topic for m in seen}) == sum(1 for d in demo_detectors() if d.kind == "lel")
        # A collector that starts later learns at once that the gateways are gone.
        status: list[Received] = []
        late = MqttTransport("127.0.0.1", port, client_id="late")
        late.start([f"{PREFIX}/+/status"], on_message=status.append)
        end = time.monotonic() + 5
        while len(status) < len(UNITS) and time.monotonic() < end:
            time.sleep(0.02)
        late.ack(status)
        late.close()
    assert sorted(m.topic for m in status) == sorted(f"{PREFIX}/{u.gateway}/status" for u in UNITS)
    assert all(m.retain and json.loads(m.payload)["online"] is False for m in status)
