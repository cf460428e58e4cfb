"""``hazwatch collect modbus`` end to end: the console script against the simulated gateway
and the session's TimescaleDB, through the real writer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from ingest.modbus.decode import RegisterMap
from ingest.simulator.modbus_gateway import SimulatedGateway
from ingest.simulator.pumps import demo_plant
from tests.conftest import find_free_port, make_enterprise, run_cli, sample_counts

MAP_FILE = Path(__file__).parent / "data" / "modbus" / "gw01.csv"


@pytest.fixture
def enterprise(conn: psycopg.Connection) -> str:
    """A fresh enterprise of our own, so tags and devices start unknown."""
    return make_enterprise(conn, "Modbus test works")[1]


@pytest.fixture
def gateway() -> Iterator[SimulatedGateway]:
    gw = SimulatedGateway(
        "GW-01",
        demo_plant()[:3],
        port=find_free_port(),
        update_interval_s=0.5,
        capture_samples=1024,
        capture_interval_s=1.0,
    )
    with gw:
        yield gw


def env_for(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    # The writer's spool goes to the test's own directory, not the checkout's var/.
    env.update(HAZWATCH_DATABASE_URL=db_url, HAZWATCH_INGEST__SPOOL_DIR=str(tmp_path / "spool"))
    return env


def test_collect_modbus_until_sigterm(
    db_url: str,
    conn: psycopg.Connection,
    enterprise: str,
    gateway: SimulatedGateway,
    tmp_path: Path,
) -> None:
    rmap = RegisterMap.from_csv(MAP_FILE)
    tags = {p.tag for p in rmap.tags()}
    exe = Path(sys.executable).parent / "hazwatch"
    proc = subprocess.Popen(
        [
            str(exe),
            "collect",
            "modbus",
            "--host",
            "127.0.0.1",
            "--port",
            str(gateway.port),
            "--map",
            str(MAP_FILE),
            "--interval",
            "0.5",
            "--enterprise",
            enterprise,
        ],
        env=env_for(db_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Run ~3 s: until every mapped tag has rows (or a generous limit on a busy machine).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            seen = sample_counts(conn, enterprise)
            if set(seen) >= tags and min(seen[t] for t in tags) >= 2:
                break
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "collecting 160 points from 127.0.0.1" in err

    # Every sample collected was written before exit: the count printed equals the rows.
    seen = sample_counts(conn, enterprise)
    assert set(seen) == tags
    assert all(n >= 2 for n in seen.values()), seen
    printed = re.search(
        r"stopped: (\d+) samples, (\d+) overall rows, (\d+) waveforms, "
        r"(\d+) health rows, (\d+) rejected",
        err,
    )
    assert printed, err
    assert int(printed.group(1)) == sum(seen.values())

    # Tags, gateways and sensors were registered (audited), and the device tables filled.
    ent = registers.resolve(conn, "enterprise", enterprise)
    tag = conn.execute(
        "SELECT source, source_address, eng_unit FROM registry.tag WHERE enterprise_id = %s "
        "AND name = 'P-101A.DE.TEMP'",
        (ent,),
    ).fetchone()
    assert tag == ("modbus", f"127.0.0.1:{gateway.port} unit 11 HR4 float32", "degC")
    gw_id = conn.execute(
        "SELECT id FROM registry.gateway WHERE enterprise_id = %s AND code = 'GW-01' "
        "AND protocol = 'modbus_tcp'",
        (ent,),
    ).fetchone()
    assert gw_id is not None
    sensors = conn.execute(
        "SELECT code, kind, gateway_id FROM registry.sensor WHERE enterprise_id = %s ORDER BY code",
        (ent,),
    ).fetchall()
    assert [s[0] for s in sensors] == [
        "P-101A-DE",
        "P-101A-NDE",
        "P-102A-DE",
        "P-102A-NDE",
        "P-201A-DE",
        "P-201A-NDE",
    ]
    assert {(s[1], s[2]) for s in sensors} == {("vibration_triaxial", gw_id[0])}
    audited = conn.execute(
        "SELECT count(*) FROM audit.log WHERE actor = 'collector:modbus'"
    ).fetchone()
    assert audited is not None and audited[0] >= len(tags) + 7
    sensor_ids = [
        s
        for (s,) in conn.execute(
            "SELECT id FROM registry.sensor WHERE enterprise_id = %s", (ent,)
        ).fetchall()
    ]
    health = conn.execute(
        "SELECT device_kind, bool_and(online), count(*) FROM ts.device_health WHERE "
        "(device_kind = 'sensor' AND device_id = ANY(%s)) OR (device_kind = 'gateway' AND "
        "device_id = %s) GROUP BY device_kind ORDER BY device_kind",
        (sensor_ids, gw_id[0]),
    ).fetchall()
    assert [(k, ok) for k, ok, _n in health] == [("gateway", True), ("sensor", True)]
    vib = conn.execute(
        "SELECT count(*), count(DISTINCT sensor_id), count(DISTINCT axis) FROM vib.overall "
        "WHERE sensor_id = ANY(%s)",
        (sensor_ids,),
    ).fetchone()
    assert vib is not None and vib[1:] == (6, 3) and vib[0] == int(printed.group(2))
    waves = conn.execute(
        "SELECT count(*), min(cardinality(samples)), max(sample_rate_hz) FROM vib.waveform "
        "WHERE sensor_id = ANY(%s)",
        (sensor_ids,),
    ).fetchone()
    assert waves is not None and waves[0] >= 18 and waves[1:] == (1024, 25600.0)


def test_bad_map_is_one_error_line(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("tag,unit_id,address,type,scale\nT1,1,0,float32,1\nT2,1,2,float23,1\n")
    res = run_cli(
        "collect",
        "modbus",
        "--host",
        "127.0.0.1",
        "--port",
        "1502",
        "--map",
        str(bad),
        "--enterprise",
        "1",
        env={"HAZWATCH_DATABASE_URL": db_url},
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: {bad}:3: type 'float23' is not one of int16, uint16, int32, uint32, float32, "
        "int64, uint64, float64, wave_int16, wave_float32"
    ]


def test_enterprise_is_required(db_url: str, tmp_path: Path) -> None:
    res = run_cli(
        "collect",
        "modbus",
        "--host",
        "127.0.0.1",
        "--port",
        "1502",
        "--map",
        str(MAP_FILE),
        env={"HAZWATCH_DATABASE_URL": db_url},
    )
    assert res.returncode == 1
    assert (
        "error: no enterprise to file tags under: pass --enterprise (id, code or exact name)"
        in res.stderr
    )
    res = run_cli(
        "collect",
        "modbus",
        "--host",
        "127.0.0.1",
        "--port",
        "1502",
        "--map",
        str(MAP_FILE),
        "--enterprise",
        "no such works",
        env={"HAZWATCH_DATABASE_URL": db_url},
    )
    assert res.returncode == 1
    assert "error: no enterprise with id, code or name 'no such works'" in res.stderr
