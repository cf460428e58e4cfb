"""Users: argon2id hashes, role rules, login check; the hash never reaches the audit log."""

import psycopg
import pytest

from hazwatch import auth, registers
from hazwatch.registers import SYSTEM, RegisterError


def test_hash_is_argon2id_and_salted() -> None:
    a, b = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert a.startswith("$argon2id$") and a != b
    assert auth.check_password(a, "correct horse")
    assert not auth.check_password(a, "correct horsE")
    assert not auth.check_password("not-a-hash", "correct horse")


def test_create_and_login(conn: psycopg.Connection) -> None:
    uid = auth.create_user(
        conn,
        SYSTEM,
        name="wang.wu",
        role="engineer",
        password="s3cret-pass",
        enterprise="山西金荣石化有限公司",
    )
    assert auth.verify_login(conn, "WANG.WU", "s3cret-pass") == uid
    assert auth.verify_login(conn, "wang.wu", "wrong-pass") is None
    assert auth.verify_login(conn, "nobody", "s3cret-pass") is None
    stored = conn.execute(
        "SELECT password_hash FROM auth.app_user WHERE id = %s", (uid,)
    ).fetchone()[0]
    assert "s3cret-pass" not in stored
    logged = conn.execute(
        "SELECT after FROM audit.log WHERE entity = 'auth.app_user' AND entity_id = %s",
        (str(uid),),
    ).fetchone()[0]
    assert logged["name"] == "wang.wu" and "password_hash" not in logged


def test_password_change_is_logged_without_the_hash(conn: psycopg.Connection) -> None:
    uid = auth.create_user(conn, SYSTEM, name="zhao.liu", role="operator", password="first-pass")
    registers.update(
        conn, SYSTEM, "app_user", uid, {"password_hash": auth.hash_password("2nd-pass!")}
    )
    after = conn.execute(
        "SELECT after FROM audit.log WHERE entity = 'auth.app_user' AND entity_id = %s"
        " AND action = 'update'",
        (str(uid),),
    ).fetchone()[0]
    assert after["_hidden_changed"] == ["password_hash"] and "password_hash" not in after
    assert auth.verify_login(conn, "zhao.liu", "2nd-pass!") == uid


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "boss"}, "unknown role 'boss'"),
        ({"role": "regulator"}, "a regulator needs --region"),
        ({"role": "contractor"}, "a contractor needs --enterprise"),
        ({"role": "admin", "password": "short"}, "password too short"),
        ({"role": "admin", "password": " padded-pass "}, "whitespace"),
        ({"role": "engineer", "enterprise": "不存在的公司"}, "no enterprise with id, code or name"),
        ({"role": "regulator", "region": "北京市"}, "no region"),
    ],
)
def test_bad_user_input_is_refused_clearly(
    conn: psycopg.Connection, kwargs: dict[str, str], message: str
) -> None:
    args = {"name": "bad.input", "role": "admin", "password": "long-enough", **kwargs}
    with pytest.raises(RegisterError, match=message):
        auth.create_user(conn, SYSTEM, **args)


def test_duplicate_names_differ_only_in_case(conn: psycopg.Connection) -> None:
    auth.create_user(conn, SYSTEM, name="Chen.Qi", role="admin", password="long-enough")
    with pytest.raises(RegisterError, match="already exists"):
        auth.create_user(conn, SYSTEM, name="chen.qi", role="admin", password="long-enough")
