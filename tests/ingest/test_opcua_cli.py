"""``hazwatch collect opcua``: what it refuses before connecting to anything.

The end-to-end run against the simulator is in test_opcua_live.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

DATA = Path(__file__).parent / "data" / "opcua"


def _env(home: Path) -> dict[str, str]:
    # An empty home: no settings file, no enterprise configured, a database that is not asked.
    return {"HAZWATCH_HOME": str(home), "HAZWATCH_DATABASE_URL": "postgresql://x@127.0.0.1:9/x"}


def test_bad_map_names_file_and_line(tmp_path: Path) -> None:
    bad = DATA / "bad-node.csv"
    r = run_cli("collect", "opcua", "--endpoint", "opc.tcp://127.0.0.1:4840", "--map", str(bad),
                "--enterprise", "1", env=_env(tmp_path))  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {bad}:4: 'ns=2;TEP-XMEAS09' is not an OPC UA node id"


def test_missing_map_and_empty_map(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    r = run_cli("collect", "opcua", "--endpoint", "opc.tcp://h:4840", "--map", str(missing),
                "--enterprise", "1", env=_env(tmp_path))  # fmt: skip
    assert (r.returncode, r.stderr.strip()) == (1, f"error: {missing}: no such file")
    empty = tmp_path / "empty.csv"
    empty.write_text("node_id,tag\n")
    r = run_cli("collect", "opcua", "--endpoint", "opc.tcp://h:4840", "--map", str(empty),
                "--enterprise", "1", env=_env(tmp_path))  # fmt: skip
    assert (r.returncode, r.stderr.strip()) == (1, f"error: {empty}:1: no rows after the header")


def test_enterprise_is_required(tmp_path: Path) -> None:
    r = run_cli("collect", "opcua", "--endpoint", "opc.tcp://h:4840", "--map",
                str(DATA / "tep-two.csv"), env=_env(tmp_path))  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: no enterprise to file tags under: pass --enterprise (id, code or exact name) "
        "or set enterprise in the [site] section of the settings"
    )


def test_usage_errors(tmp_path: Path) -> None:
    good = str(DATA / "tep-two.csv")
    r = run_cli("collect", "opcua", "--endpoint", "http://h:4840", "--map", good,
                env=_env(tmp_path))  # fmt: skip
    assert r.returncode == 2 and "opc.tcp://HOST[:PORT][/PATH]" in r.stderr
    r = run_cli("collect", "opcua", "--endpoint", "opc.tcp://h:4840", "--map", good,
                "--security", "Sign", env=_env(tmp_path))  # fmt: skip
    assert r.returncode == 2 and "--security Sign needs --cert and --key" in r.stderr
