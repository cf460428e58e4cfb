"""Users, roles and password hashes (argon2id via argon2-cffi).

user_id = create_user(conn, SYSTEM, name="li.wei", role="engineer", password="…",
                      enterprise="山西金荣石化有限公司")
verify_login(conn, "li.wei", "…")      # -> user id, or None
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError

Role = Literal["admin", "engineer", "operator", "contractor", "regulator"]
ROLES: Final[tuple[str, ...]] = get_args(Role)
MIN_PASSWORD = 8

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RegisterError(f"password too short: at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise RegisterError("password must not start or end with whitespace")


def create_user(
    conn: psycopg.Connection,
    actor: Actor,
    *,
    name: str,
    role: str,
    password: str,
    enterprise: str | None = None,
    region: str | None = None,
    display_name: str | None = None,
    company: str | None = None,
) -> int:
    """Create a user; regulators need a region, contractors an enterprise and their company
    (``company``: id, credit code or exact name of a ``contractor.company`` of that host)."""
    if role not in ROLES:
        raise RegisterError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "regulator" and region is None:
        raise RegisterError("a regulator needs --region (the area it oversees, e.g. 太原市)")
    if role == "contractor" and enterprise is None:
        raise RegisterError("a contractor needs --enterprise (the site it works at)")
    if role == "contractor" and company is None:
        raise RegisterError("a contractor needs --company (its contractor company)")
    if role != "contractor" and company is not None:
        raise RegisterError("only contractor accounts belong to a contractor company")
    validate_password(password)
    taken = conn.execute(
        "SELECT 1 FROM auth.app_user WHERE lower(name) = lower(%s)", (name,)
    ).fetchone()
    if taken:
        raise RegisterError(f"a user named {name!r} already exists")
    values: dict[str, object] = {
        "name": name,
        "role": role,
        "password_hash": hash_password(password),
        "display_name": display_name,
    }
    if enterprise is not None:
        values["enterprise_id"] = registers.resolve(conn, "enterprise", enterprise)
    if region is not None:
        values["region_id"] = registers.resolve(conn, "region", region)
    if company is not None:
        values["contractor_company_id"] = _company_id(conn, company, values["enterprise_id"])
    return registers.insert(conn, actor, "app_user", values)


def _company_id(conn: psycopg.Connection, ref: str, enterprise_id: object) -> int:
    rows = conn.execute(
        "SELECT id FROM contractor.company WHERE enterprise_id = %s"
        " AND (id::text = %s OR credit_code = upper(%s) OR name = %s)",
        (enterprise_id, ref, ref, ref),
    ).fetchall()
    if len(rows) != 1:
        raise RegisterError(f"no contractor company {ref!r} at that enterprise (id, code or name)")
    return int(rows[0][0])


def verify_login(conn: psycopg.Connection, name: str, password: str) -> int | None:
    """The user's id when the password is right and the account active, else None."""
    row = conn.execute(
        "SELECT id, password_hash FROM auth.app_user WHERE lower(name) = lower(%s) AND active",
        (name,),
    ).fetchone()
    if row is None or not check_password(row[1], password):
        return None
    return int(row[0])
