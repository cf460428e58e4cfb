"""Scans and photos on archive rows (personnel, certificates, qualifications, incidents): who
may add and read them, type and size limits, and the scoped look-ups behind the upload control
and the download route of the archive screens. Files are stored by ``archive.attach`` (sha256
named, under the settings home); every look-up here carries the user's scope in its SQL.

    target = row_target(conn, "contractor_certificate", 12)     # Target(entity, id, company)
    aid = upload(conn, user, target, "证书.jpg", data, home=home)  # ContractorError when refused
    attachments(conn, user, target)                              # [{"id", "file_name", ...}]
    meta = readable(conn, user, attachment_id)                   # None: not found or not yours

``user`` is the signed-in web user: ``id``, ``name``, ``role`` and a ``scope`` with
``condition`` / ``company_condition`` (``dashboards.auth.Scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql

from hazwatch.registers import Actor
from workflows.approval_files import check
from workflows.approval_flow import ApprovalError
from workflows.contractors.archive import ContractorError, attach

#: Archive screens with attachments → (entity, SQL giving a row's entity id and company).
ATTACHABLE: Final[dict[str, tuple[str, str]]] = {
    "contractor_personnel": (
        "person",
        "SELECT t.person_id, t.company_id FROM contractor.employment t WHERE t.id = %s",
    ),
    "contractor_certificate": (
        "certificate",
        "SELECT t.id, e.company_id FROM contractor.certificate t JOIN LATERAL ("
        " SELECT e.company_id FROM contractor.employment e WHERE e.person_id = t.person_id"
        " ORDER BY e.status, e.id LIMIT 1) e ON TRUE WHERE t.id = %s",
    ),
    "contractor_qualification": (
        "qualification",
        "SELECT t.id, t.company_id FROM contractor.qualification t WHERE t.id = %s",
    ),
    "contractor_incident": (
        "incident",
        "SELECT t.id, t.company_id FROM contractor.incident t WHERE t.id = %s",
    ),
}
#: What a contractor account may attach and read: its people's scans and certificates (C8).
CONTRACTOR_ENTITIES: Final = frozenset({"person", "certificate"})
WRITERS: Final = frozenset({"admin", "contractor"})
READERS: Final = frozenset({"admin", "engineer", "operator", "regulator", "contractor"})
#: Scans and photos only, smaller than the approval engine's limit.
TYPES: Final = (".pdf", ".png", ".jpg", ".jpeg")
MAX_BYTES: Final = 10 * 1024 * 1024


class ScopeLike(Protocol):
    def condition(self, column: str) -> tuple[sql.Composable, tuple[Any, ...]]: ...

    def company_condition(self, column: str) -> tuple[sql.Composable, tuple[Any, ...]]: ...


class UserLike(Protocol):
    id: int
    name: str
    role: str

    @property
    def scope(self) -> ScopeLike: ...


@dataclass(frozen=True)
class Target:
    """The archive row an attachment belongs to."""

    entity: str
    entity_id: int
    company_id: int


def file_problem(name: str, data: bytes) -> str | None:
    """Why ``data`` named ``name`` is no acceptable scan or photo (type, size, content), or
    None. Pure.

    >>> file_problem("a.exe", b"MZ")
    'a.exe: only .pdf, .png, .jpg, .jpeg'
    """
    ext = Path(name).suffix.lower()
    if ext not in TYPES:
        return f"{name}: only {', '.join(TYPES)}"
    if len(data) > MAX_BYTES:
        return f"{name}: {len(data) / 1048576:.1f} MiB is over the {MAX_BYTES // 1048576} MiB limit"
    try:
        check(name, data)  # the content must be what the name says
    except ApprovalError as exc:
        return str(exc)
    return None


def may_write(role: str, entity: str) -> bool:
    return role in WRITERS and (role != "contractor" or entity in CONTRACTOR_ENTITIES)


def may_read(role: str, entity: str) -> bool:
    return role in READERS and (role != "contractor" or entity in CONTRACTOR_ENTITIES)


def _in_scope(conn: psycopg.Connection, user: UserLike, company_id: int) -> bool:
    ent, ent_params = user.scope.condition("c.enterprise_id")
    own, own_params = user.scope.company_condition("c.id")
    stmt = sql.SQL("SELECT 1 FROM contractor.company c WHERE c.id = %s AND {} AND {}")
    found = conn.execute(stmt.format(ent, own), [company_id, *ent_params, *own_params])
    return found.fetchone() is not None


def row_target(conn: psycopg.Connection, spec_key: str, row_id: int) -> Target | None:
    """What a grid row of ``spec_key`` attaches to; None for other screens or missing rows."""
    if spec_key not in ATTACHABLE:
        return None
    entity, query = ATTACHABLE[spec_key]
    row = conn.execute(query, (row_id,)).fetchone()  # type: ignore[arg-type]  # from above
    return None if row is None else Target(entity, int(row[0]), int(row[1]))


def visible_target(
    conn: psycopg.Connection, user: UserLike, spec_key: str, row_id: int
) -> Target | None:
    """``row_target`` when ``user`` may read that row's attachments, else None."""
    target = row_target(conn, spec_key, row_id)
    if target is None or not may_read(user.role, target.entity):
        return None
    return target if _in_scope(conn, user, target.company_id) else None


def upload(
    conn: psycopg.Connection, user: UserLike, target: Target, name: str, data: bytes, *, home: Path
) -> int:
    """Check and store a file on ``target``; its attachment id (audited insert)."""
    if not may_write(user.role, target.entity) or not _in_scope(conn, user, target.company_id):
        raise ContractorError("attachments of this record may not be added by this account")
    problem = file_problem(name, data)
    if problem is not None:
        raise ContractorError(problem)
    actor = Actor(user.id, user.name)
    return attach(
        conn, actor, target.company_id, target.entity, target.entity_id, name, data, home=home
    )


_FIELDS: Final = ("id", "file_name", "content_type", "size_bytes", "sha256", "created_at")


def attachments(conn: psycopg.Connection, user: UserLike, target: Target) -> list[dict[str, Any]]:
    """The attachments of ``target`` that ``user`` may read, newest first."""
    if not may_read(user.role, target.entity) or not _in_scope(conn, user, target.company_id):
        return []
    rows = conn.execute(
        "SELECT id, file_name, content_type, size_bytes, sha256, created_at"
        " FROM contractor.attachment WHERE entity = %s AND entity_id = %s AND company_id = %s"
        " ORDER BY created_at DESC, id DESC",
        (target.entity, target.entity_id, target.company_id),
    ).fetchall()
    return [dict(zip(_FIELDS, r, strict=True)) for r in rows]


def readable(conn: psycopg.Connection, user: UserLike, attachment_id: int) -> dict[str, Any] | None:
    """An attachment's record when ``user`` may download it; None otherwise (the caller answers
    404 either way, so a forged id tells nothing about other companies)."""
    ent, ent_params = user.scope.condition("c.enterprise_id")
    own, own_params = user.scope.company_condition("c.id")
    stmt = sql.SQL(
        "SELECT a.id, a.file_name, a.content_type, a.size_bytes, a.sha256, a.created_at,"
        " a.entity FROM contractor.attachment a JOIN contractor.company c ON c.id = a.company_id"
        " WHERE a.id = %s AND {} AND {}"
    ).format(ent, own)
    row = conn.execute(stmt, [attachment_id, *ent_params, *own_params]).fetchone()
    if row is None or not may_read(user.role, str(row[6])):
        return None
    return dict(zip(_FIELDS, row[:6], strict=True))
