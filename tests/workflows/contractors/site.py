"""A host enterprise with what contractor entry needs: a contractor company and its account,
approvers in the ``contractor_mgmt`` and ``safety_mgmt`` groups, an entry course with a
question bank and rules, and (optionally) an access-control system. Shared by the domain and
the browser tests (the session database is shared, so everything is made fresh)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date

import psycopg

from hazwatch import registers
from hazwatch.auth import create_user
from hazwatch.credit_code import check_character
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from workflows.contractors.pii import check_digit

TEST = Actor(None, "test")
PASSWORD = "correct-horse-9"
BANK = "通用安全"


def credit_code() -> str:
    first = "91140100" + "".join(random.choices("0123456789", k=9))
    return first + check_character(first)


def id_number(seq: int | None = None) -> str:
    first = "14010519900101" + f"{seq if seq is not None else random.randrange(1000):03d}"
    return first + check_digit(first)


@dataclass(frozen=True)
class Site:
    enterprise_id: int
    enterprise: str
    company_id: int
    company: str
    contractor: str  # login name
    contractor_id: int
    reviewer: str  # contractor_mgmt
    reviewer_id: int
    safety: str  # safety_mgmt
    safety_id: int
    course_id: int
    project_id: int


def _user(conn: psycopg.Connection, role: str, **scope: str) -> tuple[str, int]:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    uid = create_user(conn, TEST, name=name, role=role, password=PASSWORD, **scope)
    return name, uid


def _group(conn: psycopg.Connection, enterprise_id: int, code: str, user_id: int) -> None:
    gid = registers.insert(
        conn, TEST, "user_group", {"enterprise_id": enterprise_id, "code": code, "name": code}
    )
    registers.insert(conn, TEST, "user_group_member", {"group_id": gid, "user_id": user_id})


def make_site(conn: psycopg.Connection, access_url: str | None = None) -> Site:
    ent, ent_name = make_enterprise(conn, "承包商测试企业")
    company_name = f"晋建安装-{uuid.uuid4().hex[:6]}"
    company_id = registers.insert(
        conn,
        TEST,
        "company",
        {
            "enterprise_id": ent,
            "name": company_name,
            "credit_code": credit_code(),
            "category": "installation",
        },
    )
    contractor, contractor_id = _user(
        conn, "contractor", enterprise=ent_name, company=str(company_id)
    )
    reviewer, reviewer_id = _user(conn, "engineer", enterprise=ent_name)
    safety, safety_id = _user(conn, "engineer", enterprise=ent_name)
    _group(conn, ent, "contractor_mgmt", reviewer_id)
    _group(conn, ent, "safety_mgmt", safety_id)
    course_id = registers.insert(
        conn,
        TEST,
        "contractor_course",
        {"enterprise_id": ent, "code": "ENTRY", "name": "入厂安全教育", "pass_mark": 80,
         "is_entry": True},
    )  # fmt: skip
    for n in range(6):
        registers.insert(
            conn,
            TEST,
            "contractor_question",
            {"enterprise_id": ent, "bank": BANK, "qtype": "single",
             "stem": f"单选题{n}：进入罐区前必须？", "options": ["佩戴安全帽", "吸烟", "打电话"],
             "answer": "A"},
        )  # fmt: skip
        registers.insert(
            conn,
            TEST,
            "contractor_question",
            {"enterprise_id": ent, "bank": BANK, "qtype": "judge",
             "stem": f"判断题{n}：动火作业需办理作业票。", "options": [], "answer": "T"},
        )  # fmt: skip
    for qtype in ("single", "judge"):
        registers.insert(
            conn,
            TEST,
            "contractor_exam_rule",
            {"course_id": course_id, "bank": BANK, "qtype": qtype, "count": 5, "points": 10},
        )
    project_id = registers.insert(
        conn,
        TEST,
        "contractor_project",
        {"enterprise_id": ent, "company_id": company_id, "code": "PRJ-1", "name": "储罐检修",
         "starts_on": date(2026, 1, 1), "ends_on": date(2030, 12, 31)},
    )  # fmt: skip
    if access_url is not None:
        registers.insert(
            conn,
            TEST,
            "contractor_access_system",
            {"enterprise_id": ent, "url": access_url, "token": "sim-token"},
        )
    return Site(ent, ent_name, company_id, company_name, contractor, contractor_id, reviewer,
                reviewer_id, safety, safety_id, course_id, project_id)  # fmt: skip
