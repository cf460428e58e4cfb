"""The contractor archive screens (C1-C8) below the browser: the cell checks as pure functions,
the specs against the registers they write, and against the real database: a contractor sees
only its own company's personnel and no enterprise-only register, an admin's grid edit is
audited, the people import reports a bad ID-card number by row and never exports a clear
number, attachments are confined to the company and checked by type and content."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dashboards import i18n
from dashboards.auth import WebUser, load_user
from dashboards.register_data import Query, fetch_all, fetch_page, save_cell
from dashboards.register_specs import SPECS, can_edit, can_view, editable_columns
from dashboards.registers_io import export_table, read_table, write_csv
from hazwatch.auth import create_user
from hazwatch.registers import REGISTERS, Actor
from tests.workflows.contractors.site import PASSWORD, TEST, Site, id_number, make_site
from workflows.contractors import archive, archive_specs, attachments_ui
from workflows.contractors.archive import ContractorError, PersonInput
from workflows.contractors.archive_specs import (
    check_answer,
    check_id_number,
    check_moment,
    check_options,
    check_pass_mark,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# -- pure -------------------------------------------------------------------------------------


def test_cell_checks() -> None:
    good = id_number(7)
    assert check_id_number(" " + good[:6] + " " + good[6:].lower()) == (good, None)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    _, error = check_id_number(bad)
    assert error is not None and "身份证号无效" in error and "check digit" in error
    assert check_id_number("1234")[1] is not None
    moment, error = check_moment("2026-11-22 08:30")
    assert error is None and moment is not None
    assert (moment.utcoffset(), moment.hour) == (timedelta(hours=8), 8)
    assert check_moment("2026/11/22")[0] == datetime(2026, 11, 22, tzinfo=moment.tzinfo)
    assert check_moment("昨天")[1] is not None
    assert check_options("佩戴安全帽 | 吸烟｜打电话") == (["佩戴安全帽", "吸烟", "打电话"], None)
    assert check_options(" | ".join("ABCDEFGHI"))[1] is not None  # 9 options: one too many
    assert check_answer("c, a") == ("AC", None)
    assert check_answer("对") == ("T", None)
    assert check_answer("Z")[1] is not None
    assert check_pass_mark("80%") == (80.0, None)
    assert check_pass_mark("120")[1] is not None


def test_specs_write_only_columns_of_their_registers() -> None:
    for key in (*archive_specs.ARCHIVE_KEYS, *archive_specs.TRAINING_KEYS):
        spec = SPECS[key]
        reg = REGISTERS[spec.register]
        written = {c.name for c in spec.columns if not c.virtual}
        assert written <= reg.columns, (key, written - reg.columns)
        assert "id_cipher" not in {c.name for c in spec.columns}  # never near a screen
        for lang in i18n.LANGS:
            assert spec.title(lang)
            for col in spec.columns:
                assert col.header(lang) != "", (key, col.name)


def test_contractors_see_only_their_kinds() -> None:
    from dashboards.auth import Scope

    class U:
        role = "contractor"
        enterprise_id = 1
        scope = Scope.for_user("contractor", 1, None, 5)

    user = U()
    shown = {s.key for s in archive_specs.visible(user, archive_specs.ARCHIVE_KEYS)}
    assert shown == {"contractor_personnel", "contractor_equipment", "contractor_certificate"}
    assert not archive_specs.visible(user, archive_specs.TRAINING_KEYS)
    people = SPECS["contractor_personnel"]
    editable = editable_columns(user, people)
    assert {"phone", "person_type", "insurance_until"} <= editable
    assert editable.isdisjoint({"company_id", "status", "left_on", "person_code", "id_masked"})
    assert not can_view(user, SPECS["contractor_qualification"])
    assert can_edit(user, SPECS["contractor_certificate"])


def test_attachment_file_rules() -> None:
    assert attachments_ui.file_problem("scan.png", PNG) is None
    assert "only" in (attachments_ui.file_problem("a.docx", b"PK\x03\x04") or "")
    assert "not a .pdf" in (attachments_ui.file_problem("fake.pdf", PNG) or "")
    big = b"%PDF-" + b"0" * attachments_ui.MAX_BYTES
    assert "limit" in (attachments_ui.file_problem("big.pdf", big) or "")
    assert attachments_ui.may_write("contractor", "certificate")
    assert not attachments_ui.may_write("contractor", "qualification")
    assert not attachments_ui.may_write("operator", "person")
    assert attachments_ui.may_read("operator", "incident")


# -- against the database ---------------------------------------------------------------------


def _web(conn: psycopg.Connection, name: str) -> WebUser:
    row = conn.execute("SELECT id FROM auth.app_user WHERE name = %s", (name,)).fetchone()
    assert row is not None
    user = load_user(conn, int(row[0]))
    assert user is not None
    return user


def _admin(conn: psycopg.Connection, site: Site) -> WebUser:
    name = f"admin-{uuid.uuid4().hex[:8]}"
    create_user(conn, TEST, name=name, role="admin", password=PASSWORD, enterprise=site.enterprise)
    return _web(conn, name)


def _person(conn: psycopg.Connection, site: Site, home: Path, name: str, seq: int) -> int:
    actor = Actor(site.contractor_id, site.contractor)
    pid, _ = archive.register_person(
        conn, actor, site.company_id,
        PersonInput(name=name, id_number=id_number(seq), person_type="worker",
                    insurance_until=date.today() + timedelta(days=90)),
        home=home,
    )  # fmt: skip
    return pid


def test_scoped_grid_and_audited_edit(conn: psycopg.Connection, tmp_path: Path) -> None:
    mine, theirs = make_site(conn), make_site(conn)
    _person(conn, mine, tmp_path, "本单位甲", 301)
    _person(conn, theirs, tmp_path, "外单位乙", 302)
    contractor = _web(conn, mine.contractor)
    people = SPECS["contractor_personnel"]
    rows, total = fetch_page(conn, contractor, people, Query())
    assert (total, [r["person_name"] for r in rows]) == (1, ["本单位甲"])
    assert rows[0]["id_masked"] == id_number(301)[:4] + "*" * 10 + id_number(301)[-4:]
    # An enterprise-only register sent by a forged screen key: no rows at all.
    qual = SPECS["contractor_qualification"]
    archive.save_row(conn, TEST, "contractor_qualification", {"kind": "安全生产许可证"},
                     company_id=mine.company_id)  # fmt: skip
    assert fetch_page(conn, contractor, qual, Query()) == ([], 0)

    admin = _admin(conn, mine)
    (row,), _ = fetch_page(conn, admin, qual, Query(search="安全生产许可证"))
    due = date.today() + timedelta(days=365)
    saved = save_cell(conn, admin, qual, row["id"], "expires_on", due.isoformat())
    assert saved["expires_on"] == due.isoformat()
    audit = conn.execute(
        "SELECT actor_id, after ->> 'expires_on' FROM audit.log WHERE entity ="
        " 'contractor.qualification' AND entity_id = %s AND action = 'update'"
        " ORDER BY id DESC LIMIT 1",
        (str(row["id"]),),
    ).fetchone()
    assert audit == (admin.id, due.isoformat())
    # The other enterprise's admin sees neither the row nor the person.
    other_admin = _admin(conn, theirs)
    assert fetch_page(conn, other_admin, qual, Query(search="安全生产许可证"))[1] == 0
    assert [r["person_name"] for r in fetch_all(conn, other_admin, people, Query())] == ["外单位乙"]


def test_people_import_reports_the_bad_row(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    admin = _admin(conn, site)
    bad = id_number(402)[:17] + ("0" if id_number(402)[17] != "0" else "1")
    csv = write_csv(
        ["承包商单位", "姓名", "身份证号", "人员类型", "保险有效期至"],
        [
            [site.company, "导入甲", id_number(401), "作业人员", "2030-01-01"],
            [site.company, "导入乙", bad, "作业人员", ""],
            [site.company, "导入丙", id_number(403), "特种作业人员", ""],
        ],
    )
    table = read_table(csv, "people.csv", archive_specs.PEOPLE_IMPORT)
    result = archive_specs.import_people(conn, admin, table.rows, home=tmp_path)
    assert (result.added, result.written) == (0, False)
    assert [(r, c) for r, c, _ in result.errors] == [(3, "身份证号")]
    result = archive_specs.import_people(conn, admin, table.rows, home=tmp_path, valid_only=True)
    assert (result.added, result.updated, len(result.errors)) == (2, 0, 1)
    again = archive_specs.import_people(conn, admin, table.rows[:1], home=tmp_path)
    assert (again.added, again.updated) == (0, 1)  # the same number: the same employment
    people = fetch_all(conn, admin, SPECS["contractor_personnel"], Query())
    assert sorted(r["person_name"] for r in people) == ["导入丙", "导入甲"]
    headers, body = export_table(SPECS["contractor_personnel"], people)
    exported = write_csv(headers, body).decode("utf-8-sig")
    assert id_number(401) not in exported and id_number(401)[-4:] in exported
    contractor = _web(conn, site.contractor)
    with pytest.raises(ContractorError):
        archive_specs.import_people(conn, contractor, table.rows, home=tmp_path)


def test_attachments_stay_with_their_company(conn: psycopg.Connection, tmp_path: Path) -> None:
    mine, theirs = make_site(conn), make_site(conn)
    pid = _person(conn, mine, tmp_path, "持证人", 501)
    values = {"person_id": pid, "kind": "焊工证"}
    cert = archive.save_row(
        conn, TEST, "contractor_certificate", values, company_id=mine.company_id
    )
    me, them = _web(conn, mine.contractor), _web(conn, theirs.contractor)
    target = attachments_ui.visible_target(conn, me, "contractor_certificate", cert)
    assert target == attachments_ui.Target("certificate", cert, mine.company_id)
    aid = attachments_ui.upload(conn, me, target, "证书.png", PNG, home=tmp_path)
    meta = attachments_ui.readable(conn, me, aid)
    assert meta is not None and meta["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert [a["id"] for a in attachments_ui.attachments(conn, me, target)] == [aid]
    assert attachments_ui.readable(conn, them, aid) is None
    assert attachments_ui.visible_target(conn, them, "contractor_certificate", cert) is None
    assert attachments_ui.attachments(conn, them, target) == []
    with pytest.raises(ContractorError, match="may not"):
        attachments_ui.upload(conn, them, target, "x.png", PNG, home=tmp_path)
    with pytest.raises(ContractorError, match="only"):
        attachments_ui.upload(conn, me, target, "x.exe", b"MZ", home=tmp_path)
    assert attachments_ui.readable(conn, _admin(conn, mine), aid) is not None
    assert attachments_ui.readable(conn, _admin(conn, theirs), aid) is None
    row = conn.execute(
        "SELECT actor_id FROM audit.log WHERE entity = 'contractor.attachment' AND entity_id = %s",
        (str(aid),),
    ).fetchone()
    assert row == (me.id,)
