"""Sharing tasks between workers with leases in the database (V1, V18; ARCHITECTURE: "video
workers scale out as more worker processes or nodes taking tasks from the database").

    heartbeat(conn, "node1:4242", node_id=None)
    mine = renew(conn, "node1:4242", lease_s=15)             # tasks still mine
    new = claim(conn, "node1:4242", lease_s=15, capacity=8)  # more, up to a fair share
    release(conn, "node1:4242", [task_id])                   # on a clean stop

A worker that dies stops renewing: its leases run out after ``lease_s`` and the next claim of
any other worker takes them. Claims lock task rows with ``FOR UPDATE SKIP LOCKED``, so two
workers claiming at once never take the same task. Each worker takes at most its fair share
of the enabled tasks it may run, counted over the workers alive now, so work spreads out
instead of going to whichever worker started first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import psycopg
from psycopg import sql


def fair_share(tasks: int, workers: int, capacity: int) -> int:
    """How many tasks one of ``workers`` live workers should hold.

    >>> fair_share(3, 2, 8), fair_share(3, 1, 8), fair_share(10, 2, 4), fair_share(0, 3, 8)
    (2, 3, 4, 0)
    """
    if tasks <= 0:
        return 0
    return min(capacity, math.ceil(tasks / max(1, workers)))


def heartbeat(
    conn: psycopg.Connection,
    worker: str,
    *,
    node_id: int | None = None,
    enterprise_id: int | None = None,
    host: str = "",
    pid: int = 0,
    stats: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO video.worker (name, node_id, enterprise_id, host, pid, heartbeat_at, stats)"
        " VALUES (%s, %s, %s, %s, %s, now(), %s::jsonb)"
        " ON CONFLICT (name) DO UPDATE SET heartbeat_at = now(), stats = EXCLUDED.stats,"
        " node_id = EXCLUDED.node_id, pid = EXCLUDED.pid, host = EXCLUDED.host",
        (worker, node_id, enterprise_id, host, pid, stats),
    )


def renew(conn: psycopg.Connection, worker: str, lease_s: float) -> set[int]:
    """Extend this worker's leases on tasks still enabled; the ids it still holds."""
    rows = conn.execute(
        "UPDATE video.task_lease l SET until = now() + make_interval(secs => %s)"
        " FROM video.task t WHERE t.id = l.task_id AND l.worker = %s AND t.enabled"
        " AND l.until > now() RETURNING l.task_id",
        (lease_s, worker),
    ).fetchall()
    # Leases on disabled tasks, or ones that ran out (and may be someone else's soon), go.
    conn.execute(
        "DELETE FROM video.task_lease l USING video.task t WHERE t.id = l.task_id"
        " AND l.worker = %s AND (NOT t.enabled OR l.until <= now())",
        (worker,),
    )
    return {int(r[0]) for r in rows}


#: Tasks a worker may run: enabled, on its node or on none, of its enterprise when it has one.
ELIGIBLE = (
    "t.enabled AND (t.node_id IS NULL OR t.node_id = %(node)s)"
    " AND (%(ent)s::integer IS NULL OR t.enterprise_id = %(ent)s)"
    " AND (t.node_id IS NULL OR EXISTS (SELECT 1 FROM video.node n WHERE n.id = t.node_id"
    " AND n.enabled))"
)


def claim(
    conn: psycopg.Connection,
    worker: str,
    *,
    lease_s: float,
    capacity: int,
    node_id: int | None = None,
    enterprise_id: int | None = None,
    alive_s: float | None = None,
) -> list[int]:
    """Take free or expired tasks up to this worker's fair share; the ids taken now."""
    alive_s = alive_s if alive_s is not None else lease_s
    where = sql.SQL(ELIGIBLE)  # type: ignore[arg-type]  # fixed text above
    args = {"node": node_id, "ent": enterprise_id, "w": worker, "lease": lease_s, "alive": alive_s}
    with conn.transaction():
        row = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM video.task t WHERE {}),"
                " (SELECT count(*) FROM video.worker WHERE heartbeat_at > now() -"
                "  make_interval(secs => %(alive)s) OR name = %(w)s),"
                " (SELECT count(*) FROM video.task_lease WHERE worker = %(w)s AND until > now())"
            ).format(where),
            args,
        ).fetchone()
        assert row is not None
        total, workers, held = (int(x) for x in row)
        want = fair_share(total, workers, capacity) - held
        if want <= 0:
            return []
        rows = conn.execute(
            sql.SQL(
                "SELECT t.id FROM video.task t LEFT JOIN video.task_lease l ON l.task_id = t.id"
                " WHERE {} AND (l.task_id IS NULL OR l.until <= now())"
                " ORDER BY t.id LIMIT %(want)s FOR UPDATE OF t SKIP LOCKED"
            ).format(where),
            {**args, "want": want},
        ).fetchall()
        ids = [int(r[0]) for r in rows]
        for task_id in ids:
            conn.execute(
                "INSERT INTO video.task_lease (task_id, worker, acquired_at, until)"
                " VALUES (%s, %s, now(), now() + make_interval(secs => %s))"
                " ON CONFLICT (task_id) DO UPDATE SET worker = EXCLUDED.worker,"
                " acquired_at = EXCLUDED.acquired_at, until = EXCLUDED.until",
                (task_id, worker, lease_s),
            )
    return ids


def surplus(
    conn: psycopg.Connection,
    worker: str,
    *,
    lease_s: float,
    capacity: int,
    node_id: int | None = None,
    enterprise_id: int | None = None,
) -> list[int]:
    """Tasks this worker holds beyond its fair share now that more workers are alive (the
    newest ones), to be released so the others can take them; [] when balanced."""
    args = {"node": node_id, "ent": enterprise_id, "w": worker, "alive": lease_s}
    row = conn.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM video.task t WHERE {}),"
            " (SELECT count(*) FROM video.worker WHERE heartbeat_at > now() -"
            "  make_interval(secs => %(alive)s) OR name = %(w)s)"
        ).format(sql.SQL(ELIGIBLE)),  # type: ignore[arg-type]
        args,
    ).fetchone()
    assert row is not None
    share = fair_share(int(row[0]), int(row[1]), capacity)
    mine = [
        int(r[0])
        for r in conn.execute(
            "SELECT task_id FROM video.task_lease WHERE worker = %s AND until > now()"
            " ORDER BY task_id",
            (worker,),
        )
    ]
    return mine[share:] if len(mine) > share else []


def release(conn: psycopg.Connection, worker: str, task_ids: Sequence[int] | None = None) -> None:
    """Give leases back at once (a clean stop), so another worker need not wait them out."""
    if task_ids is None:
        conn.execute("DELETE FROM video.task_lease WHERE worker = %s", (worker,))
    else:
        conn.execute(
            "DELETE FROM video.task_lease WHERE worker = %s AND task_id = ANY(%s)",
            (worker, list(task_ids)),
        )


def holders(conn: psycopg.Connection) -> dict[int, str]:
    """task id -> worker for the leases valid now."""
    rows = conn.execute(
        "SELECT task_id, worker FROM video.task_lease WHERE until > now()"
    ).fetchall()
    return {int(t): str(w) for t, w in rows}
