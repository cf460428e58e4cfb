"""What ``hazwatch db status`` reports: server, TimescaleDB edition, size, hypertables.

info = database_status(conn)
print(format_status(info))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from hazwatch.db.migrate import applied_versions


@dataclass(frozen=True)
class Hypertable:
    name: str
    chunks: int
    chunk_interval: str
    size_bytes: int


@dataclass
class DatabaseStatus:
    server_version: str
    timescaledb_version: str | None
    license: str | None
    database: str
    size_bytes: int
    migrations: int
    hypertables: list[Hypertable] = field(default_factory=list)


def database_status(conn: psycopg.Connection) -> DatabaseStatus:
    server = conn.execute("SHOW server_version").fetchone()
    ext = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    db, size = conn.execute(
        "SELECT current_database(), pg_database_size(current_database())"
    ).fetchone() or ("", 0)
    license_ = None
    hypertables: list[Hypertable] = []
    if ext:
        lic = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
        license_ = lic[0] if lic else None
        rows = conn.execute(
            """
            SELECT h.hypertable_schema || '.' || h.hypertable_name, h.num_chunks,
                   coalesce(d.time_interval::text, d.integer_interval::text, ''),
                   hypertable_size((quote_ident(h.hypertable_schema) || '.'
                                    || quote_ident(h.hypertable_name))::regclass)
            FROM timescaledb_information.hypertables h
            LEFT JOIN timescaledb_information.dimensions d
              ON d.hypertable_schema = h.hypertable_schema
             AND d.hypertable_name = h.hypertable_name AND d.dimension_number = 1
            ORDER BY 1
            """
        ).fetchall()
        hypertables = [Hypertable(n, int(c), i, int(s or 0)) for n, c, i, s in rows]
    count = len(applied_versions(conn))
    return DatabaseStatus(
        server_version=server[0] if server else "?",
        timescaledb_version=ext[0] if ext else None,
        license=license_,
        database=db,
        size_bytes=int(size),
        migrations=count,
        hypertables=hypertables,
    )


def human_bytes(n: float) -> str:
    """
    >>> human_bytes(1536)
    '1.5 kB'
    """
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


EDITION_NOTE = {
    "apache": "Apache-2 edition: hypertables, time_bucket, drop_chunks; rollups are maintained "
    "by hazwatch itself (no continuous aggregates or job scheduler in this edition)",
    "timescale": "Timescale-licensed edition: rollups become real continuous aggregates",
}


def format_status(st: DatabaseStatus) -> str:
    lines = [
        f"server       PostgreSQL {st.server_version}",
        f"timescaledb  {st.timescaledb_version or 'not installed in this database'}",
    ]
    if st.license:
        lines.append(f"licence      {st.license}: {EDITION_NOTE.get(st.license, '')}".rstrip(": "))
    lines += [
        f"database     {st.database} ({human_bytes(st.size_bytes)})",
        f"migrations   {st.migrations} applied",
        f"hypertables  {len(st.hypertables)}",
    ]
    width = max((len(h.name) for h in st.hypertables), default=0)
    for h in st.hypertables:
        lines.append(
            f"  {h.name:<{width}}  chunks {h.chunks:>5}  interval {h.chunk_interval:<8}"
            f"  {human_bytes(h.size_bytes)}"
        )
    return "\n".join(lines)
