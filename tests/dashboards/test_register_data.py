"""Register screens against the real database (D4, D3, C8): scoping in the SQL for
regulators, engineers and contractors, refused writes, errors on the field, imports all-or-
nothing or valid-rows-only, and contractor accounts bound to their company."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from dashboards.auth import WebUser, load_user
from dashboards.register_data import FieldErrors, Query, fetch_page, import_rows, save_cell
from dashboards.register_data import insert_row as add_row
from dashboards.register_specs import SPECS
from hazwatch import registers
from hazwatch.auth import create_user
from hazwatch.credit_code import check_character
from hazwatch.registers import Actor, RegisterError
from tests.conftest import make_enterprise, run_cli

TEST = Actor(None, "test")
PASSWORD = "correct-horse-9"


def credit_code() -> str:
    """A fresh valid credit code (random organisation part, computed check digit)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91140100" + "".join(alphabet[b % 31] for b in uuid.uuid4().bytes[:9])
    return body + check_character(body)


def user(conn: psycopg.Connection, role: str, **scope: str) -> WebUser:
    uid = create_user(
        conn, TEST, name=f"{role}-{uuid.uuid4().hex[:8]}", role=role, password=PASSWORD, **scope
    )
    found = load_user(conn, uid)
    assert found is not None
    return found


def unit(conn: psycopg.Connection, enterprise_id: int, name: str = "常减压装置") -> int:
    return registers.insert(
        conn,
        TEST,
        "unit",
        {"enterprise_id": enterprise_id, "code": f"U{uuid.uuid4().hex[:6]}", "name": name},
    )


def company(conn: psycopg.Connection, enterprise_id: int, name: str) -> int:
    return registers.insert(
        conn,
        TEST,
        "company",
        {
            "enterprise_id": enterprise_id,
            "name": f"{name}-{uuid.uuid4().hex[:6]}",
            "credit_code": credit_code(),
            "category": "maintenance",
        },
    )


def names(rows: list[dict[str, object]]) -> set[object]:
    return {r["name"] for r in rows}


def test_regulator_sees_its_city_and_cannot_write(conn: psycopg.Connection) -> None:
    ty_id, ty = make_enterprise(conn, "太原化工", city="太原市")
    dt_id, dt = make_enterprise(conn, "大同化工", city="大同市")
    ty_unit, dt_unit = unit(conn, ty_id, "太原装置"), unit(conn, dt_id, "大同装置")
    reg = user(conn, "regulator", region="太原市")
    ents, _ = fetch_page(conn, reg, SPECS["enterprise"], Query(search="化工"), page_size=500)
    assert ty in names(ents) and dt not in names(ents)
    units, _ = fetch_page(conn, reg, SPECS["unit"], Query(search="装置"), page_size=500)
    ids = {r["id"] for r in units}
    assert ty_unit in ids and dt_unit not in ids
    regions, _ = fetch_page(conn, reg, SPECS["region"], Query(), page_size=500)
    assert "太原市" in names(regions) and "大同市" not in names(regions)
    with pytest.raises(FieldErrors) as refused:
        save_cell(conn, reg, SPECS["unit"], ty_unit, "name", "改名")
    assert refused.value.errors == {"": "无权修改"}
    with pytest.raises(FieldErrors):
        add_row(conn, reg, SPECS["unit"], {"enterprise_id": ty, "code": "X1", "name": "x"})
    row = conn.execute("SELECT name FROM registry.unit WHERE id = %s", (ty_unit,)).fetchone()
    assert row == ("太原装置",)


