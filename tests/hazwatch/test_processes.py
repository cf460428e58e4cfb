"""Scheduler, supervisor and demo: the processes that keep rollups fresh without anyone's hand."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from hazwatch.errors import HazwatchError
from hazwatch.scheduler import Job, default_jobs, run_scheduler
from hazwatch.settings import Settings
from hazwatch.supervisor import Child, Supervisor
from tests.conftest import REPO, find_free_port, run_cli


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_scheduler_refreshes_and_survives_failing_jobs(settings: Settings, db_url: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ts.sample (time, tag_id, value) SELECT t, 777001, 2.5 FROM"
            " generate_series(%s::timestamptz, %s::timestamptz, interval '10 seconds') t"
            " ON CONFLICT DO NOTHING",
            (now - timedelta(hours=3), now - timedelta(minutes=5)),
        )
    calls: list[str] = []

    def broken(_conn: psycopg.Connection) -> str:
        calls.append("broken")
        raise HazwatchError("this job always fails")

    jobs = [Job("broken", timedelta(milliseconds=200), broken), *default_jobs(settings)]
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(settings, stop, jobs))
    thread.start()
    try:

        def refreshed() -> bool:
            with psycopg.connect(db_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM _hazwatch.mat__ts__sample_1h WHERE tag_id = 777001"
                ).fetchone()
                return bool(row and row[0] >= 2)

        assert _wait_for(refreshed), "the scheduler did not materialise ts.sample_1h"
        assert _wait_for(lambda: len(calls) >= 3), "a failing job stopped being retried"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_supervisor_restarts_a_dead_child_and_stops_all() -> None:
    quick = Child("quick", ["--version"])  # exits at once: must be restarted with back-off
    sup = Supervisor([quick], grace_s=5)
    runner = threading.Thread(target=sup.run, kwargs={"install_signals": False})
    runner.start()
    try:
        assert _wait_for(lambda: quick.restarts >= 2, timeout=15)
        assert quick.backoff >= 4  # 1 s, then 2 s, doubling
    finally:
        sup.stop.set()
        runner.join(timeout=20)
    assert not runner.is_alive()


def test_demo_fills_the_database_by_itself(db_url: str, tmp_path: Path) -> None:
    """make demo's processes: simulator, OPC UA + Modbus collectors, scheduler (issue 4)."""
    env = {
        "HAZWATCH_DATABASE_URL": db_url,
        "HAZWATCH_DEMO__OPCUA_PORT": str(find_free_port()),
        "HAZWATCH_DEMO__MODBUS_PORT": str(_two_free_ports()),
        "HAZWATCH_DEMO__MQTT_PORT": str(find_free_port()),
        "HAZWATCH_WEB__PORT": str(find_free_port()),
        "HAZWATCH_HOME": str(tmp_path),
        "HAZWATCH_INGEST__SPOOL_DIR": str(tmp_path / "spool"),
        "HAZWATCH_INGEST__FLUSH_INTERVAL_S": "0.2",
    }
    # The detection models `hazwatch install` converted into the checkout (about a minute on a
    # fresh machine): this home shares them instead of converting them again.
    from video.models import ensure_installed, models_dir

    ensure_installed(REPO)
    models_dir(tmp_path).parent.mkdir(parents=True)
    models_dir(tmp_path).symlink_to(models_dir(REPO))
    # 45 s: on a loaded machine (three test processes) the OPC UA collector connects late.
    out = run_cli("demo", "--duration", "45", env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "hazwatch demo is up" in out.stderr
    assert "login      admin / hazwatch-demo" in out.stderr
    for child in ("simulator", "collect-opcua", "collect-modbus", "collect-mqtt", "scheduler",
                  "web"):  # fmt: skip
        assert f"started {child}" in out.stderr, child
    assert "all children stopped" in out.stderr
    with psycopg.connect(db_url) as conn:
        ent = conn.execute("SELECT id FROM registry.enterprise WHERE code = 'DEMO'").fetchone()[0]
        assert conn.execute("SELECT role FROM auth.app_user WHERE name = 'admin'").fetchone() == (
            "admin",
        )
        # The alarm master database of the demo plant (A1) and its known consequences (A10).
        assert conn.execute(
            "SELECT count(*) > 100 FROM registry.alarm_point p JOIN registry.tag t"
            " ON t.id = p.tag_id WHERE t.enterprise_id = %s",
            (ent,),
        ).fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM registry.alarm_relation").fetchone()[0] >= 6
        # Process values (OPC UA), pump values (Modbus) and gas detectors (MQTT) arrived
        # without anyone's hand.
        by_source = dict(
            conn.execute(
                "SELECT t.source, count(*) FROM ts.sample s JOIN registry.tag t ON t.id = s.tag_id"
                " WHERE t.enterprise_id = %s GROUP BY 1",
                (ent,),
            ).fetchall()
        )
        assert all(by_source.get(k, 0) > 0 for k in ("opcua", "modbus", "mqtt")), by_source
        assert conn.execute("SELECT count(*) FROM vib.overall").fetchone()[0] > 0


def _two_free_ports() -> int:
    """A port whose successor is free too (the demo's two Modbus gateways)."""
    import socket

    for _ in range(50):
        port = find_free_port()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port
    raise AssertionError("no two consecutive free ports")
