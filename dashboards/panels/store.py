"""Saved dashboards (``ui.dashboard``): who sees and edits which, and every change audited
through ``hazwatch.registers``.

A user sees its own dashboards and the shared ones of its scope (shared and either of no
enterprise or of an enterprise its ``Scope`` includes). The owner and administrators edit and
delete; regulators (read-only) only view. Platform-provisioned dashboards (no owner) are
edited by administrators.

    rows = visible(conn, user, search="装置")
    uid = create(conn, user, "我的看板", definition)
    save(conn, user, uid, version, title=..., shared=..., enterprise_id=..., definition=...)
    copy_uid = duplicate(conn, user, uid)
    delete(conn, user, uid)
    uid = import_document(conn, user, text)      # SpecError / StoreError with reasons
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from dashboards.auth import WebUser
from dashboards.panels import spec
from hazwatch import registers
from hazwatch.errors import HazwatchError
from hazwatch.registers import Actor


class StoreError(HazwatchError):
    """A dashboard change that was refused; the text says why."""


@dataclass(frozen=True)
class Dashboard:
    id: int
    uid: str
    title: str
    owner_id: int | None
    owner: str | None
    shared: bool
    enterprise_id: int | None
    enterprise: str | None
    definition: dict[str, Any]
    version: int
    updated_at: datetime


_SELECT = """
SELECT d.id, d.uid, d.title, d.owner_id, coalesce(u.display_name, u.name), d.shared,
       d.enterprise_id, e.name, d.definition, d.version, d.updated_at
FROM ui.dashboard d
LEFT JOIN auth.app_user u ON u.id = d.owner_id
LEFT JOIN registry.enterprise e ON e.id = d.enterprise_id
WHERE (d.owner_id = %s OR (d.shared AND (d.enterprise_id IS NULL OR {scope})))
"""


def actor(user: WebUser) -> Actor:
    return Actor(user.id, user.name)


def can_edit(user: WebUser, board: Dashboard) -> bool:
    if user.read_only:
        return False
    return user.is_admin or (board.owner_id is not None and board.owner_id == user.id)


def can_create(user: WebUser) -> bool:
    return not user.read_only


def visible(conn: psycopg.Connection, user: WebUser, search: str | None = None) -> list[Dashboard]:
    """Dashboards the user may open, titles matching ``search`` (case-insensitive)."""
    cond, params = user.scope.condition("d.enterprise_id")
    query = sql.SQL(
        _SELECT + " AND (%s::text IS NULL OR d.title ILIKE %s)"
        " ORDER BY d.shared, lower(d.title), d.id"
    ).format(scope=cond)
    pattern = None
    if search and search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    rows = conn.execute(query, (user.id, *params, pattern, pattern)).fetchall()
    return [Dashboard(*r) for r in rows]


def get(conn: psycopg.Connection, user: WebUser, uid: str) -> Dashboard | None:
    """One dashboard the user may open, or None (unknown and invisible look the same)."""
    cond, params = user.scope.condition("d.enterprise_id")
    query = sql.SQL(_SELECT + " AND d.uid = %s").format(scope=cond)
    row = conn.execute(query, (user.id, *params, uid)).fetchone()
    return None if row is None else Dashboard(*row)


def _check_enterprise(conn: psycopg.Connection, user: WebUser, enterprise_id: int | None) -> None:
    if enterprise_id is None:
        return
    allowed = user.scope.enterprise_ids(conn)
    if allowed is not None and enterprise_id not in allowed:
        raise StoreError(f"enterprise {enterprise_id} is outside your scope")


def _free_uid(conn: psycopg.Connection, wanted: str | None = None) -> str:
    if (
        wanted
        and not conn.execute("SELECT 1 FROM ui.dashboard WHERE uid = %s", (wanted,)).fetchone()
    ):
        return wanted
    return secrets.token_hex(5)


def create(
    conn: psycopg.Connection,
    user: WebUser,
    title: str,
    definition: Mapping[str, Any] | None = None,
    *,
    shared: bool = False,
    enterprise_id: int | None = None,
    uid: str | None = None,
    reason: str | None = None,
) -> str:
    """A new dashboard owned by ``user``; returns its uid (``uid`` kept when free)."""
    if not can_create(user):
        raise StoreError("read-only users cannot create dashboards")
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise StoreError("title: 1 to 200 characters")
    checked = spec.validate(definition if definition is not None else {"panels": []})
    _check_enterprise(conn, user, enterprise_id)
    new_uid = _free_uid(conn, uid)
    registers.insert(
        conn,
        actor(user),
        "dashboard",
        {
            "uid": new_uid,
            "title": title,
            "owner_id": user.id,
            "shared": shared,
            "enterprise_id": enterprise_id,
            "definition": Jsonb(checked),
        },
        reason=reason,
    )
    return new_uid


def save(
    conn: psycopg.Connection,
    user: WebUser,
    uid: str,
    version: int,
    *,
    title: str,
    shared: bool,
    enterprise_id: int | None,
    definition: Mapping[str, Any],
) -> int:
    """Write an edited dashboard; returns the new version. Refused when someone saved it
    since ``version`` was read (nothing is overwritten silently)."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise StoreError("title: 1 to 200 characters")
    checked = spec.validate(definition)
    with conn.transaction():
        board = get(conn, user, uid)
        if board is None:
            raise StoreError(f"no dashboard {uid!r}")
        if not can_edit(user, board):
            raise StoreError("only the owner or an administrator may change this dashboard")
        current = conn.execute(
            "SELECT version FROM ui.dashboard WHERE id = %s FOR UPDATE", (board.id,)
        ).fetchone()
        if current is None or current[0] != version:
            raise StoreError(
                f"this dashboard was saved by someone else meanwhile (version "
                f"{current[0] if current else '?'}, you edited {version}); reload it first"
            )
        _check_enterprise(conn, user, enterprise_id)
        registers.update(
            conn,
            actor(user),
            "dashboard",
            board.id,
            {
                "title": title,
                "shared": shared or board.owner_id is None,
                "enterprise_id": enterprise_id,
                "definition": Jsonb(checked),
                "version": version + 1,
            },
        )
    return version + 1


