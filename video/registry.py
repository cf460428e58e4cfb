"""Audited writes to the video registers (V2-V4): cameras with encrypted credentials, analysis
nodes, algorithm versions, tasks and their algorithms (zones, thresholds, schedule, cooldown).

    box = CredentialBox.for_home(settings.home)
    cam = save_camera(conn, actor, box, enterprise_id=3, code="CAM-01", name="罐区东",
                      stream_url="rtsp://10.0.0.5/main", username="admin", password="pw")
    node = save_node(conn, actor, enterprise_id=3, code="edge-1", name="边缘分析节点1")
    task = save_task(conn, actor, enterprise_id=3, camera_id=cam, code="T1", name="罐区入侵")
    bind_algorithm(conn, actor, task, "intrusion", zones=[{"name": "dike", "points": [...]}],
                   params={"min_conf": 0.4}, schedule=[], cooldown_s=60)
    release_version(conn, actor, "intrusion", "1.1", params={"raise_after_s": 2}, current=True)

Every write runs inside ``hazwatch.registers.acting`` so the audit triggers record who and why;
table and column names come from ``TABLES`` only. Values are checked before they reach the
database, with messages naming the field: a zone, schedule or parameter the worker could not
run is refused here, not discovered by the worker at night.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError, acting
from video.crypto import CredentialBox, split_credentials
from video.tasks import TaskConfigError, merged_params, parse_schedule, parse_zones, zones_json

TABLES: dict[str, tuple[str, frozenset[str]]] = {
    "node": (
        "node",
        frozenset({"enterprise_id", "code", "name", "host", "gpu", "max_streams", "enabled"}),
    ),
    "algorithm": ("algorithm", frozenset({"code", "name_zh", "name_en", "plugin_manifest"})),
    "algorithm_version": (
        "algorithm_version",
        frozenset({"algorithm_id", "version", "params", "notes", "is_current"}),
    ),
    "task": (
        "task",
        frozenset(
            {
                "enterprise_id",
                "camera_id",
                "node_id",
                "code",
                "name",
                "max_fps",
                "loop_file",
                "enabled",
            }
        ),
    ),
    "task_algorithm": (
        "task_algorithm",
        frozenset(
            {
                "task_id",
                "algorithm_id",
                "version_id",
                "zones",
                "params",
                "schedule",
                "cooldown_s",
                "enabled",
            }
        ),
    ),
}
STREAM_SCHEMES = (
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "http://",
    "https://",
    "tcp://",
    "udp://",
    "file:",
    "/",
)


def _table(name: str, values: Mapping[str, Any]) -> sql.Composed:
    table, columns = TABLES[name]
    unknown = sorted(set(values) - columns)
    if unknown:
        raise RegisterError(f"video.{table} has no column {', '.join(unknown)}")
    return sql.SQL("{}.{}").format(sql.Identifier("video"), sql.Identifier(table))


def _json(values: Mapping[str, Any]) -> list[Any]:
    return [Jsonb(v) if isinstance(v, dict | list) else v for v in values.values()]


def _refused(exc: psycopg.Error, what: str) -> RegisterError:
    diag = exc.diag
    detail = diag.message_detail or diag.message_primary or str(exc)
    name = diag.constraint_name or ""
    return RegisterError(f"{what}: {detail}" + (f" ({name})" if name else ""))


def insert(
    conn: psycopg.Connection,
    actor: Actor,
    name: str,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> int:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        _table(name, values),
        sql.SQL(", ").join(sql.Identifier(c) for c in values),
        sql.SQL(", ").join(sql.Placeholder() for _ in values),
    )
    try:
        with acting(conn, actor, reason):
            row = conn.execute(query, _json(values)).fetchone()
    except psycopg.errors.IntegrityError as exc:
        raise _refused(exc, f"video.{TABLES[name][0]}") from exc
    assert row is not None
    return int(row[0])


def update(
    conn: psycopg.Connection,
    actor: Actor,
    name: str,
    row_id: int,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> None:
    if not values:
        return
    query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
        _table(name, values),
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
    )
    try:
        with acting(conn, actor, reason):
            if conn.execute(query, [*_json(values), row_id]).rowcount == 0:
                raise RegisterError(f"video.{TABLES[name][0]} has no row with id {row_id}")
    except psycopg.errors.IntegrityError as exc:
        raise _refused(exc, f"video.{TABLES[name][0]}") from exc


def delete(conn: psycopg.Connection, actor: Actor, name: str, row_id: int) -> None:
    table = _table(name, {})
    try:
        with acting(conn, actor):
            if (
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (row_id,)
                ).rowcount
                == 0
            ):
                raise RegisterError(f"video.{TABLES[name][0]} has no row with id {row_id}")
    except psycopg.errors.IntegrityError as exc:
        raise _refused(exc, f"video.{TABLES[name][0]}") from exc


# --- cameras (registry.camera, V1, V2) ------------------------------------------------------


def check_stream_url(url: str) -> str:
    """A URL FFmpeg can open (or an absolute file path); credentials are split off elsewhere.

    >>> check_stream_url(" rtsp://10.0.0.5/main ")
    'rtsp://10.0.0.5/main'
    """
    url = url.strip()
    if not url.startswith(STREAM_SCHEMES):
        raise RegisterError(
            f"stream_url {url!r}: expected rtsp://, rtsps://, rtmp://, http(s)://, tcp://, "
            "udp:// or an absolute file path"
        )
    if any(ch.isspace() for ch in url):
        raise RegisterError(f"stream_url {url!r}: contains spaces")
    return url


def save_camera(
    conn: psycopg.Connection,
    actor: Actor,
    box: CredentialBox,
    *,
    camera_id: int | None = None,
    password: str | None = None,
    reason: str | None = None,
    **values: Any,
) -> int:
    """Insert (no ``camera_id``) or update a camera or NVR.

    ``password``: None keeps the stored one, "" removes it, text replaces it (encrypted). A
    password written into ``stream_url`` (``rtsp://user:pw@host``) is moved out of the URL and
    encrypted the same way, so no clear-text secret reaches the table or the audit log.
    """
    if "secret_enc" in values:
        raise RegisterError("secret_enc is written from the password, never directly")
    if values.get("stream_url"):
        url, user, inline = split_credentials(check_stream_url(values["stream_url"]))
        values["stream_url"] = url
        if user and not values.get("username"):
            values["username"] = user
        if inline is not None:
            if password:
                raise RegisterError("stream_url carries a password and a password is given too")
            password = inline
    if password is not None:
        values["secret_enc"] = box.encrypt(password) if password else None
    if camera_id is None:
        return registers.insert(conn, actor, "camera", values, reason)
    if values:
        registers.update(conn, actor, "camera", camera_id, values, reason)
    return camera_id


def save_node(
    conn: psycopg.Connection, actor: Actor, node_id: int | None = None, **values: Any
) -> int:
    if node_id is None:
        return insert(conn, actor, "node", values)
    update(conn, actor, "node", node_id, values)
    return node_id


# --- algorithms and versions (V3) -----------------------------------------------------------


def algorithm_id(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute("SELECT id FROM video.algorithm WHERE code = %s", (code,)).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT code FROM video.algorithm ORDER BY code")]
        raise RegisterError(f"no algorithm {code!r}; known: {', '.join(known)}")
    return int(row[0])


def check_params(code: str, params: Mapping[str, Any], plugin_manifest: str | None = None) -> None:
    """Refuse parameters the detector would refuse (unknown key, out of range), by name."""
    from pathlib import Path

    from video.detectors import make
    from video.detectors.plugin import load_manifest

    try:
        plugins = [load_manifest(Path(plugin_manifest))] if plugin_manifest else []
        make(code, None, dict(params), plugins)
    except Exception as exc:
        raise RegisterError(f"{code} parameters: {exc}") from None


def release_version(
    conn: psycopg.Connection,
    actor: Actor,
    code: str,
    version: str,
    *,
    params: Mapping[str, Any] | None = None,
    notes: str | None = None,
    current: bool = False,
) -> int:
    """A new version of an algorithm; ``current=True`` upgrades every task that follows the
    current version (workers reload only those tasks; other streams keep running)."""
    aid = algorithm_id(conn, code)
    manifest = conn.execute(
        "SELECT plugin_manifest FROM video.algorithm WHERE id = %s", (aid,)
    ).fetchone()
    check_params(code, params or {}, manifest[0] if manifest else None)
    vid = insert(
        conn,
        actor,
        "algorithm_version",
        {"algorithm_id": aid, "version": version, "params": dict(params or {}), "notes": notes},
    )
    if current:
        make_current(conn, actor, code, version)
    return vid


def make_current(conn: psycopg.Connection, actor: Actor, code: str, version: str) -> None:
    """Switch the algorithm's current version (both rows change in one audited transaction)."""
    aid = algorithm_id(conn, code)
    with acting(conn, actor, f"{code} -> {version}"):
        row = conn.execute(
            "SELECT id FROM video.algorithm_version WHERE algorithm_id = %s AND version = %s",
            (aid, version),
        ).fetchone()
        if row is None:
            raise RegisterError(f"{code} has no version {version!r}")
        conn.execute(
            "UPDATE video.algorithm_version SET is_current = false"
            " WHERE algorithm_id = %s AND is_current AND id <> %s",
            (aid, row[0]),
        )
        conn.execute(
            "UPDATE video.algorithm_version SET is_current = true WHERE id = %s", (row[0],)
        )


# --- tasks (V4) -----------------------------------------------------------------------------


def save_task(
    conn: psycopg.Connection, actor: Actor, task_id: int | None = None, **values: Any
) -> int:
    if "camera_id" in values and "enterprise_id" in values:
        row = conn.execute(
            "SELECT enterprise_id FROM registry.camera WHERE id = %s", (values["camera_id"],)
        ).fetchone()
        if row is None:
            raise RegisterError(f"camera_id {values['camera_id']}: no such camera")
        if int(row[0]) != int(values["enterprise_id"]):
            raise RegisterError("camera_id: the camera belongs to another enterprise")
    if task_id is None:
        return insert(conn, actor, "task", values)
    update(conn, actor, "task", task_id, values)
    return task_id


def bind_algorithm(
    conn: psycopg.Connection,
    actor: Actor,
    task_id: int,
    code: str,
    *,
    zones: Sequence[Mapping[str, Any]] = (),
    params: Mapping[str, Any] | None = None,
    schedule: Sequence[Mapping[str, Any]] = (),
    cooldown_s: float = 60.0,
    version: str | None = None,
    enabled: bool = True,
) -> int:
    """Add an algorithm to a task or replace its settings; returns the binding's id.
    ``version`` None follows the algorithm's current version."""
    aid = algorithm_id(conn, code)
    try:
        parsed = parse_zones(list(zones))
        parse_schedule(list(schedule))
    except TaskConfigError as exc:
        raise RegisterError(f"{code}: {exc}") from None
    except Exception as exc:
        raise RegisterError(f"{code}: {exc}") from None
    if cooldown_s < 0:
        raise RegisterError(f"{code}: cooldown_s must be >= 0")
    version_id = None
    version_params: Mapping[str, Any] = {}
    row = conn.execute(
        "SELECT id, params FROM video.algorithm_version WHERE algorithm_id = %s"
        " AND CASE WHEN %s::text IS NULL THEN is_current ELSE version = %s END",
        (aid, version, version),
    ).fetchone()
    if row is None:
        raise RegisterError(
            f"{code} has no version {version!r}" if version else f"{code} has no current version"
        )
    if version:
        version_id = int(row[0])
    version_params = row[1]
    manifest = conn.execute(
        "SELECT plugin_manifest FROM video.algorithm WHERE id = %s", (aid,)
    ).fetchone()
    check_params(
        code,
        merged_params(version_params, params or {}, cooldown_s),
        manifest[0] if manifest else None,
    )
    values = {
        "task_id": task_id,
        "algorithm_id": aid,
        "version_id": version_id,
        "zones": zones_json(parsed),
        "params": dict(params or {}),
        "schedule": [dict(w) for w in schedule],
        "cooldown_s": cooldown_s,
        "enabled": enabled,
    }
    existing = conn.execute(
        "SELECT id FROM video.task_algorithm WHERE task_id = %s AND algorithm_id = %s",
        (task_id, aid),
    ).fetchone()
    if existing:
        update(
            conn,
            actor,
            "task_algorithm",
            int(existing[0]),
            {k: v for k, v in values.items() if k not in ("task_id", "algorithm_id")},
        )
        return int(existing[0])
    return insert(conn, actor, "task_algorithm", values)


def save_zones(
    conn: psycopg.Connection, actor: Actor, binding_id: int, zones: Sequence[Mapping[str, Any]]
) -> None:
    """Replace the zones of one task algorithm (the zone editor's save)."""
    try:
        parsed = parse_zones(list(zones))
    except Exception as exc:
        raise RegisterError(str(exc)) from None
    update(
        conn,
        actor,
        "task_algorithm",
        binding_id,
        {"zones": zones_json(parsed)},
        reason="zone editor",
    )
