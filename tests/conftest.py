"""Shared fixtures: one fresh, real TimescaleDB per test session.

The cluster is made by the same code as ``hazwatch db up`` (initdb into a scratch directory,
its own free port, migrations), so the tests exercise the embedded default itself. With
``HAZWATCH_DATABASE_URL`` set, a fresh database is created on that server instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hazwatch.db.cluster import Cluster
from hazwatch.db.scratch import (  # re-exported: tests import them from here
    create_database,
    drop_database,
    find_free_port,
    migrated_database,
    scratch_cluster,
    scratch_dir,
    with_dbname,
)
from hazwatch.settings import Settings, load_settings

__all__ = [
    "create_database",
    "drop_database",
    "find_free_port",
    "make_enterprise",
    "migrated_database",
    "run_cli",
    "sample_counts",
    "scratch_dir",
]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def test_cluster() -> Iterator[Cluster | None]:
    """The session's own cluster (None when an external server is used)."""
    if os.environ.get("HAZWATCH_DATABASE_URL"):
        yield None
        return
    with scratch_cluster("hazwatch-test-", shared_buffers="512MB") as cluster:
        yield cluster


@pytest.fixture(scope="session")
def admin_url(test_cluster: Cluster | None) -> str:
    """A URL to the server's maintenance database, for creating scratch databases."""
    if test_cluster is None:
        return with_dbname(os.environ["HAZWATCH_DATABASE_URL"], "postgres")
    return test_cluster.url("postgres")


@pytest.fixture(scope="session")
def db_url(admin_url: str) -> Iterator[str]:
    """The session's fresh, fully migrated database."""
    with migrated_database(admin_url, "hw_session") as url:
        yield url


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    return load_settings(database_url=db_url)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def scratch_db(admin_url: str) -> Iterator[str]:
    """An empty database of its own, dropped afterwards."""
    url = create_database(admin_url)
    yield url
    drop_database(admin_url, url)


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (protocol clients and servers must stop).

    Modules opt in: ``pytestmark = pytest.mark.usefixtures("no_leaked_threads")``.
    """
    before = set(threading.enumerate())
    yield
    end = time.monotonic() + 5
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > end:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {extra}"


def make_enterprise(
    conn: psycopg.Connection, prefix: str = "测试企业", city: str = "太原市"
) -> tuple[int, str]:
    """A fresh enterprise of its own (unique name) in ``city``; returns (id, name).

    Tests share the session database, so each makes the enterprise its rows belong to.
    """
    from hazwatch import registers
    from hazwatch.registers import Actor

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    region = registers.resolve(conn, "region", city)
    ent = registers.insert(
        conn, Actor(None, "test"), "enterprise", {"name": name, "region_id": region}
    )
    return ent, name


def sample_counts(conn: psycopg.Connection, enterprise: str) -> dict[str, int]:
    """Rows in ts.sample per tag of the enterprise (by name), zero for tags without rows."""
    rows = conn.execute(
        """SELECT t.name, count(s.tag_id) FROM registry.tag t
           JOIN registry.enterprise e ON e.id = t.enterprise_id
           LEFT JOIN ts.sample s ON s.tag_id = t.id
           WHERE e.name = %s GROUP BY t.name""",
        (enterprise,),
    ).fetchall()
    return {name: int(n) for name, n in rows}


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``hazwatch`` console script."""
    exe = Path(sys.executable).parent / "hazwatch"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HAZWATCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(exe), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
