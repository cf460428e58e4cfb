"""``hazwatch collect …`` and ``hazwatch import …``: one command module per protocol or format."""

from __future__ import annotations

import click

from ingest.files.cli import alarms
from ingest.modbus.cli import modbus
from ingest.mqtt.cli import mqtt
from ingest.opcua.cli import opcua


@click.group("collect")
def collect() -> None:
    """Run a collector in the foreground until SIGTERM or Ctrl-C (commissioning, ad hoc)."""


@click.group("import")
def import_() -> None:
    """Import files exported by other systems (DCS alarm logs, …)."""


collect.add_command(modbus)
collect.add_command(opcua)
collect.add_command(mqtt)
import_.add_command(alarms)
