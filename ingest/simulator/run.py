"""``hazwatch simulate``: the demo plant's servers in one process.

The OPC UA server (Tennessee Eastman model with A&C alarms), the Modbus gateways of the
in-scope pumps and the gas detectors publishing over MQTT (with their broker) run until
SIGTERM. Map files for the collectors are written by ``write_collector_maps`` beforehand, so
collectors never wait on the simulator to learn them.

    write_collector_maps(settings, map_dir)      # -> DemoMaps(opcua=..., modbus=[...])
    run_simulator(settings, stop)                 # blocks until stop.set()
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from hazwatch.settings import Settings
from ingest.mqtt.broker import Mosquitto
from ingest.simulator import gas
from ingest.simulator.modbus_gateway import SimulatedGateway, demo_gateways
from ingest.simulator.opcua_server import serve_forever, write_map_csv

log = logging.getLogger("ingest.simulator")


@dataclass(frozen=True)
class DemoMaps:
    opcua: Path
    #: (gateway port, map file) per simulated gateway.
    modbus: list[tuple[int, Path]]
    mqtt: Path


def _gateways(settings: Settings) -> list[SimulatedGateway]:
    return demo_gateways(base_port=settings.demo.modbus_port, time_scale=settings.demo.speedup)


def write_collector_maps(settings: Settings, map_dir: Path) -> DemoMaps:
    """The map files the demo's collectors read (deterministic: written from code)."""
    map_dir.mkdir(parents=True, exist_ok=True)
    opcua = map_dir / "opcua.csv"
    write_map_csv(opcua)
    modbus = []
    for gw in _gateways(settings):
        path = map_dir / f"modbus-{gw.code}.csv"
        path.write_text(gw.map_csv(), encoding="utf-8")
        modbus.append((gw.port, path))
    mqtt = map_dir / "mqtt.toml"
    mqtt.write_text(gas.mapping_text(), encoding="utf-8")
    return DemoMaps(opcua, modbus, mqtt)


def run_simulator(settings: Settings, stop: threading.Event) -> None:
    """Serve the plant until ``stop`` is set; a server that fails to start stops the rest."""
    demo = settings.demo
    gateways = _gateways(settings)
    started: list[SimulatedGateway] = []
    plant = threading.Thread(
        target=serve_forever,
        args=(demo.opcua_port, stop, demo.seed, demo.speedup),
        name="opcua-plant",
        daemon=True,
    )
    # The gas detectors' gateways publish to a broker of the demo's own (persistent sessions,
    # so the collector gets what was published while it restarted).
    broker = Mosquitto(
        demo.mqtt_port,
        settings.path(settings.ingest.spool_dir).parent / "demo" / "mosquitto",
        persistence=True,
    )
    publisher = threading.Thread(
        target=gas.publish_forever,
        args=("127.0.0.1", demo.mqtt_port, stop, demo.seed),
        name="gas-publisher",
        daemon=True,
    )
    try:
        broker.start()
        log.info("MQTT broker on 127.0.0.1:%d", demo.mqtt_port)
        publisher.start()
        for gw in gateways:
            gw.start()
            started.append(gw)
            log.info("modbus gateway %s on 127.0.0.1:%d", gw.code, gw.port)
        plant.start()
        log.info("OPC UA plant on opc.tcp://127.0.0.1:%d/", demo.opcua_port)
        stop.wait()
    finally:
        stop.set()
        for gw in started:
            gw.stop()
        for thread in (plant, publisher):
            if thread.is_alive():
                thread.join(timeout=15)
        broker.stop()