def test_engineer_edits_units_of_its_enterprise_only(conn: psycopg.Connection) -> None:
    own_id, own = make_enterprise(conn, "本厂")
    other_id, _ = make_enterprise(conn, "他厂")
    own_unit, other_unit = unit(conn, own_id), unit(conn, other_id)
    eng = user(conn, "engineer", enterprise=own)
    row = save_cell(conn, eng, SPECS["unit"], own_unit, "name", "催化裂化装置")
    assert row["name"] == "催化裂化装置"
    audit = conn.execute(
        "SELECT actor_id, actor, before ->> 'name', after ->> 'name', reason FROM audit.log "
        "WHERE entity = 'registry.unit' AND entity_id = %s AND action = 'update'",
        (str(own_unit),),
    ).fetchone()
    assert audit == (eng.id, eng.name, "常减压装置", "催化裂化装置", "register screen")
    with pytest.raises(FieldErrors) as out_of_scope:
        save_cell(conn, eng, SPECS["unit"], other_unit, "name", "x")
    assert out_of_scope.value.errors == {"": "超出您的数据范围"}
    with pytest.raises(FieldErrors, match="无权修改"):
        save_cell(conn, eng, SPECS["enterprise"], own_id, "phone", "0351-1234567")
    # Moving a unit to an enterprise outside the scope is refused by the lookup.
    with pytest.raises(FieldErrors) as moved:
        save_cell(conn, eng, SPECS["unit"], own_unit, "enterprise_id", str(other_id))
    assert moved.value.errors == {"enterprise_id": "超出您的数据范围"}


def test_errors_land_on_their_field(conn: psycopg.Connection) -> None:
    ent_id, ent = make_enterprise(conn)
    admin = user(conn, "admin")
    spec = SPECS["contractor_company"]
    with pytest.raises(FieldErrors) as bad:
        add_row(
            conn,
            admin,
            spec,
            {"enterprise_id": ent, "name": "坏代码公司", "credit_code": "91350100M000100Y44",
             "category": "检维修", "phone": "abc"},
        )  # fmt: skip
    assert bad.value.errors == {
        "credit_code": "统一社会信用代码校验位错误：应为 3，实为 4",
        "phone": "电话号码格式不正确",
    }
    first = add_row(
        conn, admin, SPECS["unit"], {"enterprise_id": ent, "code": "U1", "name": "一", "kind": ""}
    )
    assert first["kind"] == "装置"  # the default applies to a blank cell
    with pytest.raises(FieldErrors) as dup:
        add_row(conn, admin, SPECS["unit"], {"enterprise_id": ent, "code": "U1", "name": "二"})
    assert list(dup.value.errors) == ["code"] and "U1" in dup.value.errors["code"]
    with pytest.raises(FieldErrors) as missing:
        add_row(conn, admin, SPECS["unit"], {"enterprise_id": ent, "name": "三", "parent_id": "无"})
    assert missing.value.errors == {"parent_id": "找不到“无”", "code": "必填"}
    assert conn.execute(
        "SELECT count(*) FROM registry.unit WHERE enterprise_id = %s", (ent_id,)
    ).fetchone() == (1,)


def test_contractor_sees_and_edits_only_its_company(conn: psycopg.Connection) -> None:
    host_id, host = make_enterprise(conn, "承包商宿主")
    own = company(conn, host_id, "自家检修")
    other = company(conn, host_id, "别家检修")
    unit(conn, host_id)
    own_name = conn.execute("SELECT name FROM contractor.company WHERE id = %s", (own,)).fetchone()
    who = user(conn, "contractor", enterprise=host, company=own_name[0])
    assert who.contractor_company_id == own and who.scope_label == own_name[0]
    spec = SPECS["contractor_company"]
    rows, total = fetch_page(conn, who, spec, Query(), page_size=500)
    assert total == 1 and [r["id"] for r in rows] == [own]
    assert fetch_page(conn, who, SPECS["unit"], Query())[1] == 0
    assert fetch_page(conn, who, SPECS["enterprise"], Query())[1] == 0
    saved = save_cell(conn, who, spec, own, "phone", "0351-7654321")
    assert saved["phone"] == "0351-7654321"
    with pytest.raises(FieldErrors, match="超出您的数据范围"):
        save_cell(conn, who, spec, other, "phone", "0351-1111111")
    with pytest.raises(FieldErrors, match="无权修改"):
        save_cell(conn, who, spec, own, "status", "exited")
    with pytest.raises(FieldErrors, match="无权修改"):
        import_rows(conn, who, spec, [(2, {"name": "x"})])
    phones = dict(conn.execute("SELECT id, phone FROM contractor.company WHERE id = ANY(%s)",
                               ([own, other],)).fetchall())  # fmt: skip
    assert phones == {own: "0351-7654321", other: None}


