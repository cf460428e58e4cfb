"""Contractor summaries upward between two real instances (C20, R9; issue 11 item 2): an
enterprise pushes its daily contractor summary, the province stores it once under the origin
enterprise, keeps the highest revision of a day, and forwards every item unchanged; malformed
items and items with personal data are refused with the reason."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import Actor
from tests.workflows.conftest import Instance, Link, drain
from tests.workflows.contractors.site import credit_code
from workflows.contractors import summary_feed as sf

ACTOR = Actor(None, "test")
ROW = (
    "SELECT s.revision, s.final, s.violations, s.companies_on_file, s.companies, s.breakdown"
    " FROM contractor.daily_summary s JOIN registry.enterprise e ON e.id = s.enterprise_id"
    " WHERE e.code = %s AND s.day = %s"
)
QUEUED = (
    "SELECT key, data FROM exchange.outbox WHERE kind = 'contractor_summary'"
    " AND data->>'enterprise_code' = %s ORDER BY key"
)


def _rows(db_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as c:
        return c.execute(query, params).fetchall()


def _violation(conn: psycopg.Connection, company: int, at: datetime) -> None:
    values = {"company_id": company, "occurred_at": at, "description": "未系安全带"}
    registers.insert(conn, ACTOR, "contractor_violation", values)


def test_summaries_arrive_once_latest_revision_wins_and_are_forwarded(
    conn: psycopg.Connection,
    db_url: str,
    province: Instance,
    link: Link,
) -> None:
    pusher, code, ent = link.pusher, link.code, link.ent
    company = registers.insert(
        conn, ACTOR, "company",
        {"enterprise_id": ent, "name": f"晋建安装-{uuid.uuid4().hex[:6]}",
         "credit_code": credit_code(), "category": "installation"},
    )  # fmt: skip
    now = datetime.now(sf.TZ)
    day = now.date()
    _violation(conn, company, now - timedelta(seconds=2))
    with psycopg.connect(province.db_url, autocommit=True) as up:  # the province has an upstream
        up.execute("UPDATE exchange.feed SET enabled = true WHERE kind = 'contractor_summary'")

    assert sf.refresh(conn, ent, day, final=False) == 1
    assert drain(conn, pusher) >= 1
    local = _rows(db_url, ROW, code, day)
    assert [r[:4] for r in local] == [(1, False, 1, 1)]
    assert _rows(province.db_url, ROW, code, day) == local  # same figures, companies, breakdown

    _violation(conn, company, now - timedelta(seconds=1))
    assert sf.refresh(conn, ent, day, final=False) == 2
    assert sf.refresh(conn, ent, day, final=False) is None  # unchanged: nothing new queued
    drain(conn, pusher)
    assert [r[:3] for r in _rows(province.db_url, ROW, code, day)] == [(2, False, 2)]

    # Answers lost on the way back: both revisions go again and count as duplicates.
    conn.execute(
        "UPDATE exchange.outbox SET sent_at = NULL WHERE kind = 'contractor_summary'"
        " AND data->>'enterprise_code' = %s",
        (code,),
    )
    res = pusher.push_once(conn)
    assert (res.sent, res.duplicates) == (2, 2)

    # A stale revision arriving late (under a key of its own) does not replace a newer one.
    (_, first), *_ = _rows(db_url, QUEUED, code)
    conn.execute(
        "INSERT INTO exchange.outbox (kind, key, data) VALUES ('contractor_summary', %s, %s)",
        (f"{code}|contractor|{day}|r1-late", Jsonb({**first, "key": f"{code}|late"})),
    )
    drain(conn, pusher)
    assert [r[:3] for r in _rows(province.db_url, ROW, code, day)] == [(2, False, 2)]

    assert sf.refresh(conn, ent, day, final=True) == 3  # the day ended
    drain(conn, pusher)
    assert [r[:3] for r in _rows(province.db_url, ROW, code, day)] == [(3, True, 2)]
    rejected = _rows(
        db_url,
        "SELECT count(*) FROM exchange.outbox WHERE kind = 'contractor_summary'"
        " AND data->>'enterprise_code' = %s AND rejected_at IS NOT NULL",
        code,
    )
    assert rejected == [(0,)]

    # Stored under the province's own row of the origin enterprise, and forwarded unchanged:
    # the province's outbox holds every accepted item with the same key and data.
    up_ent = _rows(province.db_url, "SELECT id FROM registry.enterprise WHERE code = %s", code)
    owner = _rows(
        province.db_url,
        "SELECT enterprise_id FROM contractor.daily_summary WHERE day = %s AND enterprise_id"
        " IN (SELECT id FROM registry.enterprise WHERE code = %s)",
        day,
        code,
    )
    assert owner == up_ent
    forwarded = _rows(province.db_url, QUEUED, code)
    assert forwarded == sorted((d["key"], d) for _, d in _rows(db_url, QUEUED, code))
    assert [k.rsplit("|", 1)[1] for k, _ in forwarded] == ["r1", "r2", "r3", "late"]


def test_malformed_and_personal_items_are_refused_with_the_reason(
    conn: psycopg.Connection,
    province: Instance,
    link: Link,
) -> None:
    pusher, code, name, ent = link.pusher, link.code, link.name, link.ent
    day = datetime.now(sf.TZ).date()
    good = sf.payload(sf.compute(conn, ent, day), 1, False, datetime.now(sf.TZ))
    base = {"enterprise_code": code, "enterprise_name": name, **good}
    bad: dict[str, dict[str, Any]] = {
        "negative": {**base, "figures": {**good["figures"], "violations": -1}},
        "day": {**base, "day": "2026-02-30"},
        "persons": {**base, "persons": [{"name": "张三", "id_number": "140105199001011234"}]},
        "phone": {**base, "companies": [{"name": "晋建安装", "phone": "13800000000"}]},
        "unknown": {**base, "figures": {**good["figures"], "salary_total": 5}},
    }
    for what, data in bad.items():
        conn.execute(
            "INSERT INTO exchange.outbox (kind, key, data) VALUES ('contractor_summary', %s, %s)",
            (f"{code}|contractor|bad-{what}", Jsonb({**data, "key": f"{code}|bad-{what}"})),
        )
    drain(conn, pusher)
    errors = dict(
        conn.execute(
            "SELECT split_part(key, '|bad-', 2), last_error FROM exchange.outbox"
            " WHERE kind = 'contractor_summary' AND key LIKE %s AND rejected_at IS NOT NULL",
            (f"{code}|contractor|bad-%",),
        ).fetchall()
    )
    assert set(errors) == set(bad)
    assert "figures.violations must be a count" in errors["negative"]
    assert "day: not an ISO date" in errors["day"]
    assert "person-level field(s) persons, persons[0].id_number refused" in errors["persons"]
    assert "no personal data of contractor workers leaves the enterprise" in errors["persons"]
    assert "companies[0].phone" in errors["phone"]
    assert "unknown field(s) salary_total in figures" in errors["unknown"]
    assert _rows(province.db_url, ROW, code, day) == []  # nothing stored from them
