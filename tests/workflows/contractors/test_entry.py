"""Entry of contractor people against the real database and a real access-control simulator
(C8-C11, C19): documents, exam, automatic return, approval, the card as approved; a
blacklisted company refused; another company's data out of reach; imports."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from openpyxl import Workbook

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import find_free_port
from tests.workflows.contractors.site import TEST, Site, id_number, make_site
from workflows import approvals
from workflows.contractors import archive, entry
from workflows.contractors.access_sim import AccessSimulator
from workflows.contractors.archive import ContractorError, PersonInput
from workflows.contractors.attendance import attendance_counts, import_attendance
from workflows.contractors.training_import import import_questions, import_training

FROM = date.today() + timedelta(days=1)
UNTIL = FROM + timedelta(days=30)


@pytest.fixture
def sim() -> Iterator[AccessSimulator]:
    s = AccessSimulator(port=find_free_port(), token="sim-token").start()
    yield s
    s.stop()


def _person(conn: psycopg.Connection, site: Site, home: Path, name: str, seq: int) -> int:
    actor = Actor(site.contractor_id, site.contractor)
    pid, _ = archive.register_person(
        conn, actor, site.company_id,
        PersonInput(name=name, id_number=id_number(seq), person_type="worker",
                    insurance_until=UNTIL + timedelta(days=100),
                    medical_check_on=date.today() - timedelta(days=30)),
        home=home,
    )  # fmt: skip
    return pid


def _answers(conn: psycopg.Connection, attempt: int, right: bool) -> dict[str, str]:
    paper = conn.execute(
        "SELECT paper FROM contractor.exam_attempt WHERE id = %s", (attempt,)
    ).fetchone()
    assert paper is not None
    wrong = {"A": "B", "B": "A", "C": "A", "T": "F", "F": "T"}
    return {
        str(i["question_id"]): i["answer"] if right else wrong[i["answer"][0]] for i in paper[0]
    }


def test_fail_returns_pass_is_approved_and_the_card_arrives(
    conn: psycopg.Connection, tmp_path: Path, sim: AccessSimulator
) -> None:
    site = make_site(conn, sim.url)
    me = Actor(site.contractor_id, site.contractor)
    a = _person(conn, site, tmp_path, "王五", 11)
    b = _person(conn, site, tmp_path, "赵六", 12)
    ids = entry.apply_for_entry(
        conn, me, company_id=site.company_id, person_ids=[a, b], valid_from=FROM,
        valid_until=UNTIL, places=["一号门", "储罐区"], project_id=site.project_id,
    )  # fmt: skip
    att_a, paper = entry.start_exam(conn, ids[0], company_id=site.company_id, seed=1)
    assert len(paper) == 10 and all("answer" not in q for q in paper)  # nothing to copy
    failed = entry.finish_exam(conn, me, att_a, _answers(conn, att_a, False),
                               company_id=site.company_id)  # fmt: skip
    assert (failed.passed, failed.status, failed.score) == (False, "returned", 0)
    att_b, _ = entry.start_exam(conn, ids[1], company_id=site.company_id, seed=2)
    ok = entry.finish_exam(conn, me, att_b, _answers(conn, att_b, True), company_id=site.company_id)
    assert (ok.passed, ok.status, ok.score) == (True, "in_approval", 100)
    assert ok.approval_id is not None
    states = {r["id"]: r["status"] for r in entry.applications(conn, company_id=site.company_id)}
    assert states == {ids[0]: "returned", ids[1]: "in_approval"}
    assert not sim.cards
    assert approvals.act(conn, Actor(site.reviewer_id, site.reviewer), ok.approval_id,
                         "approve", "资料齐全") == "pending"  # fmt: skip
    assert approvals.act(conn, Actor(site.safety_id, site.safety), ok.approval_id,
                         "approve", "同意入厂") == "approved"  # fmt: skip
    card_no = entry.card_number(site.enterprise_id, ids[1])
    assert list(sim.cards) == [card_no]
    card = sim.cards[card_no]
    person = conn.execute(
        "SELECT person_code, id_masked FROM contractor.person WHERE id = %s", (b,)
    ).fetchone()
    assert person is not None
    assert (card["person_code"], card["name"], card["id_masked"]) == (person[0], "赵六", person[1])
    assert (card["valid_from"], card["valid_until"]) == (FROM.isoformat(), UNTIL.isoformat())
    assert card["places"] == ["一号门", "储罐区"] and card["project"] == "PRJ-1"
    assert sim.swipe(card_no, "储罐区", FROM) and not sim.swipe(card_no, "装卸区", FROM)
    assert not sim.swipe(card_no, "储罐区", UNTIL + timedelta(days=1))
    # The returned one may retake; its exam is due again.
    entry.retake(conn, me, ids[0], company_id=site.company_id)
    assert {r["id"]: r["status"] for r in entry.applications(conn, company_id=site.company_id)}[
        ids[0]
    ] == "training"
    # Attendance by card feeds counts for evaluation.
    n, errors = import_attendance(conn, me, company_id=site.company_id, rows=[
        {"card_no": card_no, "day": FROM.isoformat(), "first_in": f"{FROM}T08:00+08:00",
         "last_out": f"{FROM}T17:00+08:00"},
        {"card_no": "C9999-1", "day": FROM.isoformat()},
    ])  # fmt: skip
    assert (n, errors) == (1, [(2, "no person of this company with that card or person code")])
    assert attendance_counts(conn, company_id=site.company_id, since=FROM, until=UNTIL) == {
        person[0]: 1
    }


def test_unreachable_access_system_keeps_the_request_pending(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    site = make_site(conn, f"http://127.0.0.1:{find_free_port()}")
    me = Actor(site.contractor_id, site.contractor)
    pid = _person(conn, site, tmp_path, "孙七", 13)
    (app,) = entry.apply_for_entry(
        conn,
        me,
        company_id=site.company_id,
        person_ids=[pid],
        valid_from=FROM,
        valid_until=UNTIL,
        places=["一号门"],
    )
    att, _ = entry.start_exam(conn, app, company_id=site.company_id)
    out = entry.finish_exam(conn, me, att, _answers(conn, att, True), company_id=site.company_id)
    assert out.approval_id is not None
    approvals.act(conn, Actor(site.reviewer_id, site.reviewer), out.approval_id, "approve")
    with pytest.raises(approvals.ApplyError, match="access card not delivered"):
        approvals.act(conn, Actor(site.safety_id, site.safety), out.approval_id, "approve")
    row = conn.execute(
        "SELECT status, card_no FROM contractor.entry_application WHERE id = %s", (app,)
    ).fetchone()
    assert row == ("in_approval", None)  # nothing of the failed apply stays


def test_blacklisted_company_refused_and_person_flagged(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    site = make_site(conn)
    me = Actor(site.contractor_id, site.contractor)
    pid = _person(conn, site, tmp_path, "周八", 14)
    registers.insert(conn, TEST, "contractor_blacklist", {"person_id": pid, "reason": "违章动火"})
    (app,) = entry.apply_for_entry(
        conn,
        me,
        company_id=site.company_id,
        person_ids=[pid],
        valid_from=FROM,
        valid_until=UNTIL,
        places=["一号门"],
    )
    flags = conn.execute(
        "SELECT flags FROM contractor.entry_application WHERE id = %s", (app,)
    ).fetchone()
    assert flags == (["blacklisted person: 违章动火"],)
    other = _person(conn, site, tmp_path, "吴九", 15)
    registers.insert(
        conn, TEST, "contractor_blacklist", {"company_id": site.company_id, "reason": "重大事故"}
    )
    with pytest.raises(entry.EntryRefused, match="on the blacklist \\(重大事故\\): entry refused"):
        entry.apply_for_entry(
            conn,
            me,
            company_id=site.company_id,
            person_ids=[other],
            valid_from=FROM,
            valid_until=UNTIL,
            places=["一号门"],
        )


def test_documents_required_by_category_rules(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    me = Actor(site.contractor_id, site.contractor)
    registers.insert(conn, TEST, "contractor_qualification_rule", {
        "enterprise_id": site.enterprise_id, "company_category": "installation",
        "person_type": "worker", "certificate_kind": "安全培训合格证"})  # fmt: skip
    pid = _person(conn, site, tmp_path, "郑十", 16)
    with pytest.raises(entry.EntryRefused, match="郑十: certificate 安全培训合格证 is required"):
        entry.apply_for_entry(
            conn,
            me,
            company_id=site.company_id,
            person_ids=[pid],
            valid_from=FROM,
            valid_until=UNTIL,
            places=["一号门"],
        )
    archive.save_row(conn, me, "contractor_certificate",
                     {"person_id": pid, "kind": "安全培训合格证", "expires_on": UNTIL},
                     company_id=site.company_id)  # fmt: skip
    assert entry.apply_for_entry(
        conn,
        me,
        company_id=site.company_id,
        person_ids=[pid],
        valid_from=FROM,
        valid_until=UNTIL,
        places=["一号门"],
    )


def test_contractor_cannot_touch_another_company(conn: psycopg.Connection, tmp_path: Path) -> None:
    mine, theirs = make_site(conn), make_site(conn)
    me = Actor(mine.contractor_id, mine.contractor)
    their_pid = _person(conn, theirs, tmp_path, "钱一", 17)
    their_emp = conn.execute(
        "SELECT id FROM contractor.employment WHERE person_id = %s", (their_pid,)
    ).fetchone()
    assert their_emp is not None
    with pytest.raises(ContractorError, match="no record"):
        archive.save_row(conn, me, "contractor_employment", {"phone": "13800000000"},
                         company_id=mine.company_id, row_id=their_emp[0])  # fmt: skip
    with pytest.raises(ContractorError, match="own company"):
        archive.save_row(conn, me, "contractor_equipment",
                         {"company_id": theirs.company_id, "kind": "tool", "name": "x"},
                         company_id=mine.company_id)  # fmt: skip
    with pytest.raises(ContractorError, match="own people"):
        archive.save_row(conn, me, "contractor_certificate", {"person_id": their_pid, "kind": "x"},
                         company_id=mine.company_id)  # fmt: skip
    with pytest.raises(entry.EntryRefused, match="not employed by this company"):
        entry.apply_for_entry(
            conn,
            me,
            company_id=mine.company_id,
            person_ids=[their_pid],
            valid_from=FROM,
            valid_until=UNTIL,
            places=["一号门"],
        )
    assert archive.people(conn, company_id=mine.company_id) == []


def test_same_person_keeps_one_code_across_companies(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    a, b = make_site(conn), make_site(conn)
    pa = _person(conn, a, tmp_path, "李雷", 18)
    pb = _person(conn, b, tmp_path, "李雷", 18)
    assert pa == pb
    rows = archive.people(conn, company_id=b.company_id, role="admin", home=tmp_path)
    assert rows[0]["id_number"] == id_number(18)
    masked = archive.people(conn, company_id=b.company_id, role="engineer", home=tmp_path)
    assert masked[0]["id_number"] == id_number(18)[:4] + "*" * 10 + id_number(18)[-4:]
    audit = conn.execute(
        "SELECT after::text FROM audit.log WHERE entity = 'contractor.person'"
        " AND entity_id = %s", (str(pa),),
    ).fetchall()  # fmt: skip
    assert audit and all("id_cipher" not in r[0] for r in audit)


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_excel_imports_report_bad_rows(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    me = Actor(site.contractor_id, site.contractor)
    report = import_questions(conn, TEST, enterprise_id=site.enterprise_id, data=_xlsx([
        ["题库", "题型", "题目", "选项A", "选项B", "选项C", "答案"],
        ["消防", "单选", "灭火器压力表指针应在？", "绿区", "红区", "黄区", "A"],
        ["消防", "多选", "动火前应？", "办票", "清理可燃物", "吸烟", "AB"],
        ["消防", "单选", "错题", "甲", "乙", None, "D"],
        ["消防", "判断", "可以在罐区吸烟。", None, None, None, "错"],
    ]))  # fmt: skip
    assert report.imported == 3
    assert report.errors == [(4, "answer 'D': letters among AB")]
    pid = _person(conn, site, tmp_path, "韩梅", 19)
    report = import_training(conn, me, company_id=site.company_id, home=tmp_path, data=_xlsx([
        ["身份证号", "级别", "课程", "日期", "学时", "成绩"],
        [id_number(19), "厂级", "厂级安全教育", "2026-11-01", 24, 92],
        [id_number(19), "车间级", "车间安全教育", "2026-11-02", 24, 90],
        [id_number(19), "科级", "?", "2026-11-03", 8, 90],
        [id_number(20), "班组级", "班组安全教育", "2026-11-04", 8, 95],
    ]), all_or_nothing=False)  # fmt: skip
    assert report.imported == 2
    assert [n for n, _ in report.errors] == [4, 5]
    assert "厂级、车间级 or 班组级" in report.errors[0][1]
    levels = conn.execute(
        "SELECT level FROM contractor.training_record WHERE person_id = %s ORDER BY level",
        (pid,),
    ).fetchall()
    assert levels == [("plant",), ("workshop",)]
    with pytest.raises(ContractorError, match="not an Excel"):
        import_questions(conn, TEST, enterprise_id=site.enterprise_id, data=b"not a workbook")