def test_import_all_or_nothing_and_valid_rows_only(conn: psycopg.Connection) -> None:
    ent_id, ent = make_enterprise(conn)
    admin = user(conn, "admin")
    spec = SPECS["unit"]
    rows = [
        (2, {"enterprise_id": ent, "code": "A1", "name": "甲", "kind": "装置"}),
        (3, {"enterprise_id": ent, "code": "A2", "name": "乙", "kind": "厂房"}),
        (4, {"enterprise_id": "没有这家企业", "code": "A3", "name": "丙", "kind": "装置"}),
    ]
    result = import_rows(conn, admin, spec, rows)
    assert not result.written and result.inserted == 0
    assert [(r, c) for r, c, _ in result.errors] == [(3, "类型"), (4, "企业")]
    count = "SELECT count(*) FROM registry.unit WHERE enterprise_id = %s"
    assert conn.execute(count, (ent_id,)).fetchone() == (0,)
    result = import_rows(conn, admin, spec, rows, valid_only=True)
    assert result.written and result.inserted == 1 and len(result.errors) == 2
    assert conn.execute(count, (ent_id,)).fetchone() == (1,)
    # The same key again updates the row instead of adding one.
    again = import_rows(conn, admin, spec, [(2, {"enterprise_id": ent, "code": "A1",
                                                 "name": "甲改", "kind": "装置"})])  # fmt: skip
    assert (again.inserted, again.updated, again.errors) == (0, 1, [])
    assert conn.execute(
        "SELECT name FROM registry.unit WHERE enterprise_id = %s", (ent_id,)
    ).fetchone() == ("甲改",)


def test_equipment_unit_codes_resolve_within_the_enterprise(conn: psycopg.Connection) -> None:
    a_id, a = make_enterprise(conn, "甲")
    b_id, _ = make_enterprise(conn, "乙")
    for ent in (a_id, b_id):  # the same unit code in two enterprises
        registers.insert(conn, TEST, "unit", {"enterprise_id": ent, "code": "U7", "name": "七"})
    admin = user(conn, "admin")
    row = add_row(
        conn, admin, SPECS["pump"],
        {"enterprise_id": a, "unit_id": "U7", "code": "P-101", "name": "进料泵",
         "pump_scope": "液化烃/C5"},
    )  # fmt: skip
    assert row["kind"] == "泵" and row["enterprise_id"] == a and row["pump_scope"] == "液化烃/C5"
    with pytest.raises(FieldErrors) as ambiguous:
        add_row(conn, admin, SPECS["pump"], {"unit_id": "U7", "code": "P-102", "name": "x"})
    assert ambiguous.value.errors["unit_id"] == "“U7”不唯一，请用编码"


def test_contractor_account_needs_its_company(conn: psycopg.Connection, db_url: str) -> None:
    host_id, host = make_enterprise(conn)
    company_id = company(conn, host_id, "安装公司")
    code = conn.execute(
        "SELECT credit_code FROM contractor.company WHERE id = %s", (company_id,)
    ).fetchone()[0]
    with pytest.raises(RegisterError, match="needs --company"):
        create_user(conn, TEST, name="c.nocompany", role="contractor", password=PASSWORD,
                    enterprise=host)  # fmt: skip
    with pytest.raises(RegisterError, match="only contractor accounts"):
        create_user(conn, TEST, name="e.company", role="engineer", password=PASSWORD,
                    enterprise=host, company=code)  # fmt: skip
    with pytest.raises(psycopg.errors.CheckViolation):  # the database holds the rule too
        conn.execute(
            "INSERT INTO auth.app_user (name, role, enterprise_id, password_hash) "
            "VALUES ('c.raw', 'contractor', %s, '$argon2id$x')",
            (host_id,),
        )
    name = f"c-{uuid.uuid4().hex[:6]}"
    out = run_cli(
        "user", "create", "--name", name, "--role", "contractor", "--enterprise", host,
        "--company", code.lower(), "--password-stdin",
        env={"HAZWATCH_DATABASE_URL": db_url}, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert conn.execute(
        "SELECT contractor_company_id FROM auth.app_user WHERE name = %s", (name,)
    ).fetchone() == (company_id,)
