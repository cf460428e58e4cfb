"""The regulator endpoints of gas-detector, pump and process-rule alarms on a real ``hazwatch
serve`` (P13, R5, R8, R9): a city's token and a city's user see that city's alerts only,
received and local ones alike; filters, paging and rankings count right; reviewed video alarms
join the rankings; nothing personal (acknowledging user, comment, positioning) is answered."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards.api import alerts as api
from dashboards.api.spec import Ctx
from dashboards.auth import Scope
from hazwatch import registers
from hazwatch.registers import Actor
from hazwatch.tokens import create_token
from tests.conftest import make_enterprise
from tests.dashboards.test_api import _get
from workflows import alert_feed, alerting

ACTOR = Actor(None, "test")


def _received(
    conn: psycopg.Connection, ent: int, name: str, category: str, level: str, at: datetime
) -> int:
    """An alert as the ``alert`` feed files it here (through the receiver's own parse/store)."""
    origin = f"{name}|rule|{uuid.uuid4().hex[:6]}|{at.isoformat()}"
    data = {
        "origin_key": origin, "seq": 3, "key": f"{origin}|3", "enterprise_name": name,
        "category": category, "source": "rule", "priority": "emergency", "level": level,
        "state": "firing", "value": 61.0, "summary": "GD-1 可燃气体浓度高: 危险 61",
        "labels": {"gas": "lel", "owner": "李四"}, "unit_code": "LA-1", "tag": "GD-1.LEL",
        "started_at": at.isoformat(), "fired_at": at.isoformat(),
    }  # fmt: skip
    alert_id = alert_feed.store(conn, ent, alert_feed.parse(data))
    assert alert_id is not None
    return alert_id


def _video(conn: psycopg.Connection, ent: int, state: str, at: datetime) -> None:
    conn.execute(
        "INSERT INTO video.alarm (enterprise_id, recognition, started_at, raised_at, state)"
        " VALUES (%s, 'intrusion', %s, %s, %s)",
        (ent, at, at, state),
    )


@pytest.fixture(scope="module")
def world(db_url: str) -> dict[str, Any]:
    """A 太原 enterprise with a received gas alarm, a pump alarm (acknowledged with a person's
    name in the comment, then resolved), a hardware problem, a positioning alert and two
    video alarms (one confirmed, one a false positive); a 大同 enterprise with a gas alarm."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        tag = uuid.uuid4().hex[:6]
        ty, ty_name = make_enterprise(conn, f"告警API-{tag}-太原", "太原市")
        dt, dt_name = make_enterprise(conn, f"告警API-{tag}-大同", "大同市")
        now = datetime.now(UTC).replace(microsecond=0)
        gas = _received(conn, ty, ty_name, "gas", "danger", now - timedelta(minutes=50))
        pump = alerting.raise_external_alert(
            conn, "pump", f"strategy:{tag}", "alarm",
            {"equipment": "P-101", "equipment_id": "7", "unit": "U-P"}, "机泵 P-101 振动报警",
            enterprise_id=ty, now=now - timedelta(minutes=40),
        )  # fmt: skip
        alerting.acknowledge(conn, pump, ACTOR, "张三已到现场", now=now - timedelta(minutes=39))
        alerting.resolve_external_alert(conn, "pump", f"strategy:{tag}", now=now)
        health = alerting.raise_external_alert(
            conn, "pump_health", f"GW-{tag}:offline", "warning", {"device": "GW-1"},
            "硬件自诊断：网关离线", priority="low", enterprise_id=ty,
            now=now - timedelta(minutes=30),
        )  # fmt: skip
        alerting.raise_external_alert(
            conn, "contractor_positioning", f"pos:{tag}", "alarm", {"tag": "T-9"},
            "某承包商 人员 王五 进入禁区", enterprise_id=ty, now=now - timedelta(minutes=20),
        )  # fmt: skip
        _video(conn, ty, "confirmed", now - timedelta(minutes=10))
        _video(conn, ty, "false_positive", now - timedelta(minutes=9))
        other = _received(conn, dt, dt_name, "gas", "alarm", now - timedelta(minutes=5))
        taiyuan = create_token(conn, ACTOR, f"reg-ty-al-{tag}", "regulator", region="太原市")
        datong = create_token(conn, ACTOR, f"reg-dt-al-{tag}", "regulator", region="大同市")
        region = registers.resolve(conn, "region", "太原市")
    return {
        "ty": ty, "ty_name": ty_name, "dt": dt, "dt_name": dt_name, "gas": gas, "pump": pump,
        "health": health, "other": other, "taiyuan": taiyuan, "datong": datong,
        "taiyuan_region": region,
    }  # fmt: skip


def test_a_city_token_sees_its_citys_alerts_only(web_url: str, world: dict[str, Any]) -> None:
    url = web_url + "/api/v1/alerts"
    status, page = _get(url, world["taiyuan"], enterprise_id=world["ty"], per_page=500)
    assert status == 200
    got = {(a["category"], a["level"], a["state"], a["received"]) for a in page["items"]}
    assert got == {
        ("gas", "danger", "firing", True),
        ("pump", "alarm", "resolved", False),
        ("pump_health", "warning", "firing", False),
    }  # positioning is not listed: personal data
    assert page["total"] == 3
    gas = next(a for a in page["items"] if a["category"] == "gas")
    assert (gas["id"], gas["source"], gas["unit_code"]) == (world["gas"], "rule", "LA-1")
    assert gas["labels"] == {"gas": "lel", "unit": "LA-1", "parameter": "GD-1.LEL"}
    pump = next(a for a in page["items"] if a["category"] == "pump")
    assert pump["acked_at"] is not None and pump["resolved_at"] is not None
    text = json.dumps(page, ensure_ascii=False)
    for personal in ("张三", "李四", "王五", "acked_by", "ack_comment", "assigned_to"):
        assert personal not in text
    assert "equipment_id" not in pump["labels"]

    # Another city's enterprise is not there, whatever the filter; its own city sees it.
    status, page = _get(url, world["taiyuan"], enterprise_id=world["dt"])
    assert (status, page["total"], page["items"]) == (200, 0, [])
    status, page = _get(url, world["taiyuan"], per_page=500)
    assert world["other"] not in {a["id"] for a in page["items"]}
    status, page = _get(url, world["datong"], enterprise_id=world["dt"])
    assert [a["id"] for a in page["items"]] == [world["other"]]
    assert page["items"][0]["region_name"] == "大同市"


def test_filters_and_paging(web_url: str, world: dict[str, Any]) -> None:
    url, token, ent = web_url + "/api/v1/alerts", world["taiyuan"], world["ty"]
    newest_first = [world["health"], world["pump"], world["gas"]]
    for params, expected in (
        ({"category": "gas"}, [world["gas"]]),
        ({"state": "resolved"}, [world["pump"]]),
        ({"state": "firing"}, [world["health"], world["gas"]]),
        ({"level": "alarm"}, [world["pump"]]),
        ({"priority": "low"}, [world["health"]]),
        ({"region": "140100"}, newest_first),
        ({"region": "140200"}, []),
    ):
        status, page = _get(url, token, enterprise_id=ent, **params)
        assert status == 200, page
        assert [a["id"] for a in page["items"]] == expected, params
    # Newest first, one per page.
    pages = [_get(url, token, enterprise_id=ent, per_page=1, page=n)[1] for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [3, 3, 3, 3]
    assert [[a["id"] for a in p["items"]] for p in pages] == [*([i] for i in newest_first), []]
    # A window before the alarms fired holds none of them.
    old = datetime.now(UTC) - timedelta(days=3)
    window = {"from": old.isoformat(), "to": (old + timedelta(days=1)).isoformat()}
    status, page = _get(url, token, enterprise_id=ent, **window)
    assert (status, page["total"]) == (200, 0)
    status, err = _get(url, token, category="video")
    assert status == 400 and "category" in err["message"]
    status, err = _get(url, token, state="burning")
    assert status == 400 and "state" in err["message"]


def test_rankings_by_category_level_and_area(web_url: str, world: dict[str, Any]) -> None:
    url, token = web_url + "/api/v1/alerts/stats", world["taiyuan"]
    status, stats = _get(url, token, enterprise_id=world["ty"], group_by="category")
    assert status == 200
    counts = {i["key"]: i["count"] for i in stats["items"]}
    # One each; the false positive video alarm and the positioning alert do not count.
    assert counts == {"gas": 1, "pump": 1, "pump_health": 1, "video": 1}
    assert stats["alerts"] == 4 and stats["total"] == 4
    assert [i["rank"] for i in stats["items"]] == [1, 2, 3, 4]
    status, stats = _get(url, token, enterprise_id=world["ty"], group_by="level")
    assert {i["key"]: i["count"] for i in stats["items"]} == {"danger": 1, "alarm": 2,
                                                               "warning": 1}  # fmt: skip
    status, stats = _get(url, token, enterprise_id=world["ty"], category="video")
    assert [(i["key"], i["name"], i["count"]) for i in stats["items"]] == [
        (str(world["ty"]), world["ty_name"], 1)
    ]
    status, stats = _get(url, token, group_by="city", per_page=500)
    assert status == 200 and {i["key"] for i in stats["items"]} <= {"140100"}
    status, stats = _get(url, token, group_by="enterprise", per_page=500)
    names = {i["name"] for i in stats["items"]}
    assert world["ty_name"] in names and world["dt_name"] not in names
    status, stats = _get(url, world["datong"], group_by="region", enterprise_id=world["dt"])
    assert [(i["key"], i["count"]) for i in stats["items"]] == [("140200", 1)]


def test_a_city_user_sees_its_city_only(db_url: str, world: dict[str, Any]) -> None:
    """The pages call the same handlers with the signed-in user's scope."""
    scope = Scope.for_user("regulator", None, world["taiyuan_region"])
    with psycopg.connect(db_url) as conn:
        ctx = Ctx(conn, None, scope)
        page = api.alerts(ctx, api.AlertQuery.model_validate({"per_page": 500}))
        ours = api.alerts(ctx, api.AlertQuery.model_validate({"enterprise_id": world["ty"]}))
        theirs = api.alerts(ctx, api.AlertQuery.model_validate({"enterprise_id": world["dt"]}))
        stats = api.alert_stats(
            ctx, api.AlertStatsQuery.model_validate({"group_by": "enterprise", "per_page": 500})
        )
    ids = {a.id for a in page.items}
    assert world["gas"] in ids and world["other"] not in ids
    assert ours.total == 3 and theirs.total == 0
    assert str(world["dt"]) not in {i.key for i in stats.items}
