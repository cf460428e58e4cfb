"""``GET /api/v1/contractors/summary`` on a real ``hazwatch serve`` (C20, R8): the contractor
summaries of the token's region only, filtered by days, region and enterprise, paged, with
clear errors; counts only (no personal data of contractor workers)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
import pytest

from tests.dashboards.conftest import api_get as _get
from tests.dashboards.conftest import two_cities
from tests.workflows.contractors.site import credit_code
from workflows.contractors import summary_feed as sf

#: Days no other test writes summaries for (the session database is shared).
DAYS = [date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)]
URL = "/api/v1/contractors/summary"


def store_days(
    conn: psycopg.Connection, ent: int, days: list[date], violations: list[int], **extra: int
) -> None:
    """Summaries as an enterprise below would have sent them (the last day still running)."""
    company = {
        "credit_code": credit_code(), "name": "晋建安装", "category": "installation",
        "status": "active", "qualified": True, "blacklisted": False,
        "qualification_expired": False, "workers_on_file": 5, "gate_entries": 4,
        "violations": 1, "incidents": 0, "stop_orders_issued": 0, "permits_active_at_day_end": 1,
    }  # fmt: skip
    for i, (day, n) in enumerate(zip(days, violations, strict=True)):
        figures = dict.fromkeys(sf.FIGURES, 0) | {
            "companies_on_file": 1, "workers_on_file": 5 + i, "violations": n,
            "exams_taken": 4, "exams_passed": 3, "evaluations_completed": 1, **extra,
        }  # fmt: skip
        summary = sf.Summary(ent, day, figures, 82.5, {"workers_by_type": {"worker": 5}},
                             [company])  # fmt: skip
        sf.store(conn, summary, 1, i < len(days) - 1, datetime.now(sf.TZ))


@pytest.fixture(scope="module")
def world(db_url: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        world = two_cities(conn, "承包商API")
        store_days(conn, world["ty1"], DAYS, [1, 2, 3])
        store_days(conn, world["ty2"], DAYS, [0, 0, 7])
        store_days(conn, world["dt"], DAYS, [9, 9, 9])
    return world


def _days(web_url: str, token: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return _get(web_url + URL, token, **{"from": "2025-05-01", "to": "2025-05-03", **params})


def test_a_city_regulator_gets_its_citys_summaries_only(
    web_url: str, world: dict[str, Any]
) -> None:
    status, page = _days(web_url, world["taiyuan"], per_page=500)
    assert status == 200
    ours = [i for i in page["items"] if i["enterprise_id"] in (world["ty1"], world["ty2"])]
    assert len(ours) == 6
    assert all(i["enterprise_id"] != world["dt"] for i in page["items"])
    assert [i["day"] for i in page["items"]] == sorted((i["day"] for i in page["items"]),
                                                       reverse=True)  # fmt: skip
    first = next(i for i in ours if i["enterprise_id"] == world["ty1"] and i["day"] == "2025-05-02")
    assert (first["violations"], first["workers_on_file"], first["final"]) == (2, 6, True)
    assert first["region_name"] == "太原市" and first["region_code"] == "140100"
    assert first["exam_pass_rate_pct"] == 75.0 and first["evaluation_avg_score"] == 82.5
    assert first["breakdown"] == {"workers_by_type": {"worker": 5}}
    assert first["companies"] is None  # only when asked for
    assert all(sf.person_fields(i) == [] for i in page["items"])

    # Another city's enterprise is not found, not even by id; the Datong token sees it.
    status, page = _days(web_url, world["taiyuan"], enterprise_id=world["dt"])
    assert status == 200 and (page["total"], page["items"]) == (0, [])
    status, page = _days(web_url, world["taiyuan"], region="140200")
    assert status == 200 and page["total"] == 0
    status, page = _days(web_url, world["datong"], enterprise_id=world["dt"])
    assert [i["violations"] for i in page["items"]] == [9, 9, 9]
    status, page = _days(web_url, world["datong"], enterprise_id=world["ty1"])
    assert page["total"] == 0


def _ok(web_url: str, token: str, **params: Any) -> dict[str, Any]:
    status, page = _days(web_url, token, **params)
    assert status == 200, page
    return page


def test_filters_paging_and_companies(web_url: str, world: dict[str, Any]) -> None:
    ty1, token = world["ty1"], world["taiyuan"]
    p1 = _ok(web_url, token, enterprise_id=ty1, per_page=2)
    p2 = _ok(web_url, token, enterprise_id=ty1, per_page=2, page=2)
    assert p1["total"] == p2["total"] == 3
    days = [i["day"] for i in p1["items"] + p2["items"]]
    assert days == ["2025-05-03", "2025-05-02", "2025-05-01"]
    assert p1["items"][0]["final"] is False  # the running day
    final = _ok(web_url, token, enterprise_id=ty1, final_only="true")
    assert [i["day"] for i in final["items"]] == ["2025-05-02", "2025-05-01"]
    one = _ok(web_url, token, enterprise_id=ty1, **{"from": "2025-05-02", "to": "2025-05-02"})
    assert [i["violations"] for i in one["items"]] == [2]
    region = _ok(web_url, token, region="140100", per_page=500)
    assert {world["ty1"], world["ty2"]} <= {i["enterprise_id"] for i in region["items"]}
    comp = _ok(web_url, token, enterprise_id=ty1, companies="true")
    (company,) = comp["items"][0]["companies"]
    assert company["name"] == "晋建安装" and company["workers_on_file"] == 5
    assert set(company) == set(sf.COMPANY_FIELDS)


def test_bad_requests_get_clear_errors(web_url: str, world: dict[str, Any]) -> None:
    token = world["taiyuan"]
    assert _get(web_url + URL, None)[0] == 401
    for params, words in (
        ({"from": "2025-05-03", "to": "2025-05-01"}, "'from' must not be after 'to'"),
        ({"from": "2025-13-01"}, "from"),
        ({"from": "2024-01-01", "to": "2025-05-01"}, "at most 366 days"),
        ({"to": "1999-12-31"}, "days lie between 2000-01-01 and 2100-12-31"),
        ({"region": "Taiyuan"}, "region"),
        ({"person": "张三"}, "person"),
        ({"companies": "maybe"}, "companies"),
    ):
        status, err = _get(web_url + URL, token, **params)
        assert status == 400 and words in err["message"], (params, err)
