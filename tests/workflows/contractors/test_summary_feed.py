"""Contractor summaries (C20; issue 11 item 2): the figures of a day counted from contractor
rows this test writes (its own enterprise: the session database is shared), no personal data
in what would go up, the scheduler job's revisions, and the receiver's checks."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hazwatch import registers
from tests.conftest import make_enterprise
from tests.workflows.contractors.site import TEST, credit_code
from workflows.contractors import (
    archive,
    positioning,  # noqa: F401  (its registers)
)
from workflows.contractors import summary_feed as sf
from workflows.contractors.archive import PersonInput
from workflows.contractors.pii import check_digit
from workflows.hazard_feeds import TZ, day_bounds
from workflows.upward_receive import ItemRejected


def id_number() -> str:
    """A valid, random ID-card number (a fixed one could be another test's person)."""
    born = date(1960, 1, 1) + timedelta(days=random.randrange(14000))
    first = f"140105{born:%Y%m%d}{random.randrange(1000):03d}"
    return first + check_digit(first)


def _company(conn: psycopg.Connection, ent: int, name: str, category: str) -> int:
    return registers.insert(
        conn, TEST, "company",
        {"enterprise_id": ent, "name": f"{name}-{uuid.uuid4().hex[:6]}",
         "credit_code": credit_code(), "category": category},
    )  # fmt: skip


@dataclass
class World:
    ent: int
    day: date
    companies: dict[str, int]  # A, B, C -> id
    secrets: list[str]  # personal data that must never leave the enterprise


def _person(
    conn: psycopg.Connection, home: Path, company: int, kind: str, secrets: list[str], **extra: Any
) -> tuple[int, int]:
    name = f"工人{uuid.uuid4().hex[:4]}"
    number = id_number()
    phone = f"1380{random.randrange(10**7):07d}"
    pid, emp = archive.register_person(
        conn, TEST, company,
        PersonInput(name=name, id_number=number, person_type=kind, phone=phone), home=home,
    )  # fmt: skip
    code, masked = conn.execute(
        "SELECT person_code, id_masked FROM contractor.person WHERE id = %s", (pid,)
    ).fetchone()  # type: ignore[misc]
    secrets += [name, number, phone, code, masked]
    if extra:
        registers.update(conn, TEST, "contractor_employment", emp, extra)
    return pid, emp


def _at(day: date, hours: float) -> datetime:
    return day_bounds(day)[0] + timedelta(hours=hours)


@pytest.fixture(scope="module")
def world(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One host enterprise, three contractor companies and a day of their records:

    A (installation): an expired and an expiring qualification, two workers (one special,
      one registered today), two violations (one a work violation), an injury incident, an
      open hazard, a hot-work permit running, a stop-work order in force, an evaluation of 80;
    B (maintenance): on the qualified list, one worker (blacklisted) plus one who left today,
      a lifting permit planned, a stop order resumed today, hazards closed and open, an
      evaluation of 55 (failed);
    C (labour): exited and blacklisted.
    """
    home = tmp_path_factory.mktemp("summary-home")
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, _ = make_enterprise(conn, "承包商汇总")
        day = datetime.now(TZ).date()
        d = day
        a = _company(conn, ent, "甲安装", "installation")
        b = _company(conn, ent, "乙检修", "maintenance")
        c = _company(conn, ent, "丙劳务", "labour")
        registers.update(conn, TEST, "company", c, {"status": "exited"})
        secrets: list[str] = []
        for company, expires in ((a, d - timedelta(days=5)), (a, d + timedelta(days=10)),
                                 (b, d + timedelta(days=100))):  # fmt: skip
            registers.insert(conn, TEST, "contractor_qualification",
                             {"company_id": company, "kind": "安全生产许可证",
                              "expires_on": expires})  # fmt: skip
        registers.insert(conn, TEST, "contractor_qualified",
                         {"enterprise_id": ent, "company_id": b,
                          "since": d - timedelta(days=30)})  # fmt: skip
        registers.insert(
            conn,
            TEST,
            "contractor_blacklist_entry",
            {"company_id": c, "reason": "重大事故", "since": d - timedelta(days=3)},
        )
        registers.insert(conn, TEST, "contractor_blacklist_entry",
                         {"company_id": a, "reason": "已解除", "since": d - timedelta(days=20),
                          "removed_at": _at(d, -24)})  # fmt: skip
        month_ago = d - timedelta(days=30)
        p1, _ = _person(conn, home, a, "worker", secrets, joined_on=d)
        p2, _ = _person(conn, home, a, "special_worker", secrets, joined_on=month_ago)
        p3, _ = _person(conn, home, b, "worker", secrets, joined_on=month_ago)
        _person(conn, home, b, "worker", secrets, joined_on=month_ago, status="exited",
                left_on=d)  # fmt: skip
        registers.insert(
            conn,
            TEST,
            "contractor_blacklist_entry",
            {"person_id": p3, "reason": "严重违章", "since": d - timedelta(days=1)},
        )
        apps = {}
        for pid, status in ((p1, "approved"), (p2, "training")):
            apps[pid] = registers.insert(
                conn, TEST, "contractor_entry_application",
                {"enterprise_id": ent, "company_id": a, "person_id": pid, "batch": uuid.uuid4(),
                 "valid_from": d - timedelta(days=1), "valid_until": d + timedelta(days=30),
                 "places": ["一号门"], "status": status},
            )  # fmt: skip
        card = f"C{ent:04d}-{apps[p1]:08d}"
        registers.update(conn, TEST, "contractor_entry_application", apps[p1], {"card_no": card})
        secrets.append(card)
        course = registers.insert(
            conn,
            TEST,
            "contractor_course",
            {"enterprise_id": ent, "code": "SUMX", "name": "入厂教育"},
        )
        for passed, score in ((False, 60), (True, 90)):  # the failed exam, then the retake
            conn.execute(
                "INSERT INTO contractor.exam_attempt (application_id, person_id, course_id, seed,"
                " paper, score, max_score, pass_mark, passed, started_at, finished_at)"
                " VALUES (%s, %s, %s, 1, '[]', %s, 100, 80, %s, %s, %s)",
                (apps[p2], p2, course, score, passed, _at(d, 0.1), _at(d, 0.2)),
            )
        for pid, company, first_in, last_out in (
            (p1, a, _at(d, 0.1), _at(d, 0.3)), (p2, a, _at(d, 0.15), None),
            (p3, b, _at(d, 0.2), None),
        ):  # fmt: skip
            registers.insert(conn, TEST, "contractor_attendance",
                             {"person_id": pid, "company_id": company, "day": d,
                              "first_in": first_in, "last_out": last_out})  # fmt: skip
        tag = registers.insert(
            conn, TEST, "contractor_positioning_tag",
            {"enterprise_id": ent, "tag_no": f"T-{uuid.uuid4().hex[:6]}", "kind": "person",
             "card_no": card, "person_id": p1, "company_id": a,
             "valid_from": _at(d, -24), "valid_until": _at(d, 24 * 30)},
        )  # fmt: skip
        conn.execute(
            "INSERT INTO contractor.position_violation (tag_id, kind, x, y, started_at, detail)"
            " VALUES (%s, 'forbidden', 1, 2, %s, '罐区')",
            (tag, _at(d, 0.25)),
        )
        for pid, company, level, course, when in (
            (p1, a, "plant", "入厂安全教育", d), (p2, a, "plant", "入厂安全教育", d),
            (p3, b, "team", "班组安全", d), (p3, b, "team", "班组安全", d - timedelta(days=1)),
        ):  # fmt: skip
            registers.insert(
                conn,
                TEST,
                "contractor_training_record",
                {
                    "person_id": pid,
                    "company_id": company,
                    "level": level,
                    "course_name": course,
                    "trained_on": when,
                    "trainer": "赵老师",
                },
            )
        permits = (
            # company, type, planned start (h), started (h), accepted (h)
            (a, "hot_work", 0.1, 0.1, None, "in_progress"),
            (b, "lifting", 0.2, None, None, "planned"),
            (a, "confined_space", -20, -20, 0.05, "accepted"),
        )
        for company, kind, planned, started, accepted, status in permits:
            conn.execute(
                "INSERT INTO contractor.work_permit (enterprise_id, company_id, permit_no,"
                " work_type, location, guardian, planned_start, planned_end, started_at,"
                " accepted_at, status) VALUES (%s, %s, %s, %s, '罐区', '李监护', %s, %s, %s, %s,"
                " %s)",
                (ent, company, f"ZY-{uuid.uuid4().hex[:8]}", kind, _at(d, planned),
                 _at(d, planned + 8), started and _at(d, started),
                 accepted and _at(d, accepted), status),
            )  # fmt: skip
        for company, reason, ordered, resumed, status in (
            (a, "violation", _at(d, 0.2), None, "in_force"),
            (b, "weather", _at(d, -48), _at(d, 0.3), "resumed"),
        ):
            conn.execute(
                "INSERT INTO contractor.stop_order (enterprise_id, company_id, reason_class,"
                " reason, status, ordered_at, in_force_at, resumed_at)"
                " VALUES (%s, %s, %s, '现场检查', %s, %s, %s, %s)",
                (ent, company, reason, status, ordered, ordered, resumed),
            )
        for company, when, work in ((a, _at(d, 0.1), False), (a, _at(d, 0.2), True),
                                    (b, _at(d, -2), False)):  # fmt: skip
            registers.insert(
                conn,
                TEST,
                "contractor_violation",
                {
                    "company_id": company,
                    "offender": "李四",
                    "occurred_at": when,
                    "description": "未系安全带",
                    "is_work_violation": work,
                },
            )
        registers.insert(conn, TEST, "contractor_incident",
                         {"company_id": a, "kind": "物体打击", "level": "minor",
                          "occurred_at": _at(d, 0.15), "injuries": 1})  # fmt: skip
        for company, found, status, closed in (
            (a, d, "open", None), (b, d - timedelta(days=3), "closed", d - timedelta(days=1)),
            (b, d - timedelta(days=5), "rectifying", None),
        ):  # fmt: skip
            registers.insert(
                conn,
                TEST,
                "contractor_hazard",
                {
                    "company_id": company,
                    "description": "护栏缺失",
                    "found_on": found,
                    "status": status,
                    "closed_on": closed,
                },
            )
        template = conn.execute(
            "SELECT id FROM contractor.eval_template WHERE enterprise_id IS NULL AND code = 'EXE'"
        ).fetchone()[0]  # type: ignore[index]
        for company, total, passed, when in ((a, 80, True, _at(d, 0.3)), (b, 55, False,
                                             _at(d, 0.3)), (c, 99, True, _at(d, -10))):  # fmt: skip
            conn.execute(
                "INSERT INTO contractor.evaluation (enterprise_id, template_id, company_id, stage,"
                " period_from, period_to, items, pass_score, status, total, passed, finalised_at)"
                " VALUES (%s, %s, %s, 'execution', %s, %s, '[]', 70, 'final', %s, %s, %s)",
                (ent, template, company, d - timedelta(days=30), d, total, passed, when),
            )
        yield World(ent, day, {"A": a, "B": b, "C": c}, secrets)


EXPECTED = {
    "companies_on_file": 2, "companies_qualified": 1, "companies_blacklisted": 1,
    "companies_qualification_expired": 1, "qualifications_expiring_30d": 1,
    "workers_on_file": 3, "special_workers_on_file": 1, "workers_joined": 1, "workers_left": 1,
    "persons_blacklisted": 1, "entry_applications": 2, "entry_cards_valid": 1,
    "gate_entries": 3, "gate_exits": 1, "on_site_at_day_end": 2, "positioning_alarms": 1,
    "training_records": 3, "training_sessions": 2, "exams_taken": 2, "exams_passed": 1,
    "permits_planned": 2, "permits_started": 1, "permits_active_at_day_end": 1,
    "stop_orders_issued": 1, "stop_orders_in_force_at_day_end": 1, "stop_orders_resumed": 1,
    "violations": 2, "work_violations": 1, "incidents": 1, "incident_deaths": 0,
    "incident_injuries": 1, "hazards_found": 1, "hazards_open_at_day_end": 2,
    "evaluations_completed": 2, "evaluations_passed": 1,
}  # fmt: skip


def test_the_day_is_counted_from_the_contractor_rows(
    conn: psycopg.Connection, world: World
) -> None:
    s = sf.compute(conn, world.ent, world.day)
    assert s.figures == EXPECTED
    assert s.evaluation_avg_score == 67.5  # (80 + 55) / 2
    assert s.breakdown == {
        "workers_by_type": {"worker": 2, "special_worker": 1},
        "permits_by_type": {"hot_work": 1},
        "stop_orders_by_reason": {"violation": 1},
        "incidents_by_level": {"minor": 1},
    }
    by_category = {c["category"]: c for c in s.companies}
    assert set(by_category) == {"installation", "maintenance", "labour"}
    a, b, c = by_category["installation"], by_category["maintenance"], by_category["labour"]
    assert a | {"credit_code": "", "name": ""} == {
        "credit_code": "", "name": "", "category": "installation", "status": "active",
        "qualified": False, "blacklisted": False, "qualification_expired": True,
        "workers_on_file": 2, "gate_entries": 2, "violations": 2, "incidents": 1,
        "stop_orders_issued": 1, "permits_active_at_day_end": 1,
    }  # fmt: skip
    assert (b["qualified"], b["workers_on_file"], b["gate_entries"]) == (True, 1, 1)
    assert (c["status"], c["blacklisted"], c["workers_on_file"]) == ("exited", True, 0)

    # The day before: the companies were filed today, but what happened then counts; the one
    # who left today was still there, the one who joined today not yet.
    before = sf.compute(conn, world.ent, world.day - timedelta(days=1))
    assert before.figures["companies_on_file"] == 0 and before.companies == []
    assert before.figures["violations"] == 1  # B's, two hours before midnight
    assert before.figures["workers_on_file"] == 3
    assert before.figures["training_records"] == 1 and before.figures["exams_taken"] == 0
    assert before.figures["hazards_open_at_day_end"] == 1  # B's other was closed that day


def test_what_would_go_up_carries_no_personal_data(conn: psycopg.Connection, world: World) -> None:
    s = sf.compute(conn, world.ent, world.day)
    data = sf.payload(s, 1, False, datetime.now(TZ))
    text = json.dumps(data, ensure_ascii=False, default=str)
    leaked = [x for x in world.secrets if x in text]
    assert leaked == []
    for word in ("李四", "赵老师", "李监护", "姓名", "身份证"):  # offender, trainer, guardian
        assert word not in text
    assert len(world.secrets) == 4 * 5 + 1  # names, numbers, phones, codes, masks; the card
    assert sf.person_fields(data) == []
    assert set(data) == {"schema", "day", "revision", "final", "computed_at", "figures",
                         "breakdown", "companies"}  # fmt: skip
    assert set(data["figures"]) == {*sf.FIGURES, sf.AVERAGE}
    assert {k for c in data["companies"] for k in c} == set(sf.COMPANY_FIELDS)
    # The table holds exactly the figures (the migration and FIGURES agree).
    cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'contractor'"
            " AND table_name = 'daily_summary' ORDER BY ordinal_position"
        )
    ]
    assert cols[4 : 4 + len(sf.FIGURES) + 1] == [*sf.FIGURES, sf.AVERAGE]


@pytest.fixture
def feed_on(conn: psycopg.Connection) -> Iterator[None]:
    """The contractor_summary feed enabled (only it: other feeds stay as they are)."""
    was = conn.execute("SELECT enabled FROM exchange.feed WHERE kind = %s", (sf.KIND,)).fetchone()
    conn.execute("UPDATE exchange.feed SET enabled = true WHERE kind = %s", (sf.KIND,))
    yield
    conn.execute("UPDATE exchange.feed SET enabled = %s WHERE kind = %s", (was[0], sf.KIND))  # type: ignore[index]


def test_job_finalises_past_days_once_and_requeues_today_only_on_change(
    conn: psycopg.Connection, feed_on: None
) -> None:
    ent, name = make_enterprise(conn, "承包商汇总任务")
    company = _company(conn, ent, "丁防腐", "construction")
    now = datetime.now(TZ)
    today = now.date()

    def queued() -> list[tuple[str, bool, int]]:
        return [
            (r[0].split("|", 1)[1], r[1], r[2])
            for r in conn.execute(
                "SELECT key, (data->>'final')::boolean, (data->'figures'->>'violations')::int"
                " FROM exchange.outbox WHERE kind = %s AND data->>'enterprise_name' = %s"
                " ORDER BY id",
                (sf.KIND, name),
            )
        ]

    try:
        sf.contractor_summary_job(conn, now, enterprises=[ent])
        days = [today - timedelta(days=n) for n in range(sf.CATCH_UP_DAYS + 1, 0, -1)]
        assert queued() == [
            *((f"contractor|{d}|r1", True, 0) for d in days),
            (f"contractor|{today}|r1", False, 0),
        ]
        stored = conn.execute(
            "SELECT day, revision, final FROM contractor.daily_summary WHERE enterprise_id = %s"
            " ORDER BY day",
            (ent,),
        ).fetchall()
        assert stored == [*((d, 1, True) for d in days), (today, 1, False)]

        sf.contractor_summary_job(conn, now + timedelta(minutes=15), enterprises=[ent])
        assert len(queued()) == len(days) + 1  # nothing changed: nothing queued

        registers.insert(conn, TEST, "contractor_violation",
                         {"company_id": company, "occurred_at": now - timedelta(seconds=1),
                          "description": "未戴安全帽"})  # fmt: skip
        sf.contractor_summary_job(conn, now + timedelta(minutes=30), enterprises=[ent])
        assert queued()[-1] == (f"contractor|{today}|r2", False, 1)
        assert len(queued()) == len(days) + 2

        # The next day: today is finalised (revision 3), the new day starts at revision 1.
        tomorrow = now + timedelta(days=1)
        sf.contractor_summary_job(conn, tomorrow, enterprises=[ent])
        assert queued()[-2:] == [
            (f"contractor|{today}|r3", True, 1),
            (f"contractor|{today + timedelta(days=1)}|r1", False, 0),
        ]
    finally:  # nothing of this enterprise stays queued for the pushers of other tests
        conn.execute(
            "DELETE FROM exchange.outbox WHERE kind = %s AND data->>'enterprise_name' = %s",
            (sf.KIND, name),
        )


# -- the receiver's checks (pure) -------------------------------------------------------------


def _valid() -> dict[str, Any]:
    figures = dict.fromkeys(sf.FIGURES, 0) | {"workers_on_file": 5, "violations": 2}
    s = sf.Summary(0, date(2026, 11, 1), figures, None, {"workers_by_type": {"worker": 5}},
                   [{"credit_code": credit_code(), "name": "晋建安装", "category": "installation",
                     "status": "active", "qualified": True, "blacklisted": False,
                     "qualification_expired": False, "workers_on_file": 5, "gate_entries": 0,
                     "violations": 2, "incidents": 0, "stop_orders_issued": 0,
                     "permits_active_at_day_end": 0}])  # fmt: skip
    data = sf.payload(s, 2, True, datetime(2026, 11, 2, 0, 5, tzinfo=TZ))
    return {"enterprise_code": "X", "enterprise_name": "X", "key": "X|contractor|r2", **data}


def _reason(data: dict[str, Any]) -> str:
    if sf.person_fields(data):
        return "person: " + ", ".join(sf.person_fields(data))
    with pytest.raises(ItemRejected) as err:
        sf.parse(data, 1)
    return str(err.value)


def test_a_valid_item_parses_to_what_was_sent() -> None:
    data = _valid()
    summary, revision, final, computed = sf.parse(data, 7)
    assert (summary.enterprise_id, summary.day, revision, final) == (7, date(2026, 11, 1), 2, True)
    assert summary.figures["violations"] == 2 and summary.companies == data["companies"]
    assert computed == datetime(2026, 11, 2, 0, 5, tzinfo=TZ)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["figures"].update(violations=-1), "figures.violations must be a count"),
        (lambda d: d["figures"].update(gate_entries="3"), "figures.gate_entries must be a count"),
        (lambda d: d["figures"].pop("incidents"), "figures lack incidents"),
        (lambda d: d["figures"].update(work_violations=3), "work_violations 3 > violations 2"),
        (lambda d: d["figures"].update(evaluation_avg_score=80.0), "exactly when evaluations"),
        (lambda d: d.update(day="2026-13-01"), "day: not an ISO date"),
        (lambda d: d.update(day="2999-01-01"), "is in the future"),
        (lambda d: d.update(revision=0), "revision must be an integer ≥ 1"),
        (lambda d: d.update(computed_at="2026-11-02T00:05:00"), "needs an offset"),
        (lambda d: d.update(schema=2), "schema 2 is not supported"),
        (lambda d: d["figures"].update(salary=1), "unknown field(s) salary in figures"),
        (lambda d: d.update(note="x"), "unknown field(s) note in the item"),
        (lambda d: d["breakdown"].update(workers_by_name={"zhang": 1}),
         "unknown field(s) workers_by_name in breakdown"),
        (lambda d: d["breakdown"]["workers_by_type"].update({"张三": 1}), "not a category code"),
        (lambda d: d["companies"][0].update(credit_code="123"), "is not a credit code"),
        (lambda d: d["companies"][0].update(category="张三队"), "category '张三队': one of"),
        (lambda d: d.update(revision=2**31), "revision must be an integer ≥ 1"),
        (lambda d: d["companies"][0].update(rating="A"), "unknown field(s) rating in companies[0]"),
        (lambda d: d.update(persons=[{"name": "张三"}]), "person: persons"),
        (lambda d: d["companies"][0].update(contact_person="王五", phone="13800000000"),
         "person: companies[0].contact_person, companies[0].phone"),
        (lambda d: d["figures"].update(worker_id_number="1"), "person: figures.worker_id_number"),
    ],
)  # fmt: skip
def test_malformed_or_personal_items_are_refused_with_the_reason(change: Any, reason: str) -> None:
    data = _valid()
    change(data)
    assert reason in _reason(data)


def test_the_sender_refuses_to_queue_person_fields() -> None:
    s = sf.Summary(0, date(2026, 11, 1), dict.fromkeys(sf.FIGURES, 0), None, {},
                   [{"name": "晋建", "phone": "13800000000"}])  # fmt: skip
    with pytest.raises(sf.SummaryError, match=r"companies\[0\]\.phone"):
        sf.payload(s, 1, False, datetime.now(TZ))


def test_stored_rows_keep_the_highest_revision(conn: psycopg.Connection) -> None:
    ent, _ = make_enterprise(conn, "承包商汇总版本")
    day = date(2026, 3, 1)
    figures = dict.fromkeys(sf.FIGURES, 0)
    at = datetime.now(TZ)
    assert sf.store(conn, sf.Summary(ent, day, figures | {"violations": 2}, None), 2, False, at)
    assert not sf.store(conn, sf.Summary(ent, day, figures | {"violations": 1}, None), 1, True, at)
    rev, final, s = sf.stored(conn, ent, day)  # type: ignore[misc]
    assert (rev, final, s.figures["violations"]) == (2, False, 2)
    assert sf.store(conn, sf.Summary(ent, day, figures | {"violations": 3}, None), 3, True, at)
    assert sf.stored(conn, ent, day)[:2] == (3, True)  # type: ignore[index]
