"""Approval definitions: per kind (optionally per enterprise and level), ordered steps with
approver groups/roles, deadlines and reminder intervals. Changed by administrators only;
every change is in the audit log (triggers in ``sql/definitions/approvals.sql``).

    def_id = save_definition(conn, admin, kind="alarm.ledger_change", level="high",
                             steps=[Step(1, "安全管理审批", ("safety_mgmt",), (), 24.0)])
    find_definition(conn, "alarm.ledger_change", enterprise_id=3, level="high")  # most specific
    delete_definition(conn, admin, def_id)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import psycopg

from hazwatch.registers import Actor, acting
from workflows.approval_flow import ApprovalError, Step, check_steps, resolve_definition

KIND_RE: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
LEVEL_RE: Final = re.compile(r"^[a-z0-9_]{0,32}$")


@dataclass(frozen=True)
class Definition:
    id: int
    kind: str
    enterprise_id: int | None
    level: str
    name: str | None
    active: bool
    steps: tuple[Step, ...]


_SELECT = """
SELECT d.id, d.kind, d.enterprise_id, d.level, d.name, d.active,
       coalesce(json_agg(json_build_object(
           'position', s.position, 'name', s.name, 'approver_groups', s.approver_groups,
           'approver_roles', s.approver_roles, 'deadline_hours', s.deadline_hours,
           'remind_every_hours', s.remind_every_hours) ORDER BY s.position)
         FILTER (WHERE s.id IS NOT NULL), '[]')
FROM workflow.approval_definition d
LEFT JOIN workflow.approval_step s ON s.definition_id = d.id
"""


def _definition(row: tuple) -> Definition:  # type: ignore[type-arg]
    def_id, kind, ent, level, name, active, steps = row
    return Definition(
        def_id, kind, ent, level, name, active, tuple(Step.from_json(s) for s in steps)
    )


def list_definitions(conn: psycopg.Connection, kind: str | None = None) -> list[Definition]:
    rows = conn.execute(
        _SELECT + " WHERE %(kind)s::text IS NULL OR d.kind = %(kind)s"
        " GROUP BY d.id ORDER BY d.kind, d.enterprise_id NULLS FIRST, d.level",
        {"kind": kind},
    ).fetchall()
    return [_definition(r) for r in rows]


def get_definition(conn: psycopg.Connection, definition_id: int) -> Definition:
    row = conn.execute(_SELECT + " WHERE d.id = %s GROUP BY d.id", (definition_id,)).fetchone()
    if row is None:
        raise ApprovalError(f"no approval definition with id {definition_id}")
    return _definition(row)


def find_definition(
    conn: psycopg.Connection, kind: str, enterprise_id: int | None, level: str | None
) -> Definition | None:
    """The active definition that governs a request (see ``resolve_definition``)."""
    rows = conn.execute(
        "SELECT id, enterprise_id, level FROM workflow.approval_definition"
        " WHERE kind = %s AND active AND (enterprise_id IS NULL OR enterprise_id = %s)",
        (kind, enterprise_id),
    ).fetchall()
    chosen = resolve_definition([tuple(r) for r in rows], enterprise_id, level or "")
    return None if chosen is None else get_definition(conn, chosen)


def require_admin(conn: psycopg.Connection, actor: Actor) -> None:
    """Definitions decide who approves what: administrators (or the system) only."""
    if actor.id is None:
        return
    row = conn.execute(
        "SELECT role FROM auth.app_user WHERE id = %s AND active", (actor.id,)
    ).fetchone()
    if row is None or row[0] != "admin":
        raise ApprovalError(f"{actor.name}: only administrators may change approval definitions")


def save_definition(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    kind: str,
    steps: Sequence[Step],
    enterprise_id: int | None = None,
    level: str = "",
    name: str | None = None,
    active: bool = True,
    definition_id: int | None = None,
) -> int:
    """Create (``definition_id`` None) or replace a definition; returns its id."""
    require_admin(conn, actor)
    kind = kind.strip()
    level = (level or "").strip()
    if not KIND_RE.match(kind) or len(kind) > 64:
        raise ApprovalError(f"kind {kind!r}: lower-case words joined by dots, e.g. alarm.exclusion")
    if not LEVEL_RE.match(level):
        raise ApprovalError(f"level {level!r}: up to 32 lower-case letters, digits or _")
    checked = check_steps(steps)
    reason = f"approval definition {kind}" + (f" ({level})" if level else "")
    try:
        with acting(conn, actor, reason):
            if definition_id is None:
                row = conn.execute(
                    "INSERT INTO workflow.approval_definition"
                    " (kind, enterprise_id, level, name, active)"
                    " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                    (kind, enterprise_id, level, name, active),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE workflow.approval_definition SET kind = %s, enterprise_id = %s,"
                    " level = %s, name = %s, active = %s WHERE id = %s RETURNING id",
                    (kind, enterprise_id, level, name, active, definition_id),
                ).fetchone()
                if row is None:
                    raise ApprovalError(f"no approval definition with id {definition_id}")
            def_id = int(row[0])
            for step in checked:
                # Upsert by position: an unchanged step writes no audit row.
                conn.execute(
                    """INSERT INTO workflow.approval_step (definition_id, position, name,
                           approver_groups, approver_roles, deadline_hours, remind_every_hours)
                       VALUES (%s, %s, %s, %s, %s, %s, %s)
                       ON CONFLICT (definition_id, position) DO UPDATE SET
                           name = EXCLUDED.name, approver_groups = EXCLUDED.approver_groups,
                           approver_roles = EXCLUDED.approver_roles,
                           deadline_hours = EXCLUDED.deadline_hours,
                           remind_every_hours = EXCLUDED.remind_every_hours""",
                    (
                        def_id,
                        step.position,
                        step.name,
                        list(step.approver_groups),
                        list(step.approver_roles),
                        step.deadline_hours,
                        step.remind_every_hours,
                    ),
                )
            conn.execute(
                "DELETE FROM workflow.approval_step WHERE definition_id = %s AND position > %s",
                (def_id, len(checked)),
            )
    except psycopg.errors.UniqueViolation:
        where = "every enterprise" if enterprise_id is None else f"enterprise {enterprise_id}"
        raise ApprovalError(
            f"a definition of {kind} for {where} and level {level or '(any)'} already exists;"
            " edit that one"
        ) from None
    except psycopg.errors.ForeignKeyViolation:
        raise ApprovalError(f"no enterprise with id {enterprise_id}") from None
    return def_id


def delete_definition(conn: psycopg.Connection, actor: Actor, definition_id: int) -> None:
    """Delete a definition and its steps; requests already under way keep their own copy."""
    require_admin(conn, actor)
    with acting(conn, actor, "approval definition deleted"):
        cur = conn.execute(
            "DELETE FROM workflow.approval_definition WHERE id = %s", (definition_id,)
        )
        if cur.rowcount == 0:
            raise ApprovalError(f"no approval definition with id {definition_id}")
