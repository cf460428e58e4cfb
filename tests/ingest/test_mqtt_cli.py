"""``hazwatch collect mqtt`` end to end: the demo plant's gas detectors publish to a private
Mosquitto, the console script collects them into the session's TimescaleDB until SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from ingest.mqtt.broker import Mosquitto
from ingest.simulator.gas import demo_detectors, mapping_text, publish_forever, tag_names
from tests.conftest import find_free_port, make_enterprise, sample_counts

DATA = Path(__file__).parent / "data" / "mqtt"
INTERVAL_S = 0.2


def hazwatch() -> list[str]:
    """The console script; until ``ingest/cli.py`` registers ``mqtt`` under ``collect``, the
    same entry point with the command added."""
    from ingest.cli import collect

    if "mqtt" in collect.commands:
        return [str(Path(sys.executable).parent / "hazwatch")]
    return [
        sys.executable,
        "-c",
        "from hazwatch.cli import main\nfrom ingest.cli import collect\n"
        "from ingest.mqtt.cli import mqtt\ncollect.add_command(mqtt)\nmain()",
    ]


def run(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hazwatch(), *args], input=stdin, capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip


def env_for(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    # The writer's spool goes to the test's own directory, not the checkout's var/.
    env.update(HAZWATCH_DATABASE_URL=db_url, HAZWATCH_INGEST__SPOOL_DIR=str(tmp_path / "spool"))
    return env


pytestmark = pytest.mark.usefixtures("no_leaked_threads")


@pytest.fixture
def enterprise(conn: psycopg.Connection) -> str:
    """A fresh enterprise of our own, so tags and devices start unknown."""
    return make_enterprise(conn, "MQTT test works")[1]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(find_free_port(), tmp_path / "broker") as b:
        yield b


def test_collect_the_gas_detectors_until_sigterm(
    db_url: str, conn: psycopg.Connection, enterprise: str, broker: Mosquitto, tmp_path: Path
) -> None:
    map_file = tmp_path / "gas.toml"
    map_file.write_text(mapping_text(interval_s=INTERVAL_S), encoding="utf-8")
    tags = set(tag_names())
    stop = threading.Event()
    plant = threading.Thread(
        target=publish_forever,
        args=("127.0.0.1", broker.port, stop),
        kwargs={"seed": 1, "interval_s": INTERVAL_S},
        name="gas-plant",
    )
    plant.start()
    proc = subprocess.Popen(
        [*hazwatch(), "collect", "mqtt", "--host", "127.0.0.1", "--port", str(broker.port),
         "--map", str(map_file), "--enterprise", enterprise],
        env=env_for(db_url, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            seen = sample_counts(conn, enterprise)
            if set(seen) >= tags and min(seen[t] for t in tags) >= 3:
                break
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        stop.set()
        plant.join(10)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert not plant.is_alive()
    assert re.search(
        rf"collecting 7 topic templates \(7 subscriptions\) from mqtt://127\.0\.0\.1:{broker.port} "
        r"as client hazwatch-[0-9a-f]{10}; stop with Ctrl-C or SIGTERM",
        err,
    ), err

    # Every sample collected was written before exit: the count printed equals the rows.
    seen = sample_counts(conn, enterprise)
    assert set(seen) == tags
    assert min(seen.values()) >= 3, seen
    printed = re.search(
        r"stopped: (\d+) messages, (\d+) samples, (\d+) health rows, (\d+) rejected, "
        r"(\d+) outages",
        err,
    )
    assert printed, err
    assert int(printed.group(2)) == sum(seen.values())
    assert (printed.group(4), printed.group(5)) == ("0", "0")

    # Tags, the broker, gateways and sensors were registered (audited as collector:mqtt).
    ent = registers.resolve(conn, "enterprise", enterprise)
    tag = conn.execute(
        "SELECT source, source_address, eng_unit FROM registry.tag WHERE enterprise_id = %s "
        "AND name = 'GD-LA1-01.LEL'",
        (ent,),
    ).fetchone()
    assert tag == (
        "mqtt",
        f"127.0.0.1:{broker.port} hazwatch/demo/gas/GDS-LA1/GD-LA1-01/lel value",
        "%LEL",
    )
    gateways = dict(
        conn.execute(
            "SELECT code, protocol FROM registry.gateway WHERE enterprise_id = %s", (ent,)
        ).fetchall()
    )
    assert gateways == {
        f"mqtt:127.0.0.1:{broker.port}": "mqtt",
        **{g: "mqtt" for g in ("GDS-TEP", "GDS-TF1", "GDS-LA1", "GDS-WH1", "GDS-UT1")},
    }
    sensors = conn.execute(
        "SELECT s.code, s.kind, g.code FROM registry.sensor s "
        "JOIN registry.gateway g ON g.id = s.gateway_id WHERE s.enterprise_id = %s",
        (ent,),
    ).fetchall()
    kinds = {"lel": "gas_combustible", "env": "temperature"}
    assert sorted(sensors) == sorted(
        (d.code, kinds.get(d.kind, "gas_toxic"), d.gateway) for d in demo_detectors()
    )
    audited = conn.execute(
        "SELECT count(*) FROM audit.log WHERE actor = 'collector:mqtt'"
    ).fetchone()
    assert audited is not None and audited[0] >= len(tags) + len(sensors) + 6

    # Health: the broker connection (online, then offline at the stop), every sensor.
    broker_id = registers.resolve(conn, "gateway", f"mqtt:127.0.0.1:{broker.port}")
    states = [
        online
        for (online,) in conn.execute(
            "SELECT online FROM ts.device_health WHERE device_kind = 'collector' "
            "AND device_id = %s ORDER BY time",
            (broker_id,),
        ).fetchall()
    ]
    assert states == [True, False]
    health = conn.execute(
        "SELECT count(DISTINCT h.device_id), bool_and(h.battery_pct IS NOT NULL) "
        "FROM ts.device_health h JOIN registry.sensor s ON s.id = h.device_id "
        "WHERE h.device_kind = 'sensor' AND s.enterprise_id = %s AND h.online "
        "AND s.code NOT LIKE '%%-LA1-%%'",
        (ent,),
    ).fetchone()
    assert health == (len(sensors) - 6, True)  # wireless ones report their battery


def test_bad_map_is_one_error_line(tmp_path: Path) -> None:
    bad = DATA / "bad-tag.toml"
    res = run("collect", "mqtt", "--host", "127.0.0.1", "--map", str(bad), "--enterprise", "1",
              env={"HAZWATCH_HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")})  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {bad}:10: '{{detector}}.H2S': {{detector}} is not a placeholder of the topic "
        "(it has {gateway}, {sensor})"
    ]
    missing = tmp_path / "none.toml"
    res = run("collect", "mqtt", "--host", "h", "--map", str(missing), "--enterprise", "1",
              env={"HAZWATCH_HOME": str(tmp_path)})  # fmt: skip
    assert (res.returncode, res.stderr.strip()) == (1, f"error: {missing}: no such file")


def test_usage_errors(tmp_path: Path) -> None:
    good = str(DATA / "plant.toml")
    env = {"HAZWATCH_HOME": str(tmp_path)}
    res = run("collect", "mqtt", "--host", "h", "--map", good, "--password-stdin", env=env)
    assert res.returncode == 2 and "--password-stdin needs --username" in res.stderr
    res = run("collect", "mqtt", "--host", "h", "--map", good, "--ca-file", good, env=env)
    assert res.returncode == 2 and "--ca-file, --cert and --key need --tls" in res.stderr
    res = run("collect", "mqtt", "--host", "h", "--map", good, env=env)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "error: no enterprise to file tags under: pass --enterprise (id, code or exact name) "
        "or set enterprise in the [site] section of the settings"
    )


def test_wrong_password_is_a_clear_error(db_url: str, enterprise: str, tmp_path: Path) -> None:
    port = find_free_port()
    with Mosquitto(port, tmp_path / "auth", users={"hazwatch": "right"}):
        res = run(
            "collect", "mqtt", "--host", "127.0.0.1", "--port", str(port),
            "--map", str(DATA / "plant.toml"), "--enterprise", enterprise,
            "--username", "hazwatch", "--password-stdin",
            env=env_for(db_url, tmp_path), stdin="wrong\n",
        )  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: mqtt://127.0.0.1:{port} refused the connection: Not authorized "
        "(check --username and the password)"
    )
