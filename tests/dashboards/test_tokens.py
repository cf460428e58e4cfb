"""API tokens: hashing, roles, revocation, the throttled last-used stamp, the audit trail, and
``hazwatch token create | list | revoke`` through the real console script."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from hazwatch import tokens
from hazwatch.registers import Actor, RegisterError
from tests.conftest import run_cli

ADMIN = Actor(None, "test")


def _name() -> str:
    return f"tok-{uuid.uuid4().hex[:10]}"


def test_only_the_hash_is_stored_and_the_audit_log_hides_it(conn: psycopg.Connection) -> None:
    name = _name()
    secret = tokens.create_token(conn, ADMIN, name, "ingest")
    assert secret.startswith("hzw_") and len(secret) == 47
    row = conn.execute(
        "SELECT token_sha256, role, enterprise_id FROM auth.api_token WHERE name = %s", (name,)
    ).fetchone()
    assert row == (tokens.token_hash(secret), "ingest", None)
    audit = conn.execute(
        "SELECT actor, action, after::text FROM audit.log WHERE entity = 'auth.api_token'"
        " AND after ->> 'name' = %s",
        (name,),
    ).fetchall()
    assert [(a, b) for a, b, _ in audit] == [("test", "insert")]
    assert tokens.token_hash(secret) not in audit[0][2] and secret not in audit[0][2]


def test_verify_checks_role_and_revocation(conn: psycopg.Connection) -> None:
    name = _name()
    secret = tokens.create_token(conn, ADMIN, name, "exchange")
    info = tokens.verify_token(conn, secret, "exchange")
    assert info is not None and (info.name, info.role) == (name, "exchange")
    assert tokens.verify_token(conn, secret, "ingest") is None
    assert tokens.verify_token(conn, secret + "x", "exchange") is None
    assert tokens.verify_token(conn, "not-ours", "exchange") is None
    assert tokens.lookup_token(conn, secret) is not None  # any role
    tokens.revoke_token(conn, ADMIN, name, reason="rotated")
    assert tokens.lookup_token(conn, secret) is None
    assert tokens.verify_token(conn, secret, "exchange") is None
    with pytest.raises(RegisterError, match="already revoked"):
        tokens.revoke_token(conn, ADMIN, name)
    with pytest.raises(RegisterError, match="no token named"):
        tokens.revoke_token(conn, ADMIN, _name())
    reason = conn.execute(
        "SELECT reason FROM audit.log WHERE entity = 'auth.api_token' AND action = 'update'"
        " AND after ->> 'name' = %s AND after ->> 'revoked_at' IS NOT NULL",
        (name,),
    ).fetchone()
    assert reason == ("rotated",)


def test_last_used_is_stamped_at_most_once_a_minute(conn: psycopg.Connection) -> None:
    name = _name()
    secret = tokens.create_token(conn, ADMIN, name, "ingest")

    def stamps() -> tuple[object, int]:
        row = conn.execute(
            "SELECT t.last_used_at, (SELECT count(*) FROM audit.log a WHERE a.entity ="
            " 'auth.api_token' AND a.entity_id = t.id::text) FROM auth.api_token t"
            " WHERE t.name = %s",
            (name,),
        ).fetchone()
        assert row is not None
        return row[0], int(row[1])

    assert stamps() == (None, 1)
    assert tokens.verify_token(conn, secret, "ingest") is not None
    first, audits = stamps()
    # Usage stamps alone are not audited (sql/definitions/registry.sql: '~last_used_at').
    assert first is not None and audits == 1
    for _ in range(3):
        assert tokens.verify_token(conn, secret, "ingest") is not None
    assert stamps() == (first, 1)  # no write
    # a stale copy of the row (another process read it earlier) does not write twice either
    info = tokens.lookup_token(conn, secret)
    assert info is not None
    stale = tokens.TokenInfo(info.id, info.name, info.role, None, None, None)
    assert tokens.touch_token(conn, stale) is False
    conn.execute(
        "UPDATE auth.api_token SET last_used_at = now() - interval '2 minutes' WHERE name = %s",
        (name,),
    )
    assert tokens.verify_token(conn, secret, "ingest") is not None
    later, _ = stamps()
    assert later is not None and later > first  # type: ignore[operator]
    used = conn.execute(
        "SELECT count(*) FROM audit.log WHERE entity = 'auth.api_token'"
        " AND entity_id = %s::text AND action = 'update'",
        (info.id,),
    ).fetchone()
    assert used == (0,)  # a day of use is not 1,440 audit rows


@pytest.mark.parametrize(
    ("name", "role", "kwargs", "message"),
    [
        ("ok-name", "admin", {}, "unknown token role"),
        ("bad name", "ingest", {}, "bad token name"),
        ("-x", "ingest", {}, "bad token name"),
        ("ok-name", "regulator", {}, "needs --region"),
        ("ok-name", "ingest", {"enterprise": "no such enterprise"}, "no enterprise"),
    ],
)
def test_refused_tokens(
    conn: psycopg.Connection, name: str, role: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(RegisterError, match=message):
        tokens.create_token(conn, ADMIN, name, role, **kwargs)


def test_names_are_unique(conn: psycopg.Connection) -> None:
    name = _name()
    tokens.create_token(conn, ADMIN, name, "ingest")
    with pytest.raises(RegisterError, match="already exists"):
        tokens.create_token(conn, ADMIN, name, "exchange")


# -- the command line ---------------------------------------------------------------------------


def test_token_commands(db_url: str, tmp_path: Path, conn: psycopg.Connection) -> None:
    env = {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)}
    name = _name()
    r = run_cli("token", "create", "--name", name, "--role", "regulator", "--region", "太原市",
                env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    secret = r.stdout.strip().splitlines()[-1]
    assert f"created token {name} (role regulator, region 太原市)" in r.stderr
    info = tokens.verify_token(conn, secret, "regulator")
    assert info is not None and info.region_id is not None

    r = run_cli("token", "create", "--name", _name(), "--role", "ingest", env=env)
    assert r.returncode == 0, r.stderr
    assert "writes with this token are refused (422)" in r.stderr

    r = run_cli("token", "list", env=env)
    assert r.returncode == 0, r.stderr
    mine = [line for line in r.stdout.splitlines() if line.startswith(name + " ")]
    assert len(mine) == 1 and "regulator" in mine[0] and "太原市" in mine[0]
    assert mine[0].endswith("active") and secret not in r.stdout

    r = run_cli("token", "revoke", name, "--reason", "test", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("token", "list", env=env)
    [line] = [line for line in r.stdout.splitlines() if line.startswith(name + " ")]
    assert " revoked 20" in line and not line.endswith("active")

    r = run_cli("token", "revoke", name, env=env)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: token '{name}' was already revoked at ")
    r = run_cli("token", "create", "--name", _name(), "--role", "ingest", "--enterprise",
                "no such enterprise", env=env)  # fmt: skip
    assert r.returncode == 1 and r.stderr.startswith("error: no enterprise with id")
    r = run_cli("token", "create", "--name", _name(), "--role", "root", env=env)
    assert r.returncode == 2
