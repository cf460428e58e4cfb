"""The regulator REST API on a real ``hazwatch serve`` (R8, R9, D3): scoping by the token's
region in SQL, paging, validation, the OpenAPI document, and schemathesis fuzzing it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.tokens import create_token
from tests.dashboards.conftest import api_get as _get  # test_api_alerts imports it from here
from tests.dashboards.conftest import two_cities

ACTOR = Actor(None, "test")


@pytest.fixture(scope="module")
def world(db_url: str) -> dict[str, Any]:
    """Two enterprises in 太原市 with alarms, one in 大同市, and tokens for both cities."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        world = two_cities(conn, "监管API")
        tag, ty1, ty2, dt = world["tag"], world["ty1"], world["ty2"], world["dt"]
        now = datetime.now(UTC)
        for ent, n in ((ty1, 5), (ty2, 2), (dt, 7)):
            tid = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": f"TI-{tag}"})
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, category,"
                    " operator, source) VALUES (%s, %s, 'ALM', 'HI', 'high', 'process',"
                    " '张三', 'test')",
                    [(now - timedelta(minutes=10 + i), tid) for i in range(n)],
                )
            conn.execute(
                "INSERT INTO ts.sample (time, tag_id, value) VALUES (%s, %s, 1.0)", (now, tid)
            )
        ingest = create_token(conn, ACTOR, f"ing-{tag}", "ingest", enterprise=str(ty1))
    return world | {"ingest": ingest}


def test_a_city_regulator_sees_its_city_only(web_url: str, world: dict[str, Any]) -> None:
    status, page = _get(web_url + "/api/v1/enterprises", world["taiyuan"], q=world["tag"])
    assert status == 200
    assert {e["id"] for e in page["items"]} == {world["ty1"], world["ty2"]}
    assert page["total"] == 2
    first = next(e for e in page["items"] if e["id"] == world["ty1"])
    assert first["alarms_24h"] == 5 and first["region_name"] == "太原市"
    assert first["last_data_at"] is not None

    # Another city's enterprise is not found by id either: 404, not 403 (no existence leak).
    status, err = _get(web_url + f"/api/v1/enterprises/{world['dt']}", world["taiyuan"])
    assert status == 404 and "no enterprise" in err["message"]
    status, detail = _get(web_url + f"/api/v1/enterprises/{world['dt']}", world["datong"])
    assert status == 200 and detail["alarms_24h_by_priority"] == [{"key": "high", "count": 7}]

    status, events = _get(web_url + "/api/v1/alarms/events", world["taiyuan"], per_page=500)
    names = {e["enterprise_name"] for e in events["items"]}
    assert world["ty1_name"] in names and world["dt_name"] not in names
    assert all("operator" not in e for e in events["items"])  # personal data stays home


def test_rankings_count_and_page(web_url: str, world: dict[str, Any]) -> None:
    status, stats = _get(
        web_url + "/api/v1/alarms/stats", world["taiyuan"], group_by="enterprise", per_page=500
    )
    assert status == 200
    ours = [i for i in stats["items"] if world["tag"] in i["name"]]
    assert [("-甲-" in i["name"], i["count"]) for i in ours] == [(True, 5), (False, 2)]
    assert ours[0]["rank"] < ours[1]["rank"]
    status, p1 = _get(web_url + "/api/v1/enterprises", world["taiyuan"], q=world["tag"], per_page=1)
    status, p2 = _get(
        web_url + "/api/v1/enterprises", world["taiyuan"], q=world["tag"], per_page=1, page=2
    )
    assert p1["total"] == p2["total"] == 2
    assert {p1["items"][0]["id"], p2["items"][0]["id"]} == {world["ty1"], world["ty2"]}
    status, p9 = _get(web_url + "/api/v1/regions", world["taiyuan"], page=999)
    assert status == 200 and p9["items"] == [] and p9["total"] >= 1


def test_bad_requests_get_clear_errors(web_url: str, world: dict[str, Any]) -> None:
    url = web_url + "/api/v1/alarms/events"
    assert _get(url, None)[0] == 401
    status, err = _get(url, world["ingest"])
    assert status == 403 and "not a regulator token" in err["message"]
    status, err = _get(url, world["taiyuan"], per_page=5000)
    assert status == 400 and "per_page" in err["message"]
    status, err = _get(url, world["taiyuan"], **{"from": "2026-11-02T00:00:00"})
    assert status == 400 and "from" in err["message"] and "timezone" in err["message"]
    status, err = _get(
        url,
        world["taiyuan"],
        **{"from": "2026-11-02T00:00:00+08:00", "to": "2026-11-01T00:00+08:00"},
    )
    assert status == 400 and "'from' must be before 'to'" in err["message"]
    status, err = _get(url, world["taiyuan"], colour="red")
    assert status == 400 and "colour" in err["message"]
    status, err = _get(web_url + "/api/v1/enterprises/99999999999", world["taiyuan"])
    assert status == 404


def test_openapi_document_is_valid_and_fuzzing_finds_no_server_error(
    web_url: str, world: dict[str, Any], tmp_path: Path
) -> None:
    status, doc = _get(web_url + "/api/openapi.json", None)
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert {
        "/api/v1/enterprises",
        "/api/v1/enterprises/{enterprise_id}",
        "/api/v1/alarms/stats",
    } <= set(doc["paths"])
    exe = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [
            str(exe), "run", web_url + "/api/openapi.json",
            "--url", web_url,
            "--header", f"Authorization: Bearer {world['taiyuan']}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "40",
            "--workers", "1",
            "--seed", "20261122",
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout, run.stdout[-3000:]
