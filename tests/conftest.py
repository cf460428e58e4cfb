"""Shared fixtures: one fresh, real TimescaleDB per test session.

The cluster is made by the same code as ``hazwatch db up`` (initdb into a scratch directory,
its own free port, migrations), so the tests exercise the embedded default itself. With
``HAZWATCH_DATABASE_URL`` set, a fresh database is created on that server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from hazwatch.db.cluster import Cluster
from hazwatch.db.install import ensure_installed
from hazwatch.db.migrate import SQL_DIR, migrate
from hazwatch.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_dir(prefix: str) -> Path:
    """A temp dir the ``postgres`` user can reach when tests run as root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def test_cluster() -> Iterator[Cluster | None]:
    """The session's own cluster (None when an external server is used)."""
    if os.environ.get("HAZWATCH_DATABASE_URL"):
        yield None
        return
    base = scratch_dir("hazwatch-test-")
    settings = load_settings(db={"data_dir": str(base / "data"), "port": find_free_port()})
    ensure_installed(settings)
    cluster = Cluster.from_settings(settings)
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_url(test_cluster: Cluster | None) -> str:
    """A URL to the server's maintenance database, for creating scratch databases."""
    if test_cluster is None:
        return _with_dbname(os.environ["HAZWATCH_DATABASE_URL"], "postgres")
    return test_cluster.url("postgres")


def create_database(admin_url: str, prefix: str = "hw_test") -> str:
    """Create an empty database; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def db_url(admin_url: str) -> Iterator[str]:
    """The session's fresh, fully migrated database."""
    url = create_database(admin_url, "hw_session")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, SQL_DIR)
    yield url
    drop_database(admin_url, url)


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


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
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
        timeout=120,
        check=False,
    )
