"""Register changes go through one helper and always reach the audit log (non-negotiable 6)."""

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor, RegisterError

ADMIN = Actor(id=7, name="zhang.san")


def _enterprise(conn: psycopg.Connection) -> int:
    return registers.resolve(conn, "enterprise", "山西金荣石化有限公司")


def _audit(conn: psycopg.Connection, entity: str, key: int) -> list[tuple]:
    return conn.execute(
        "SELECT actor_id, actor, action, before, after, reason FROM audit.log"
        " WHERE entity = %s AND entity_id = %s ORDER BY id",
        (entity, str(key)),
    ).fetchall()


def test_insert_update_delete_are_audited_with_actor_and_reason(conn: psycopg.Connection) -> None:
    ent = _enterprise(conn)
    tag = registers.insert(conn, ADMIN, "tag", {"enterprise_id": ent, "name": "FIC-1001"})
    row = registers.update(
        conn, ADMIN, "tag", tag, {"eng_unit": "m3/h", "range_high": 120.0}, reason="台账复核"
    )
    assert row["eng_unit"] == "m3/h" and row["updated_at"] >= row["created_at"]
    registers.delete(conn, ADMIN, "tag", tag, reason="位号停用")
    log = _audit(conn, "registry.tag", tag)
    assert [a[2] for a in log] == ["insert", "update", "delete"]
    assert all(a[0] == 7 and a[1] == "zhang.san" for a in log)
    _, _, _, before, after, reason = log[1]
    assert before["eng_unit"] is None and after["eng_unit"] == "m3/h"
    assert after["range_high"] == 120.0 and reason == "台账复核"
    assert log[2][4] is None and log[2][3]["name"] == "FIC-1001" and log[2][5] == "位号停用"


def test_changes_outside_hazwatch_are_audited_too(conn: psycopg.Connection) -> None:
    ent = _enterprise(conn)
    tag = conn.execute(
        "INSERT INTO registry.tag (enterprise_id, name) VALUES (%s, 'PI-2001') RETURNING id",
        (ent,),
    ).fetchone()[0]
    log = _audit(conn, "registry.tag", tag)
    assert len(log) == 1 and log[0][0] is None and log[0][1].startswith("db:")


def test_no_op_update_is_not_logged(conn: psycopg.Connection) -> None:
    ent = _enterprise(conn)
    tag = registers.insert(conn, ADMIN, "tag", {"enterprise_id": ent, "name": "TI-3001"})
    registers.update(conn, ADMIN, "tag", tag, {"name": "TI-3001"})
    assert [a[2] for a in _audit(conn, "registry.tag", tag)] == ["insert"]


def test_audit_log_is_append_only(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("UPDATE audit.log SET actor = 'someone else'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("DELETE FROM audit.log")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("TRUNCATE audit.log")


def test_unknown_register_and_column_are_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(RegisterError, match="no register named 'tags'"):
        registers.insert(conn, ADMIN, "tags", {"name": "x"})
    with pytest.raises(RegisterError, match=r"registry\.tag has no column colour, evil"):
        registers.insert(conn, ADMIN, "tag", {"name": "x", "colour": "red", "evil": 1})
    with pytest.raises(RegisterError, match="has no row with id 999999"):
        registers.update(conn, ADMIN, "tag", 999999, {"name": "x"})
    with pytest.raises(RegisterError, match="has no row with id 999999"):
        registers.delete(conn, ADMIN, "tag", 999999)


def test_constraint_violations_name_the_rule(conn: psycopg.Connection) -> None:
    ent = _enterprise(conn)
    registers.insert(conn, ADMIN, "tag", {"enterprise_id": ent, "name": "LIC-4001"})
    with pytest.raises(RegisterError, match=r"already exists.*tag_enterprise_id_name_key"):
        registers.insert(conn, ADMIN, "tag", {"enterprise_id": ent, "name": "LIC-4001"})
    with pytest.raises(RegisterError, match="tag_check"):
        registers.insert(
            conn,
            ADMIN,
            "tag",
            {"enterprise_id": ent, "name": "LIC-4002", "range_low": 10, "range_high": 0},
        )
    with pytest.raises(RegisterError, match="still referenced"):
        registers.delete(conn, ADMIN, "enterprise", ent)


def test_values_are_parameters_not_sql(conn: psycopg.Connection) -> None:
    ent = _enterprise(conn)
    name = "x'); DROP TABLE registry.tag; --"
    tag = registers.insert(conn, ADMIN, "tag", {"enterprise_id": ent, "name": name})
    assert conn.execute("SELECT name FROM registry.tag WHERE id = %s", (tag,)).fetchone() == (name,)


def test_resolve_by_id_code_or_name(conn: psycopg.Connection) -> None:
    ty = registers.resolve(conn, "region", "太原市")
    assert (
        registers.resolve(conn, "region", "140100")
        == ty
        == registers.resolve(conn, "region", str(ty))
    )
    with pytest.raises(RegisterError, match="no region with id, code or name '北京市'"):
        registers.resolve(conn, "region", "北京市")


def test_usage_stamps_alone_are_not_audited(conn: psycopg.Connection) -> None:
    from hazwatch.tokens import create_token

    create_token(conn, ADMIN, "stamp-test", "ingest")
    tid = conn.execute("SELECT id FROM auth.api_token WHERE name = 'stamp-test'").fetchone()[0]
    conn.execute("UPDATE auth.api_token SET last_used_at = now() WHERE id = %s", (tid,))
    conn.execute("UPDATE auth.api_token SET revoked_at = now() WHERE id = %s", (tid,))
    log = _audit(conn, "auth.api_token", tid)
    assert [a[2] for a in log] == ["insert", "update"]  # the stamp alone left no row
    assert all("token_sha256" not in (a[4] or {}) for a in log)
    assert "last_used_at" not in log[1][4] and log[1][4]["revoked_at"] is not None
