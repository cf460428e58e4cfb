"""``hazwatch import alarms``: being written in this session (issue 4)."""

import click


@click.command("alarms")
def alarms() -> None:
    """Import a DCS alarm log."""
    raise click.UsageError("hazwatch import alarms is not available yet")
