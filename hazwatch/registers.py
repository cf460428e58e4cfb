"""The one way Python code changes a register, so every change is attributed in the audit log.

Table and column names come from the ``REGISTERS`` catalogue below, never from input; values
are always parameters. The database triggers (``sql/definitions/audit.sql``) write the audit row;
this module tells them who acted and why, inside the same transaction.

    actor = Actor(id=1, name="admin")
    tag_id = insert(conn, actor, "tag", {"enterprise_id": 3, "name": "FIC101"})
    update(conn, actor, "tag", tag_id, {"eng_unit": "m3/h"}, reason="ledger review")
    delete(conn, actor, "tag", tag_id)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from hazwatch.errors import HazwatchError


class RegisterError(HazwatchError):
    """A register change that was refused, with the reason in words a user understands."""


@dataclass(frozen=True)
class Actor:
    id: int | None
    name: str


SYSTEM = Actor(id=None, name="system")


@dataclass(frozen=True)
class Register:
    schema: str
    table: str
    columns: frozenset[str]
    #: Columns whose values are Python structures stored as jsonb (wrapped on the way in).
    json_columns: frozenset[str] = frozenset()

    @property
    def qualified(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.table))


def _reg(schema: str, table: str, *columns: str) -> Register:
    return Register(schema, table, frozenset(columns))


REGISTERS: dict[str, Register] = {
    r.table: r
    for r in (
        _reg("registry", "region", "code", "name", "level", "parent_id"),
        _reg(
            "registry",
            "enterprise",
            "code",
            "name",
            "region_id",
            "major_hazard_level",
            "batch",
            "deployments",
            "is_reference",
            "credit_code",
            "address",
            "contact",
            "phone",
            "latitude",
            "longitude",
        ),
        _reg("registry", "department", "enterprise_id", "parent_id", "name"),
        _reg(
            "registry",
            "unit",
            "enterprise_id",
            "department_id",
            "parent_id",
            "code",
            "name",
            "kind",
            "hazard_code",
            "hazardous_process",
            "major_hazard_level",
        ),
        _reg(
            "registry",
            "equipment",
            "unit_id",
            "code",
            "name",
            "kind",
            "pump_scope",
            "medium",
            "medium_temp_c",
            "rated_speed_rpm",
            "rated_power_kw",
            "manufacturer",
            "model",
            "bearing_de",
            "bearing_nde",
            "installed_on",
            "next_inspection_date",
        ),
        _reg("registry", "shift_team", "enterprise_id", "name"),
        _reg("registry", "shift", "enterprise_id", "shift_team_id", "during"),
        _reg(
            "registry",
            "tag",
            "enterprise_id",
            "unit_id",
            "equipment_id",
            "name",
            "description",
            "eng_unit",
            "range_low",
            "range_high",
            "kind",
            "source",
            "source_address",
        ),
        _reg(
            "registry",
            "alarm_point",
            "tag_id",
            "condition",
            "limit_value",
            "priority",
            "category",
            "deadband",
            "on_delay_s",
            "off_delay_s",
            "enabled",
            "is_interlock",
            "cause",
            "consequence",
            "response",
            "response_s",
        ),
        _reg(
            "registry",
            "gateway",
            "enterprise_id",
            "code",
            "name",
            "protocol",
            "host",
            "port",
            "location",
        ),
        _reg(
            "registry",
            "sensor",
            "enterprise_id",
            "gateway_id",
            "equipment_id",
            "code",
            "kind",
            "measurement_point",
            "serial",
            "installed_on",
            "calibration_due",
        ),
        _reg(
            "registry",
            "camera",
            "enterprise_id",
            "unit_id",
            "nvr_id",
            "code",
            "name",
            "kind",
            "stream_url",
            "username",
            "secret_enc",
            "codec",
            "location",
            "enabled",
        ),
        _reg(
            "auth",
            "app_user",
            "name",
            "display_name",
            "role",
            "enterprise_id",
            "region_id",
            "password_hash",
            "active",
            "last_login_at",
            "email",
            "phone",
            "contractor_company_id",
        ),
        _reg(
            "auth",
            "api_token",
            "name",
            "role",
            "token_sha256",
            "enterprise_id",
            "region_id",
            "last_used_at",
            "revoked_at",
        ),
        _reg("workflow", "user_group", "enterprise_id", "code", "name", "description"),
        _reg("workflow", "user_group_member", "group_id", "user_id"),
        _reg("exchange", "peer_key", "token_id", "public_key"),
        _reg(
            "contractor",
            "company",
            "enterprise_id",
            "name",
            "credit_code",
            "category",
            "legal_representative",
            "contact_person",
            "phone",
            "address",
            "qualification_summary",
            "status",
        ),
        _reg(
            "ui",
            "dashboard",
            "uid",
            "title",
            "owner_id",
            "shared",
            "enterprise_id",
            "definition",
            "version",
        ),
    )
}


def add_registers(registers: Mapping[str, Register]) -> None:
    """Add a domain's registers to the catalogue so the audited writes know them.

    >>> add_registers({"alert_rule": Register("workflow", "alert_rule", frozenset({"code"}))})

    Adding the same definition again is a no-op; a name taken by another register is refused.
    """
    for name, reg in registers.items():
        known = REGISTERS.setdefault(name, reg)
        if known != reg:
            raise RegisterError(f"register name {name!r} is taken by {known.schema}.{known.table}")


def register(name: str) -> Register:
    try:
        return REGISTERS[name]
    except KeyError:
        raise RegisterError(f"no register named {name!r}") from None


def resolve(conn: psycopg.Connection, name: str, ref: str) -> int:
    """A row of a register that has ``code`` and ``name`` columns, by id, code or exact name.

    >>> resolve(conn, "region", "太原市")   # or "140100", or its id
    """
    reg = register(name)
    query = sql.SQL("SELECT id FROM {} WHERE id::text = %s OR code = %s OR name = %s").format(
        reg.qualified
    )
    rows = conn.execute(query, (ref, ref, ref)).fetchall()
    if not rows:
        raise RegisterError(f"no {name} with id, code or name {ref!r}")
    if len(rows) > 1:
        raise RegisterError(f"{ref!r} matches {len(rows)} rows of {name}; use the id")
    return int(rows[0][0])


def _checked(reg: Register, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - reg.columns)
    if unknown:
        raise RegisterError(f"{reg.schema}.{reg.table} has no column {', '.join(unknown)}")
    if not values:
        raise RegisterError(f"no values given for {reg.schema}.{reg.table}")
    return {
        k: Jsonb(v) if k in reg.json_columns and v is not None else v for k, v in values.items()
    }


@contextmanager
def acting(conn: psycopg.Connection, actor: Actor, reason: str | None = None) -> Iterator[None]:
    """A transaction whose register changes are attributed to ``actor`` in the audit log."""
    with conn.transaction():
        conn.execute(
            "SELECT set_config('hazwatch.actor_id', %s, true),"
            " set_config('hazwatch.actor', %s, true), set_config('hazwatch.reason', %s, true)",
            ("" if actor.id is None else str(actor.id), actor.name, reason or ""),
        )
        yield


#: Refusals by the database that are about the values given, not about the code.
_REFUSALS = (psycopg.errors.IntegrityError, psycopg.errors.DataError)


def _refused(exc: psycopg.Error, reg: Register) -> RegisterError:
    """Turn a constraint violation or a bad value into a message naming what was broken."""
    diag = exc.diag
    what = diag.constraint_name or diag.column_name or ""
    detail = diag.message_detail or diag.message_primary or str(exc)
    return RegisterError(f"{reg.schema}.{reg.table}: {detail}" + (f" ({what})" if what else ""))


def insert(
    conn: psycopg.Connection,
    actor: Actor,
    name: str,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> int:
    """Insert one row; return its id."""
    reg = register(name)
    vals = _checked(reg, values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        reg.qualified,
        sql.SQL(", ").join(sql.Identifier(c) for c in vals),
        sql.SQL(", ").join(sql.Placeholder() for _ in vals),
    )
    try:
        with acting(conn, actor, reason):
            row = conn.execute(query, list(vals.values())).fetchone()
    except _REFUSALS as exc:
        raise _refused(exc, reg) from exc
    assert row is not None
    return int(row[0])


def update(
    conn: psycopg.Connection,
    actor: Actor,
    name: str,
    row_id: int,
    values: Mapping[str, Any],
    reason: str | None = None,
) -> dict[str, Any]:
    """Update one row by id; return it as it is now. Unknown ids are an error."""
    reg = register(name)
    vals = _checked(reg, values)
    query = sql.SQL("UPDATE {} SET {} WHERE id = {} RETURNING *").format(
        reg.qualified,
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder()) for c in vals
        ),
        sql.Placeholder(),
    )
    try:
        with acting(conn, actor, reason), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(query, [*vals.values(), row_id]).fetchone()
            if row is None:
                raise RegisterError(f"{reg.schema}.{reg.table} has no row with id {row_id}")
    except _REFUSALS as exc:
        raise _refused(exc, reg) from exc
    return row


def delete(
    conn: psycopg.Connection, actor: Actor, name: str, row_id: int, reason: str | None = None
) -> None:
    """Delete one row by id. Rows still referenced elsewhere are refused with the reason."""
    reg = register(name)
    query = sql.SQL("DELETE FROM {} WHERE id = %s").format(reg.qualified)
    try:
        with acting(conn, actor, reason):
            cur = conn.execute(query, (row_id,))
            if cur.rowcount == 0:
                raise RegisterError(f"{reg.schema}.{reg.table} has no row with id {row_id}")
    except _REFUSALS as exc:
        raise _refused(exc, reg) from exc
