"""API tokens for machine clients: line-protocol agents (``ingest``), regulators' REST clients
(``regulator``) and upward exchange (``exchange``). Only a SHA-256 of a token is stored.

    token = create_token(conn, actor, "telegraf-unit1", "ingest", enterprise="山西金荣石化有限公司")
    info = verify_token(conn, token, "ingest")   # TokenInfo(...), or None
    revoke_token(conn, actor, "telegraf-unit1")

A token is ``hzw_`` and 43 URL-safe characters (256 random bits), shown once at creation. Its
hash needs no salt and no slow KDF: the secret is random, not a password, so a hash lookup is
as strong as the secret and costs one index probe per request. Creation and
revocation go through the register helper (``hazwatch.registers``), so the audit log names who
did it; the hash never reaches the log (the trigger hides ``token_sha256``), and the
``last_used_at`` usage stamp alone is not audited.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args

import psycopg

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError

Role = Literal["ingest", "regulator", "exchange"]
ROLES: Final[tuple[str, ...]] = get_args(Role)
PREFIX: Final = "hzw_"
#: ``last_used_at`` is written at most this often per token: an audited write per request
#: would cost more than the request.
TOUCH_EVERY: Final = timedelta(seconds=60)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$")


@dataclass(frozen=True)
class TokenInfo:
    """A token that is not revoked, as its row says (never the secret or its hash)."""

    id: int
    name: str
    role: str
    enterprise_id: int | None
    region_id: int | None
    last_used_at: datetime | None


def token_hash(token: str) -> str:
    """The hex SHA-256 stored for ``token``.

    >>> token_hash("hzw_x")[:16]
    '72067b38a4fee9a9'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    conn: psycopg.Connection,
    actor: Actor,
    name: str,
    role: str,
    enterprise: str | None = None,
    region: str | None = None,
) -> str:
    """Create a token and return its secret (the only time it is available).

    ``enterprise`` and ``region`` are ids, codes or exact names. Regulators need a region
    (the area they oversee), as regulator users do.
    """
    if role not in ROLES:
        raise RegisterError(f"unknown token role {role!r}; one of {', '.join(ROLES)}")
    if not _NAME.match(name):
        raise RegisterError(
            f"bad token name {name!r}: 1-64 letters, digits or _ . @ : -, starting with a "
            "letter or digit"
        )
    if role == "regulator" and region is None:
        raise RegisterError("a regulator token needs --region (the area it oversees)")
    taken = conn.execute("SELECT 1 FROM auth.api_token WHERE name = %s", (name,)).fetchone()
    if taken:
        raise RegisterError(f"a token named {name!r} already exists")
    enterprise_id = registers.resolve(conn, "enterprise", enterprise) if enterprise else None
    region_id = registers.resolve(conn, "region", region) if region else None
    token = PREFIX + secrets.token_urlsafe(32)
    registers.insert(
        conn,
        actor,
        "api_token",
        {"name": name, "role": role, "token_sha256": token_hash(token),
         "enterprise_id": enterprise_id, "region_id": region_id},
        reason="token created",
    )  # fmt: skip
    return token


def lookup_token(conn: psycopg.Connection, token: str) -> TokenInfo | None:
    """The token's row when it exists and is not revoked, else None. Changes nothing."""
    if not token.startswith(PREFIX):
        return None  # not one of ours: no query
    row = conn.execute(
        "SELECT id, name, role, enterprise_id, region_id, last_used_at FROM auth.api_token"
        " WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_hash(token),),
    ).fetchone()
    return TokenInfo(*row) if row else None


def touch_token(conn: psycopg.Connection, info: TokenInfo) -> bool:
    """Stamp ``last_used_at`` unless it was stamped less than ``TOUCH_EVERY`` ago.

    Returns whether it wrote. The test on this process's clock saves the transaction on
    almost every request; the same test in SQL, on the database's clock, decides, so that
    concurrent requests of one token write once.
    """
    recent = datetime.now(UTC) - TOUCH_EVERY
    if info.last_used_at is not None and info.last_used_at > recent:
        return False
    with registers.acting(conn, Actor(None, f"token:{info.name}"), "token used"):
        cur = conn.execute(
            "UPDATE auth.api_token SET last_used_at = now() WHERE id = %s AND revoked_at IS NULL"
            " AND (last_used_at IS NULL OR last_used_at < now() - %s)",
            (info.id, TOUCH_EVERY),
        )
    return cur.rowcount > 0


def verify_token(conn: psycopg.Connection, token: str, role: str) -> TokenInfo | None:
    """The token's info when it is valid, not revoked and has ``role``; else None.

    Callers that must tell "who are you" (401) from "not allowed" (403) use ``lookup_token``
    and compare the role themselves, then ``touch_token``.
    """
    info = lookup_token(conn, token)
    if info is None or info.role != role:
        return None
    touch_token(conn, info)
    return info


def revoke_token(
    conn: psycopg.Connection, actor: Actor, name: str, reason: str | None = None
) -> datetime:
    """Revoke the token named ``name``; return when. Unknown or already revoked: RegisterError."""
    row = conn.execute(
        "SELECT id, revoked_at FROM auth.api_token WHERE name = %s", (name,)
    ).fetchone()
    if row is None:
        raise RegisterError(f"no token named {name!r}")
    if row[1] is not None:
        raise RegisterError(f"token {name!r} was already revoked at {row[1]:%Y-%m-%d %H:%M:%S%z}")
    done = registers.update(
        conn, actor, "api_token", row[0], {"revoked_at": datetime.now(UTC)},
        reason=reason or "token revoked",
    )  # fmt: skip
    return done["revoked_at"]


@dataclass(frozen=True)
class TokenRow:
    """One line of ``hazwatch token list``."""

    name: str
    role: str
    enterprise: str | None
    region: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_tokens(conn: psycopg.Connection) -> list[TokenRow]:
    """Every token, oldest first, with enterprise and region names."""
    rows = conn.execute(
        "SELECT t.name, t.role, e.name, r.name, t.created_at, t.last_used_at, t.revoked_at"
        " FROM auth.api_token t LEFT JOIN registry.enterprise e ON e.id = t.enterprise_id"
        " LEFT JOIN registry.region r ON r.id = t.region_id ORDER BY t.created_at, t.id"
    ).fetchall()
    return [TokenRow(*r) for r in rows]
