"""The production route: [[collectors]] in the settings, checked before anything starts."""

from pathlib import Path

import pytest

from hazwatch.errors import ConfigError
from hazwatch.run import collector_children, to_argv
from hazwatch.settings import CollectorSettings, load_settings
from tests.conftest import run_cli


def test_options_become_the_collector_command_line() -> None:
    c = CollectorSettings(
        name="dcs-1",
        kind="opcua",
        options={"endpoint": "opc.tcp://10.1.2.3:4840", "map": "m.csv", "events": False},
    )
    assert to_argv(c) == [
        "collect", "opcua", "--endpoint", "opc.tcp://10.1.2.3:4840", "--map", "m.csv",
        "--no-events",
    ]  # fmt: skip


def test_bad_collector_options_are_refused_with_the_collectors_name() -> None:
    settings = load_settings(
        collectors=[
            {"name": "gw", "kind": "modbus", "options": {"host": "h", "map": "m.csv"}},
            {"name": "dcs", "kind": "opcua", "options": {"endpont": "opc.tcp://x", "map": "m"}},
        ]
    )
    with pytest.raises(ConfigError, match=r"collectors\[1\] \(dcs\): No such option '--endpont'"):
        collector_children(settings)
    twice = load_settings(collectors=[{"name": "a", "kind": "modbus"}] * 2)
    with pytest.raises(ConfigError, match="names must be unique"):
        collector_children(twice)


def test_config_validate_checks_collectors(tmp_path: Path) -> None:
    cfg = tmp_path / "hazwatch.toml"
    cfg.write_text(
        '[[collectors]]\nname = "gw1"\nkind = "modbus"\n'
        'options = { host = "127.0.0.1", port = 502, map = "gw1.csv" }\n'
        '[[collectors]]\nname = "gw2"\nkind = "modbus"\noptions = { port = 70000 }\n'
    )
    out = run_cli("config", "validate", str(cfg))
    assert out.returncode == 1
    assert "collectors[1] (gw2)" in out.stderr and "70000" in out.stderr
    bad_kind = tmp_path / "kind.toml"
    bad_kind.write_text('[[collectors]]\nname = "x"\nkind = "profibus"\n')
    out = run_cli("config", "validate", str(bad_kind))
    assert out.returncode == 1 and "collectors.0.kind" in out.stderr
