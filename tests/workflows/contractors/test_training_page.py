"""Courses, question banks and three-level training (C10) as the training page drives them,
against the real database: questions added and edited through the grid's writes (options in
one cell, answers normalised, the pass mark a percentage), the page's import templates read
back by the importers, the import target confined to the user's scope, and the
``hazwatch contractors import-training`` command with a bad row."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from openpyxl import Workbook

from dashboards.auth import WebUser, load_user
from dashboards.pages import contractors_training as page
from dashboards.register_data import FieldErrors, Query, fetch_page, insert_row, save_cell
from dashboards.register_specs import SPECS
from hazwatch.auth import create_user
from hazwatch.registers import Actor
from tests.conftest import run_cli
from tests.workflows.contractors.site import PASSWORD, TEST, Site, id_number, make_site
from workflows.contractors import archive, training_import
from workflows.contractors.archive import PersonInput


def _xlsx(headers: tuple[str, ...], rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(headers))
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _admin(conn: psycopg.Connection, site: Site) -> WebUser:
    name = f"admin-{uuid.uuid4().hex[:8]}"
    uid = create_user(
        conn, TEST, name=name, role="admin", password=PASSWORD, enterprise=site.enterprise
    )
    user = load_user(conn, uid)
    assert user is not None
    return user


def test_questions_through_the_grid(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    admin = _admin(conn, site)
    spec = SPECS["contractor_question"]
    row = insert_row(
        conn, admin, spec,
        {"enterprise_id": site.enterprise, "bank": "动火", "qtype": "多选题",
         "stem": "动火作业前应做哪些准备？", "options": "办票 | 清理可燃物 | 吸烟",
         "answer": "b,a"},
    )  # fmt: skip
    assert (row["options"], row["answer"], row["qtype"]) == (
        "办票 | 清理可燃物 | 吸烟",
        "AB",
        "多选题",
    )
    stored = conn.execute(
        "SELECT options, answer FROM contractor.question WHERE id = %s", (row["id"],)
    ).fetchone()
    assert stored == (["办票", "清理可燃物", "吸烟"], "AB")
    save_cell(conn, admin, spec, row["id"], "answer", "A")
    with pytest.raises(FieldErrors) as refused:
        save_cell(conn, admin, spec, row["id"], "answer", "甲")
    assert "answer" in refused.value.errors
    rows, total = fetch_page(conn, admin, spec, Query(search="清理可燃物"))
    assert total == 1 and rows[0]["answer"] == "A"

    course = SPECS["contractor_course"]
    with pytest.raises(FieldErrors) as refused:
        insert_row(conn, admin, course, {"enterprise_id": site.enterprise, "code": "C2",
                                         "name": "复训", "pass_mark": "150"})  # fmt: skip
    assert set(refused.value.errors) == {"pass_mark"}
    audit = conn.execute(
        "SELECT count(*) FROM audit.log WHERE entity = 'contractor.question' AND entity_id = %s"
        " AND actor_id = %s",
        (str(row["id"]), admin.id),
    ).fetchone()
    assert audit == (2,)  # the insert and the one accepted edit


def test_templates_are_what_the_importers_read(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    actor = Actor(site.contractor_id, site.contractor)
    pid, _ = archive.register_person(
        conn, actor, site.company_id,
        PersonInput(name="受训人", id_number=id_number(601), person_type="worker"),
        home=tmp_path,
    )  # fmt: skip
    questions = _xlsx(
        page.QUESTION_HEADERS,
        [["模板题库", "单选", "安全帽的作用？", "防护头部", "装饰", "", "", "A"],
         ["模板题库", "判断", "可以在罐区打电话。", "", "", "", "", "错"],
         ["模板题库", "问答", "什么是动火？", "", "", "", "", "A"]],
    )  # fmt: skip
    report = training_import.import_questions(
        conn, TEST, enterprise_id=site.enterprise_id, data=questions
    )
    assert report.imported == 2 and [n for n, _ in report.errors] == [4]
    training = _xlsx(
        page.TRAINING_HEADERS,
        [[id_number(601), "", "厂级", "入厂教育", "2026-03-01", 24, 92, "张老师"],
         ["", "P99999999", "车间级", "车间教育", "2026-03-02", 24, 90, ""]],
    )  # fmt: skip
    report = training_import.import_training(
        conn, TEST, company_id=site.company_id, data=training, home=tmp_path
    )
    assert report.imported == 1 and [n for n, _ in report.errors] == [3]
    assert conn.execute(
        "SELECT level, hours FROM contractor.training_record WHERE person_id = %s", (pid,)
    ).fetchone() == ("plant", 24)


def test_import_targets_stay_in_scope(conn: psycopg.Connection) -> None:
    mine, theirs = make_site(conn), make_site(conn)
    admin = _admin(conn, mine)
    assert page._options(conn, admin, companies=True) == [
        {"label": mine.company, "value": mine.company_id}
    ]
    assert [o["value"] for o in page._options(conn, admin, companies=False)] == [mine.enterprise_id]
    assert page._in_scope(conn, admin, "t", mine.company_id)
    assert not page._in_scope(conn, admin, "t", theirs.company_id)
    assert not page._in_scope(conn, admin, "q", theirs.enterprise_id)


def test_import_training_command(conn: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    site = make_site(conn)
    archive.register_person(
        conn, TEST, site.company_id,
        PersonInput(name="命令行受训人", id_number=id_number(602), person_type="worker",
                    insurance_until=date.today() + timedelta(days=9)),
        home=tmp_path,
    )  # fmt: skip
    code = conn.execute(
        "SELECT p.person_code FROM contractor.person p JOIN contractor.employment e"
        " ON e.person_id = p.id WHERE e.company_id = %s",
        (site.company_id,),
    ).fetchone()
    assert code is not None
    sheet = tmp_path / "三级教育.xlsx"
    sheet.write_bytes(
        _xlsx(page.TRAINING_HEADERS,
              [["", code[0], "班组级", "班组教育", "2026-03-03", 8, 95, "班长"],
               ["", code[0], "部门", "车间教育", "2026-03-04", 8, 95, ""]])
    )  # fmt: skip
    env = {"HAZWATCH_DATABASE_URL": db_url, "HAZWATCH_HOME": str(tmp_path)}
    done = run_cli(
        "contractors", "import-training", "--company", str(site.company_id), str(sheet), env=env
    )
    assert done.returncode == 1, done.stderr
    assert "row 3:" in done.stderr and "1 training records imported" in done.stdout
    assert conn.execute(
        "SELECT level FROM contractor.training_record t JOIN contractor.person p"
        " ON p.id = t.person_id WHERE p.person_code = %s",
        (code[0],),
    ).fetchall() == [("team",)]
