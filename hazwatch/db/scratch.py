"""Throw-away clusters and databases for tests and benchmarks.

    with scratch_cluster() as cluster:                # own initdb, free port, temp dir
        with migrated_database(cluster.url("postgres")) as url:
            ...

``HAZWATCH_DATABASE_URL`` users call ``migrated_database`` with that server's maintenance URL
instead of starting a cluster.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from hazwatch.db.cluster import Cluster
from hazwatch.db.install import ensure_installed
from hazwatch.db.migrate import SQL_DIR, migrate
from hazwatch.settings import load_settings


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_dir(prefix: str) -> Path:
    """A temp dir the ``postgres`` user can reach when we run as root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def with_dbname(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


@contextmanager
def scratch_cluster(
    prefix: str = "hazwatch-scratch-", shared_buffers: str = "256MB"
) -> Iterator[Cluster]:
    """A cluster of its own on a free port, removed afterwards (even on errors)."""
    base = scratch_dir(prefix)
    db = {
        "data_dir": str(base / "data"),
        "port": find_free_port(),
        "shared_buffers": shared_buffers,
    }
    settings = load_settings(db=db)
    ensure_installed(settings)
    cluster = Cluster.from_settings(settings)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(base, ignore_errors=True)


def create_database(admin_url: str, prefix: str = "hw_scratch") -> str:
    """Create an empty database on the server of ``admin_url``; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def migrated_database(admin_url: str, prefix: str = "hw_scratch") -> Iterator[str]:
    """A fresh, fully migrated database (rollups included), dropped afterwards."""
    url = create_database(admin_url, prefix)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, SQL_DIR)
        yield url
    finally:
        drop_database(admin_url, url)


@contextmanager
def bench_database(
    shared_buffers: str = "1GB", say: Callable[[str], None] = lambda _msg: None
) -> Iterator[str]:
    """For benchmarks: a fresh migrated database on ``HAZWATCH_DATABASE_URL``'s server when that
    is set, else on a scratch cluster of its own; everything is removed afterwards."""
    external = os.environ.get("HAZWATCH_DATABASE_URL")
    if external:
        say("using HAZWATCH_DATABASE_URL: a fresh database on that server")
        with migrated_database(with_dbname(external, "postgres"), "hw_bench") as url:
            yield url
        say("dropped the benchmark database")
        return
    with scratch_cluster("hazwatch-bench-", shared_buffers=shared_buffers) as cluster:
        say(f"scratch cluster in {cluster.base} on port {cluster.port}")
        with migrated_database(cluster.url("postgres"), "hw_bench") as url:
            say(f"database {url.rsplit('/', 1)[-1]} migrated")
            yield url
    say("removed the scratch cluster")
