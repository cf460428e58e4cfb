"""``hazwatch collect modbus``: being written in this session (issue 4)."""

import click


@click.command("modbus")
def modbus() -> None:
    """Poll Modbus TCP gateways."""
    raise click.UsageError("hazwatch collect modbus is not available yet")
