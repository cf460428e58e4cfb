"""``hazwatch simulate``: the demo plant's servers in one process.

The OPC UA server (Tennessee Eastman model with A&C alarms) and the Modbus gateways of the
in-scope pumps run until SIGTERM. Map files for the collectors are written by
``write_collector_maps`` beforehand, so collectors never wait on the simulator to learn them.

    write_collector_maps(settings, map_dir)      # -> DemoMaps(opcua=..., modbus=[...])
    run_simulator(settings, stop)                 # blocks until stop.set()
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from hazwatch.settings import Settings
from ingest.simulator.modbus_gateway import SimulatedGateway, demo_gateways
from ingest.simulator.opcua_server import serve_forever, write_map_csv

log = logging.getLogger("ingest.simulator")


@dataclass(frozen=True)
class DemoMaps:
    opcua: Path
    #: (gateway port, map file) per simulated gateway.
    modbus: list[tuple[int, Path]]


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
    return DemoMaps(opcua, modbus)


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
    try:
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
        if plant.is_alive():
            plant.join(timeout=15)
