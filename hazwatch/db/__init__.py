"""Database access: one URL for every process, connections and pools from it.

with connect(settings) as conn:
    conn.execute("SELECT 1")
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from hazwatch.db.cluster import Cluster
from hazwatch.settings import Settings


def database_url(settings: Settings) -> str:
    """``HAZWATCH_DATABASE_URL`` when set, else the embedded cluster's URL."""
    if settings.database_url:
        return settings.database_url
    return Cluster.from_settings(settings).url()


def connect(settings: Settings, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(database_url(settings), application_name="hazwatch", **kwargs)


def make_pool(settings: Settings, name: str = "hazwatch") -> ConnectionPool:
    """A connection pool sized by ``settings.pool``; the caller opens and closes it."""
    return ConnectionPool(
        database_url(settings),
        min_size=settings.pool.min_size,
        max_size=settings.pool.max_size,
        timeout=settings.pool.timeout_s,
        kwargs={"application_name": name},
        open=False,
        name=name,
    )
