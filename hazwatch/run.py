"""``hazwatch run``: the production supervisor, started by systemd or a container.

Runs one process per configured collector (``[[collectors]]`` in the settings), the scheduler
and the web server, each restarted with back-off if it dies. Collector options are checked with
the collector command's own parser before anything starts, so a typo fails at once with the
collector's name rather than as a child that keeps dying.

    children = collector_children(settings)     # raises ConfigError on a bad option
"""

from __future__ import annotations

import click

from hazwatch.errors import ConfigError
from hazwatch.settings import CollectorSettings, Settings
from hazwatch.supervisor import Child


def to_argv(collector: CollectorSettings) -> list[str]:
    """``{"endpoint": "x", "events": False}`` -> ``["--endpoint", "x", "--no-events"]``.

    >>> to_argv(CollectorSettings(name="a", kind="modbus", options={"port": 502}))
    ['collect', 'modbus', '--port', '502']
    """
    argv = ["collect", collector.kind]
    for key, value in collector.options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    return argv


def check(collector: CollectorSettings, index: int) -> None:
    """Parse the collector's arguments with its real command; raise ConfigError if refused."""
    from ingest.cli import collect

    command = collect.commands.get(collector.kind)
    if command is None:
        raise ConfigError(
            f"collectors[{index}] ({collector.name}): no collector {collector.kind!r}"
        )
    try:
        with command.make_context(collector.kind, to_argv(collector)[2:]):
            pass
    except click.ClickException as exc:
        raise ConfigError(
            f"collectors[{index}] ({collector.name}): {exc.format_message()}"
        ) from None


def collector_children(settings: Settings) -> list[Child]:
    names = [c.name for c in settings.collectors]
    if len(set(names)) != len(names):
        raise ConfigError("collectors: names must be unique")
    for index, collector in enumerate(settings.collectors):
        check(collector, index)
    return [Child(f"collect-{c.name}", to_argv(c)) for c in settings.collectors]