def duplicate(conn: psycopg.Connection, user: WebUser, uid: str, suffix: str = " (副本)") -> str:
    """A private copy owned by ``user``."""
    board = get(conn, user, uid)
    if board is None:
        raise StoreError(f"no dashboard {uid!r}")
    return create(
        conn,
        user,
        (board.title + suffix)[:200],
        board.definition,
        enterprise_id=board.enterprise_id,
        reason=f"copy of {uid}",
    )


def delete(conn: psycopg.Connection, user: WebUser, uid: str) -> None:
    board = get(conn, user, uid)
    if board is None:
        raise StoreError(f"no dashboard {uid!r}")
    if not can_edit(user, board):
        raise StoreError("only the owner or an administrator may delete this dashboard")
    registers.delete(conn, actor(user), "dashboard", board.id)


def export_document(board: Dashboard) -> dict[str, Any]:
    return spec.export_document(board.uid, board.title, board.definition)


def import_document(conn: psycopg.Connection, user: WebUser, text: str | bytes) -> str:
    """Create a dashboard from an exported file; the uid is kept when it is free."""
    uid, title, definition = spec.parse_import(text)
    return create(conn, user, title, definition, uid=uid, reason="import")


def provision(
    conn: psycopg.Connection,
    uid: str,
    title: str,
    definition: Mapping[str, Any],
    enterprise_id: int | None = None,
) -> bool:
    """A shared dashboard of the platform (no owner), created once; True when created."""
    if conn.execute("SELECT 1 FROM ui.dashboard WHERE uid = %s", (uid,)).fetchone():
        return False
    registers.insert(
        conn,
        registers.SYSTEM,
        "dashboard",
        {
            "uid": uid,
            "title": title,
            "owner_id": None,
            "shared": True,
            "enterprise_id": enterprise_id,
            "definition": Jsonb(spec.validate(definition)),
        },
        reason="provisioned",
    )
    return True
