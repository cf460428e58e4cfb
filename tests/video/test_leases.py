"""Sharing tasks between workers (V1, V18): leases split three tasks over two real
`hazwatch video run` processes, and a killed worker's task moves to the other one within the
lease time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import make_enterprise, run_cli
from tests.video.test_registry import make_task
from video import leases
from video.crypto import CredentialBox

LEASE_S = 3.0


def test_fair_share() -> None:
    assert [leases.fair_share(3, w, 8) for w in (1, 2, 3, 4)] == [3, 2, 1, 1]
    assert leases.fair_share(20, 2, 4) == 4  # capped by the node's capacity


def test_claims_never_overlap_and_balance(conn: psycopg.Connection, tmp_path: Path) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    tasks = {make_task(conn, box, ent, {"fire": {}}) for _ in range(3)}
    a, b = f"a-{ent}", f"b-{ent}"
    leases.heartbeat(conn, a, enterprise_id=ent)
    first = leases.claim(conn, a, lease_s=30, capacity=8, enterprise_id=ent)
    assert set(first) == tasks  # alone: all three
    leases.heartbeat(conn, b, enterprise_id=ent)
    assert leases.claim(conn, b, lease_s=30, capacity=8, enterprise_id=ent) == []  # all taken
    extra = leases.surplus(conn, a, lease_s=30, capacity=8, enterprise_id=ent)
    assert len(extra) == 1
    leases.release(conn, a, extra)
    assert leases.claim(conn, b, lease_s=30, capacity=8, enterprise_id=ent) == extra
    held = {t: w for t, w in leases.holders(conn).items() if t in tasks}
    assert sorted(held.values()) == [a, a, b]
    assert leases.renew(conn, a, 30) == tasks - set(extra)
    conn.execute("UPDATE video.task SET enabled = false WHERE id = %s", (extra[0],))
    assert leases.renew(conn, b, 30) == set()  # disabled: the lease goes
    leases.release(conn, a)
    conn.execute("DELETE FROM video.worker WHERE name = ANY(%s)", ([a, b],))


def _holders(conn: psycopg.Connection, tasks: set[int]) -> dict[int, str]:
    return {t: w for t, w in leases.holders(conn).items() if t in tasks}


@pytest.fixture
def start_worker(
    db_url: str, tmp_path: Path
) -> Iterator[Callable[[str, int], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, enterprise: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
        env.update({"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)})
        exe = Path(sys.executable).parent / "hazwatch"
        with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            proc = subprocess.Popen(
                [
                    str(exe),
                    "video",
                    "run",
                    "--name",
                    name,
                    "--enterprise",
                    str(enterprise),
                    "--lease-s",
                    str(LEASE_S),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait(check: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s")


def test_two_workers_split_three_tasks_and_a_killed_workers_task_moves(
    conn: psycopg.Connection,
    db_url: str,
    tmp_path: Path,
    start_worker: Callable[..., subprocess.Popen[bytes]],
) -> None:
    box = CredentialBox.for_home(tmp_path)
    ent, _ = make_enterprise(conn)
    # Fire/smoke are classical (no model to load): three cheap looping streams at 1 fps.
    tasks = {make_task(conn, box, ent, {"fire": {}}, max_fps=1, loop_file=True) for _ in range(3)}
    w1 = start_worker(f"w1-{ent}", ent)
    _wait(lambda: len(_holders(conn, tasks)) == 3, 30)
    w2 = start_worker(f"w2-{ent}", ent)
    _wait(lambda: sorted(_holders(conn, tasks).values()).count(f"w2-{ent}") == 1, 30)
    held = _holders(conn, tasks)
    assert sorted(held.values()) == [f"w1-{ent}", f"w1-{ent}", f"w2-{ent}"]
    # Both workers really analyse: every task's stream reports frames.
    _wait(
        lambda: (
            conn.execute(
                "SELECT count(*) FROM video.task_status WHERE task_id = ANY(%s)"
                " AND state = 'running' AND frames > 0",
                (list(tasks),),
            ).fetchone()
            == (3,)
        ),
        30,
    )
    moved = next(t for t, w in held.items() if w == f"w2-{ent}")
    w2.kill()  # no clean stop: the lease is not given back
    w2.wait(10)
    took = _wait(lambda: _holders(conn, tasks).get(moved) == f"w1-{ent}", 3 * LEASE_S + 5)
    assert took <= LEASE_S + 3, f"handover took {took:.1f} s for a {LEASE_S} s lease"
    _wait(
        lambda: (
            conn.execute(
                "SELECT worker FROM video.task_status WHERE task_id = %s AND frames > 0", (moved,)
            ).fetchone()
            == (f"w1-{ent}",)
        ),
        20,
    )
    assert w1.poll() is None
    env = {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)}
    status = run_cli("video", "status", env=env)
    assert status.returncode == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if f"w1-{ent}" in line]
    assert len(lines) == 3 and all("running" in line for line in lines)
    refused = run_cli("video", "prune", "--keep", "90 days", env=env)
    assert refused.returncode == 1 and "below the legal minimum" in refused.stderr
    w1.send_signal(signal.SIGTERM)
    assert w1.wait(30) == 0
    assert _holders(conn, tasks) == {}  # a clean stop gives the leases back at once
    log = (tmp_path / f"w1-{ent}.log").read_text()
    assert "Traceback" not in log, log
