"""Contractor management in ``hazwatch demo``: a contractor company of the demo enterprise with
its qualification, people (ID-card numbers made valid, sealed like any other), certificates,
tools and a project; the entry course with a question bank and exam rules; the qualification
rules of its category; a contractor login; the access-control simulator as a demo child, with
the enterprise's ``contractor.access_system`` pointing at it.

    added = ensure_demo_contractors(conn, enterprise_id, home=settings.home)   # idempotent
    children = demo_children()          # [Child("access-sim", ["contractors", "access-sim", …])]

Idempotent: what exists (maybe edited in the UI) is kept, only what is missing is added; the
access-control URL is set to the simulator's port each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg

from hazwatch import auth, registers
from hazwatch.credit_code import check_character
from hazwatch.registers import Actor
from workflows.contractors import archive
from workflows.contractors.archive import PersonInput
from workflows.contractors.pii import Vault, check_digit

ACTOR: Final = Actor(id=None, name="demo")
COMPANY: Final = "晋建安装工程有限公司（演示）"
CREDIT_FIRST17: Final = "91140105MA0DEMX01"
LOGIN: Final = "contractor"
ACCESS_PORT: Final = 18480
ACCESS_TOKEN: Final = "demo-access-token"  # noqa: S105  (a local sandbox, printed on purpose)
COURSE: Final = "ENTRY"
BANK: Final = "入厂安全"
PROJECT: Final = "PRJ-DEMO-1"
#: (name, 17 digits before the check digit, person type, certificate or None)
PEOPLE: Final = (
    ("王建国", "14010519850312001", "manager", "安全生产管理人员证"),
    ("李志强", "14010219900705003", "special_worker", "特种作业操作证（焊接与热切割）"),
    ("赵小兵", "14010619950221005", "worker", None),
)
QUESTIONS: Final = (
    ("single", "进入罐区前必须做什么？", ("佩戴安全帽并交出火种", "打电话报备", "无需准备"), "A"),
    ("single", "动火作业前应取得什么？", ("动火作业票", "口头同意", "工作服"), "A"),
    ("single", "发现可燃气体报警应如何处理？", ("立即撤离并报告", "继续作业", "关闭报警器"), "A"),
    ("single", "受限空间作业前必须进行？", ("气体检测", "拍照", "休息"), "A"),
    ("single", "高处作业（≥2 m）必须使用？", ("安全带", "手套", "雨鞋"), "A"),
    ("judge", "厂区内可以吸烟。", (), "F"),
    ("judge", "特种作业人员必须持证上岗。", (), "T"),
    ("judge", "未经安全教育的人员不得入厂作业。", (), "T"),
    ("judge", "作业票过期后可以继续作业。", (), "F"),
    ("judge", "发生事故应立即报告。", (), "T"),
)


@dataclass
class Added:
    """Rows created by one call (0 everywhere on a second call)."""

    rows: int = 0
    login: str = LOGIN


def id_number(first17: str) -> str:
    return first17 + check_digit(first17)


def _one(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> int | None:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]  # literal SQL
    return None if row is None else int(row[0])


def _ensure(
    conn: psycopg.Connection, added: Added, register: str, find: str, key: tuple[Any, ...],
    values: dict[str, Any],
) -> int:  # fmt: skip
    """The id of the row ``find`` matches, inserted (audited) from ``values`` when missing."""
    found = _one(conn, find, key)
    if found is not None:
        return found
    added.rows += 1
    return registers.insert(conn, ACTOR, register, values, reason="demo")


def ensure_demo_contractors(
    conn: psycopg.Connection, enterprise_id: int, *, home: Path, password: str
) -> Added:
    """Provision the demo's contractor data (see the module docstring)."""
    added = Added()
    today = date.today()
    ent = conn.execute(
        "SELECT name FROM registry.enterprise WHERE id = %s", (enterprise_id,)
    ).fetchone()
    if ent is None:
        raise archive.ContractorError(f"no enterprise #{enterprise_id}")
    company_id = _ensure(
        conn, added, "company",
        "SELECT id FROM contractor.company WHERE enterprise_id = %s AND name = %s",
        (enterprise_id, COMPANY),
        {"enterprise_id": enterprise_id, "name": COMPANY, "category": "installation",
         "credit_code": CREDIT_FIRST17 + check_character(CREDIT_FIRST17),
         "legal_representative": "王建国", "contact_person": "王建国", "phone": "0351-5550100",
         "address": "太原市小店区演示路 1 号",
         "qualification_summary": "机电安装工程施工总承包二级"},
    )  # fmt: skip
    _ensure(
        conn, added, "contractor_qualification",
        "SELECT id FROM contractor.qualification WHERE company_id = %s AND kind = %s",
        (company_id, "安全生产许可证"),
        {"company_id": company_id, "kind": "安全生产许可证",
         "number": "（晋）JZ安许证字〔2024〕000123",
         "issuer": "山西省住房和城乡建设厅", "valid_from": today - timedelta(days=400),
         "expires_on": today + timedelta(days=45)},
    )  # fmt: skip
    for person_type, kind in (("special_worker", "特种作业操作证（焊接与热切割）"),
                              ("manager", "安全生产管理人员证")):  # fmt: skip
        _ensure(
            conn, added, "contractor_qualification_rule",
            "SELECT id FROM contractor.qualification_rule WHERE enterprise_id = %s"
            " AND company_category = 'installation' AND person_type = %s"
            " AND certificate_kind = %s",
            (enterprise_id, person_type, kind),
            {"enterprise_id": enterprise_id, "company_category": "installation",
             "person_type": person_type, "certificate_kind": kind},
        )  # fmt: skip
    _ensure(
        conn, added, "contractor_project",
        "SELECT id FROM contractor.project WHERE enterprise_id = %s AND code = %s",
        (enterprise_id, PROJECT),
        {"enterprise_id": enterprise_id, "company_id": company_id, "code": PROJECT,
         "name": "储罐区管线检修", "scale": "管线改造约 300 m", "status": "in_progress",
         "phase": "execution", "manager": "王建国", "starts_on": today - timedelta(days=10),
         "ends_on": today + timedelta(days=80), "contract_no": "HT-DEMO-001"},
    )  # fmt: skip
    _people(conn, added, company_id, home, today)
    _ensure(
        conn, added, "contractor_equipment",
        "SELECT id FROM contractor.equipment WHERE company_id = %s AND name = %s",
        (company_id, "交流电焊机"),
        {"company_id": company_id, "kind": "tool", "name": "交流电焊机", "model": "BX1-500",
         "quantity": 2, "unit": "台", "inspected_on": today - timedelta(days=300),
         "inspection_due": today + timedelta(days=20)},
    )  # fmt: skip
    _course(conn, added, enterprise_id)
    _ensure(
        conn, added, "contractor_access_system",
        "SELECT id FROM contractor.access_system WHERE enterprise_id = %s", (enterprise_id,),
        {"enterprise_id": enterprise_id, "url": access_url(), "token": ACCESS_TOKEN},
    )  # fmt: skip
    system = _one(  # pointing elsewhere (an older demo's port): point it at the simulator
        conn,
        "SELECT id FROM contractor.access_system WHERE enterprise_id = %s AND url <> %s",
        (enterprise_id, access_url()),
    )
    if system is not None:
        registers.update(
            conn, ACTOR, "contractor_access_system", system,
            {"url": access_url(), "token": ACCESS_TOKEN}, reason="demo",
        )  # fmt: skip
    if _one(conn, "SELECT id FROM auth.app_user WHERE lower(name) = %s", (LOGIN,)) is None:
        auth.create_user(
            conn, ACTOR, name=LOGIN, role="contractor", password=password,
            enterprise=str(ent[0]), company=str(company_id), display_name="演示承包商",
        )  # fmt: skip
        added.rows += 1
    return added


