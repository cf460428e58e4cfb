"""``hazwatch hazard …``: risk monitoring data (R2-R5).

hazwatch hazard states                      # derive unit states now, print them
hazwatch hazard map > hazard.toml           # the MQTT map of the demo's safety signals
hazwatch hazard simulate --port 18830       # publish loading-bay and SIS signals (demo)
"""

from __future__ import annotations

import signal
import threading
from typing import Protocol

import click

from hazwatch.settings import Settings


class _HasSettings(Protocol):
    settings: Settings


@click.group("hazard")
def hazard() -> None:
    """Supervised process units, warehouses, loading areas and gas detectors (R2-R5)."""


@hazard.command("states")
@click.pass_obj
def states(obj: _HasSettings) -> None:
    """Derive every hazard unit's warning and SIS state now (the scheduler does every 30 s)."""
    from hazwatch.db import connect
    from workflows.hazard_units import load_units, refresh_states

    with connect(obj.settings, autocommit=True) as conn:
        changes = refresh_states(conn)
        for u in load_units(conn):
            click.echo(
                f"{u.enterprise_name}\t{u.code}\t{u.name}\t{u.state.warning}\t{u.state.sis}"
                f"\t{len(u.points)} points"
            )
    click.echo(f"{len(changes)} state changes recorded", err=True)


@hazard.command("map")
def map_() -> None:
    """Print the MQTT collector map of the demo's loading-bay and SIS signals."""
    from ingest.simulator.hazard_signals import mapping_text

    click.echo(mapping_text(), nl=False)


@hazard.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, required=True, help="MQTT broker port.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds.")
def simulate(host: str, port: int, seed: int, interval: float) -> None:
    """Publish the demo plant's static-grounding, overfill and SIS signals until SIGTERM."""
    from ingest.simulator.hazard_signals import publish_forever

    if interval <= 0:
        raise click.BadParameter("must be > 0", param_hint="--interval")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        publish_forever(host, port, stop, seed=seed, interval_s=interval)
    except KeyboardInterrupt:
        stop.set()