def _people(
    conn: psycopg.Connection, added: Added, company_id: int, home: Path, today: date
) -> None:
    vault = Vault.at(home)
    for name, first17, person_type, certificate in PEOPLE:
        number = id_number(first17)
        person_id = _one(
            conn, "SELECT id FROM contractor.person WHERE id_hash = %s", (vault.digest(number),)
        )
        employed = person_id is not None and _one(
            conn,
            "SELECT id FROM contractor.employment WHERE person_id = %s AND company_id = %s",
            (person_id, company_id),
        )
        if not employed:
            person_id, _ = archive.register_person(
                conn, ACTOR, company_id,
                PersonInput(name=name, id_number=number, person_type=person_type,
                            phone="13900000000", insurance_no=f"BX-{first17[-3:]}",
                            insurance_until=today + timedelta(days=300),
                            medical_check_on=today - timedelta(days=60),
                            permit_from=today, permit_until=today + timedelta(days=80)),
                home=home,
            )  # fmt: skip
            added.rows += 1
        assert person_id is not None
        if certificate is not None:
            _ensure(
                conn, added, "contractor_certificate",
                "SELECT id FROM contractor.certificate WHERE person_id = %s AND kind = %s",
                (person_id, certificate),
                {"person_id": person_id, "kind": certificate, "number": f"T{first17}",
                 "issuer": "太原市应急管理局", "expires_on": today + timedelta(days=500)},
            )  # fmt: skip


def _course(conn: psycopg.Connection, added: Added, enterprise_id: int) -> None:
    has_entry = _one(
        conn, "SELECT id FROM contractor.course WHERE enterprise_id = %s AND is_entry",
        (enterprise_id,),
    )  # fmt: skip
    course_id = _ensure(
        conn, added, "contractor_course",
        "SELECT id FROM contractor.course WHERE enterprise_id = %s AND code = %s",
        (enterprise_id, COURSE),
        {"enterprise_id": enterprise_id, "code": COURSE, "name": "承包商入厂安全教育",
         "content": "厂规厂纪、危险源与应急处置、作业票制度", "hours": 8, "pass_mark": 80,
         "duration_min": 30, "is_entry": has_entry is None},
    )  # fmt: skip
    for qtype, stem, options, answer in QUESTIONS:
        _ensure(
            conn, added, "contractor_question",
            "SELECT id FROM contractor.question WHERE enterprise_id = %s AND bank = %s"
            " AND stem = %s",
            (enterprise_id, BANK, stem),
            {"enterprise_id": enterprise_id, "bank": BANK, "qtype": qtype, "stem": stem,
             "options": list(options), "answer": answer},
        )  # fmt: skip
    for qtype in ("single", "judge"):
        _ensure(
            conn, added, "contractor_exam_rule",
            "SELECT id FROM contractor.exam_rule WHERE course_id = %s AND bank = %s"
            " AND qtype = %s",
            (course_id, BANK, qtype),
            {"course_id": course_id, "bank": BANK, "qtype": qtype, "count": 5, "points": 10},
        )  # fmt: skip


def access_url(port: int = ACCESS_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def demo_children(port: int = ACCESS_PORT) -> list[Any]:
    """The access-control simulator the demo's approved entries are pushed to."""
    from hazwatch.supervisor import Child

    args = ["contractors", "access-sim", "--port", str(port), "--token", ACCESS_TOKEN]
    return [Child("access-sim", args)]
