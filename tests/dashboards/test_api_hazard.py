"""The risk-monitoring REST endpoints (R2-R5, A19, R8, R9) on a real ``hazwatch serve``:
hazard units with their warning and SIS state, one unit's points, daily KPIs across
enterprises, the 18 supervised processes; region scoping, paging, filters and clear 400s.
(The OpenAPI fuzzing of every endpoint, these included, is tests/dashboards/test_api.py.)

The session database is shared: every assertion counts this module's own enterprises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from hazwatch import registers
from hazwatch.registers import Actor
from tests.dashboards.conftest import api_get as _get
from tests.dashboards.conftest import two_cities
from workflows import hazard_units as hu

ACTOR = Actor(None, "test")
TAIYUAN, DATONG = "140100", "140200"


def _unit(conn: psycopg.Connection, ent: int, code: str, kind: str = "unit") -> int:
    values = {"enterprise_id": ent, "code": code, "name": f"{code} 单元", "kind": kind,
              "hazard_code": f"HZ-{code}"}  # fmt: skip
    return registers.insert(conn, ACTOR, "unit", values)


def _point(conn: psycopg.Connection, ent: int, unit: int, name: str, role: str, value: float,
           limits: dict[str, float] | None = None, eng_unit: str | None = None,
           **kw: Any) -> int:  # fmt: skip
    tag = registers.insert(
        conn, ACTOR, "tag", {"enterprise_id": ent, "name": name, "eng_unit": eng_unit}
    )
    for cond, limit in (limits or {}).items():
        values = {"tag_id": tag, "condition": cond, "limit_value": limit, "priority": "high",
                  "category": "safety"}  # fmt: skip
        registers.insert(conn, ACTOR, "alarm_point", values)
    hu.add_point(conn, ACTOR, unit, tag, role, **kw)
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (now() - interval '20 s', %s, %s)",
        (tag, value),
    )
    return tag


def _plant(conn: psycopg.Connection, ent: int) -> dict[str, int]:
    """A nitration unit in alarm with its SIS bypassed, a warehouse in normal state, a loading
    area with its grounding disconnected; 3 alarm activations on the reactor temperature."""
    r1, wh, la = (
        _unit(conn, ent, "R-1"),
        _unit(conn, ent, "WH-1", "warehouse"),
        _unit(conn, ent, "LA-1", "loading_area"),
    )
    hu.link_process(conn, ACTOR, r1, 4)  # 硝化工艺
    ti = _point(conn, ent, r1, "TI-101", "key_parameter", 92.0, {"H": 80.0, "HH": 90.0}, "℃",
                parameter="硝化反应釜内温度")  # fmt: skip
    _point(conn, ent, r1, "IS-101.BYP", "sis_bypass", 1.0)
    hu.add_chemical(conn, ACTOR, wh, "硝酸铵", cas_no="6484-52-2", max_stock_t=80.0,
                    critical_quantity_t=50.0)  # fmt: skip
    _point(conn, ent, wh, "TH-1.TEMP", "temperature", 24.5, {"H": 30.0}, "℃")
    hu.set_loading_area(conn, ACTOR, la, ["liquefied_hydrocarbon"], bays=2, major_hazard=True)
    _point(conn, ent, la, "LB-1.GND", "static_grounding", 1.0)
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, category, source)"
            " VALUES (%s, %s, 'ALM', 'HH', 'high', 'safety', 'test')",
            [(now - timedelta(minutes=5 + i), ti) for i in range(3)],
        )
    return {"R-1": r1, "WH-1": wh, "LA-1": la}


def _kpi(conn: psycopg.Connection, day: date, ent: int, unit: int | None, alarms: int) -> None:
    conn.execute(
        "INSERT INTO hazard.kpi_daily (day, enterprise_id, unit_id, alarms, acked_30s,"
        " handled_30min, standing_over_24h, peak_10min, by_priority, by_type)"
        " VALUES (%s, %s, %s, %s, %s, %s, 0, 4, %s, %s)",
        (day, ent, unit, alarms, alarms // 2, alarms // 4, Jsonb({"high": alarms}),
         Jsonb({"process": alarms, "bogus": "x"})),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(db_url: str) -> dict[str, Any]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        world = two_cities(conn, "风险API")
        ty1, ty2, dt = world["ty1"], world["ty2"], world["dt"]
        ty1_units, dt_units = _plant(conn, ty1), _plant(conn, dt)
        # ty2: an azo unit in normal state, and a unit known only by the state it reported
        # from below (no points at this level).
        r2 = _unit(conn, ty2, "R-2")
        hu.link_process(conn, ACTOR, r2, 18)
        _point(conn, ty2, r2, "TI-201", "key_parameter", 40.0, {"H": 60.0}, "℃",
               parameter="偶氮化反应釜内温度")  # fmt: skip
        rx = _unit(conn, ty2, "RX-9")
        since = datetime.now(UTC) - timedelta(hours=3)
        detail = {"alarms": 0, "warnings": 2, "unknown": 1, "points": 6}
        hu.store_change(conn, hu.StateChange(rx, since, "warning", "normal", None, None, detail))
        # A recorded change for R-1, as the scheduler would have written it.
        r1_since = datetime.now(UTC) - timedelta(minutes=30)
        hu.store_change(conn, hu.StateChange(ty1_units["R-1"], r1_since, "alarm", "bypassed",
                                             "normal", "normal", {}))  # fmt: skip
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=d) for d in (1, 2, 3)]
        for i, day in enumerate(days):
            _kpi(conn, day, ty1, None, 40 + i)
            _kpi(conn, day, ty1, ty1_units["R-1"], 30 + i)
            _kpi(conn, day, ty2, None, 100 + i)
            _kpi(conn, day, dt, None, 7)
        _kpi(conn, today - timedelta(days=200), ty1, None, 1)
    return world | {
        "ty1_units": ty1_units, "dt_units": dt_units, "r2": r2, "rx": rx, "since": since,
        "r1_since": r1_since, "days": days,
    }  # fmt: skip


def _units(web_url: str, token: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return _get(web_url + "/api/v1/hazard-units", token, **params)


def test_a_city_token_sees_its_own_city_units_only(web_url: str, world: dict[str, Any]) -> None:
    ty, dt = world["taiyuan"], world["datong"]
    status, page = _units(web_url, ty, enterprise_id=world["ty1"])
    assert status == 200 and page["total"] == 3
    by_code = {u["code"]: u for u in page["items"]}
    assert set(by_code) == {"R-1", "WH-1", "LA-1"}
    r1 = by_code["R-1"]
    assert (r1["kind"], r1["warning_state"], r1["sis_state"]) == ("process", "alarm", "bypassed")
    assert r1["processes"] == [{"id": 4, "name": "硝化工艺"}]
    assert (r1["point_count"], r1["points_alarm"], r1["alarms_24h"]) == (2, 1, 3)
    assert r1["state_source"] == "derived" and r1["region_code"] == TAIYUAN
    assert datetime.fromisoformat(r1["last_change"]) == world["r1_since"]
    assert (by_code["LA-1"]["kind"], by_code["LA-1"]["warning_state"]) == ("loading_area", "alarm")
    assert (by_code["WH-1"]["kind"], by_code["WH-1"]["warning_state"]) == ("warehouse", "normal")
    assert by_code["WH-1"]["sis_state"] == "none" and by_code["WH-1"]["last_change"] is None

    # Another city's enterprise: not listed, not found by id (404, no existence leak).
    status, page = _units(web_url, ty, enterprise_id=world["dt"])
    assert status == 200 and page["total"] == 0 and page["items"] == []
    status, page = _units(web_url, ty, region=DATONG, per_page=500)
    assert status == 200 and page["total"] == 0
    dt_r1 = world["dt_units"]["R-1"]
    status, err = _get(web_url + f"/api/v1/hazard-units/{dt_r1}", ty)
    assert status == 404 and f"no hazard unit {dt_r1}" in err["message"]
    status, detail = _get(web_url + f"/api/v1/hazard-units/{dt_r1}", dt)
    assert status == 200 and detail["region_code"] == DATONG
    status, page = _units(web_url, dt, enterprise_id=world["ty1"])
    assert page["total"] == 0

    # The whole city: ours are there, the other city's are not.
    status, page = _units(web_url, ty, region=TAIYUAN, per_page=500)
    ids = {u["id"] for u in page["items"]}
    assert set(world["ty1_units"].values()) <= ids and not ids & set(world["dt_units"].values())


def test_received_units_report_their_stored_state(web_url: str, world: dict[str, Any]) -> None:
    status, page = _units(web_url, world["taiyuan"], enterprise_id=world["ty2"])
    assert status == 200 and page["total"] == 2
    rx = next(u for u in page["items"] if u["id"] == world["rx"])
    assert (rx["state_source"], rx["warning_state"], rx["sis_state"]) == (
        "received", "warning", "normal",
    )  # fmt: skip
    assert (rx["point_count"], rx["points_warning"], rx["points_unknown"]) == (6, 2, 1)
    assert datetime.fromisoformat(rx["last_change"]) == world["since"]
    assert rx["kind"] == "other" and rx["processes"] == []


def test_filters_and_pages(web_url: str, world: dict[str, Any]) -> None:
    ty, ent = world["taiyuan"], world["ty1"]
    codes = lambda page: {u["code"] for u in page["items"]}  # noqa: E731

    assert codes(_units(web_url, ty, enterprise_id=ent, kind="warehouse")[1]) == {"WH-1"}
    assert codes(_units(web_url, ty, enterprise_id=ent, state="alarm")[1]) == {"R-1", "LA-1"}
    assert codes(_units(web_url, ty, enterprise_id=ent, sis="bypassed")[1]) == {"R-1"}
    assert codes(_units(web_url, ty, enterprise_id=ent, process_id=4)[1]) == {"R-1"}
    assert _units(web_url, ty, enterprise_id=ent, process_id=18)[1]["total"] == 0
    status, page = _units(web_url, ty, region=TAIYUAN, process_id=18, per_page=500)
    assert status == 200 and world["r2"] in {u["id"] for u in page["items"]}

    seen = []
    for n in (1, 2, 3):
        status, page = _units(web_url, ty, enterprise_id=ent, per_page=1, page=n)
        assert status == 200 and page["total"] == 3 and len(page["items"]) == 1
        seen.append(page["items"][0]["code"])
    assert sorted(seen) == ["LA-1", "R-1", "WH-1"]
    status, page = _units(web_url, ty, enterprise_id=ent, per_page=2, page=3)
    assert status == 200 and page["total"] == 3 and page["items"] == []


def test_one_unit_with_its_points(web_url: str, world: dict[str, Any]) -> None:
    r1 = world["ty1_units"]["R-1"]
    status, unit = _get(web_url + f"/api/v1/hazard-units/{r1}", world["taiyuan"])
    assert status == 200 and unit["code"] == "R-1" and unit["warning_state"] == "alarm"
    points = {p["tag"]: p for p in unit["points"]}
    ti = points["TI-101"]
    assert (ti["role"], ti["parameter"], ti["value"], ti["eng_unit"]) == (
        "key_parameter", "硝化反应釜内温度", 92.0, "℃",
    )  # fmt: skip
    assert ti["limits"] == {"HH": 90.0, "H": 80.0, "L": None, "LL": None}
    assert ti["state"] == "alarm" and ti["active_conditions"] == ["HH"]
    assert points["IS-101.BYP"]["role"] == "sis_bypass" and points["IS-101.BYP"]["value"] == 1.0

    wh = world["ty1_units"]["WH-1"]
    status, unit = _get(web_url + f"/api/v1/hazard-units/{wh}", world["taiyuan"])
    assert unit["chemicals"] == [{"name": "硝酸铵", "cas_no": "6484-52-2", "max_stock_t": 80.0,
                                  "critical_quantity_t": 50.0}]  # fmt: skip
    assert unit["points"][0]["state"] == "normal" and unit["loading_area"] is None
    la = world["ty1_units"]["LA-1"]
    status, unit = _get(web_url + f"/api/v1/hazard-units/{la}", world["taiyuan"])
    assert unit["loading_area"] == {"kinds": ["liquefied_hydrocarbon"], "bays": 2,
                                    "major_hazard": True}  # fmt: skip
    assert [(p["role"], p["state"]) for p in unit["points"]] == [("static_grounding", "alarm")]


def test_daily_kpis_compare_enterprises_of_the_city(web_url: str, world: dict[str, Any]) -> None:
    ty, days = world["taiyuan"], world["days"]
    url = web_url + "/api/v1/kpis/daily"
    window = {"from": days[-1].isoformat(), "to": days[0].isoformat()}
    status, page = _get(url, ty, enterprise_id=world["ty1"], **window)
    assert status == 200 and page["total"] == 3
    assert [i["day"] for i in page["items"]] == [d.isoformat() for d in days]  # newest first
    first = page["items"][0]
    assert (first["alarms"], first["acked_30s"], first["acked_30s_pct"]) == (40, 20, 50.0)
    assert first["alarms_per_hour"] == round(40 / 24, 2) and first["unit_id"] is None
    assert first["by_priority"] == {"high": 40} and first["by_type"] == {"process": 40}
    assert first["region_code"] == TAIYUAN

    # The city's ranking for one day: ours in order, the other city's enterprise absent.
    day = {"from": days[1].isoformat(), "to": days[1].isoformat()}
    status, page = _get(url, ty, region=TAIYUAN, order="alarms", per_page=500, **day)
    ours = [i["enterprise_id"] for i in page["items"] if i["enterprise_id"] in (
        world["ty1"], world["ty2"])]  # fmt: skip
    assert ours == [world["ty2"], world["ty1"]]
    assert world["dt"] not in {i["enterprise_id"] for i in page["items"]}
    status, page = _get(url, world["datong"], enterprise_id=world["ty1"], **window)
    assert status == 200 and page["total"] == 0

    status, page = _get(url, ty, enterprise_id=world["ty1"], by="unit", **window)
    assert page["total"] == 3 and {i["unit_code"] for i in page["items"]} == {"R-1"}
    status, page = _get(url, ty, unit_id=world["ty1_units"]["R-1"], per_page=2, page=2, **window)
    assert page["total"] == 3 and len(page["items"]) == 1 and page["items"][0]["alarms"] == 32

    # Default window: the last 30 days (the row 200 days ago is outside it).
    status, page = _get(url, ty, enterprise_id=world["ty1"])
    assert status == 200 and page["total"] == 3
    status, page = _get(url, ty, enterprise_id=world["ty1"],
                        **{"from": (days[0] - timedelta(days=250)).isoformat()})  # fmt: skip
    assert page["total"] == 4


def test_the_18_processes(web_url: str, world: dict[str, Any]) -> None:
    url = web_url + "/api/v1/processes"
    status, page = _get(url, world["datong"])
    assert (
        status == 200
        and page["total"] == 18
        and [p["id"] for p in page["items"]] == list(range(1, 19))
    )
    phosgene = page["items"][0]
    assert phosgene["name"] == "光气及光气化工艺" and phosgene["batch"] == 1
    names = [p["name"] for p in phosgene["parameters"]]
    assert names[:2] == ["一氧化碳含水量", "氯气含水量"]
    assert phosgene["control_requirements"].endswith("双电源供电。")
    assert phosgene["checked_against"].startswith("https://")
    status, page = _get(url, world["datong"], batch=2)
    assert [p["name"] for p in page["items"]] == ["新型煤化工工艺", "电石生产工艺", "偶氮化工艺"]
    status, page = _get(url, world["datong"], per_page=5, page=4)
    assert page["total"] == 18 and [p["id"] for p in page["items"]] == [16, 17, 18]


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/api/v1/hazard-units", {"state": "red"}, ["state", "normal"]),
        ("/api/v1/hazard-units", {"kind": "tank"}, ["kind", "warehouse"]),
        ("/api/v1/hazard-units", {"region": "1401"}, ["region", "pattern"]),
        ("/api/v1/hazard-units", {"process_id": "0"}, ["process_id", "greater than"]),
        ("/api/v1/hazard-units", {"enterprise_id": "abc"}, ["enterprise_id", "integer"]),
        ("/api/v1/hazard-units", {"per_page": "0"}, ["per_page"]),
        ("/api/v1/hazard-units", {"colour": "red"}, ["colour"]),
        ("/api/v1/hazard-units/1", {"page": "x"}, ["page"]),
        ("/api/v1/kpis/daily", {"from": "2026-11-05", "to": "2026-11-01"},
         ["'from' must not be after 'to'"]),
        ("/api/v1/kpis/daily", {"from": "2024-01-01", "to": "2026-01-01"}, ["at most 366 days"]),
        ("/api/v1/kpis/daily", {"from": "1999-12-31"}, ["'from' must be between"]),
        ("/api/v1/kpis/daily", {"to": "2026-02-30"}, ["to", "date"]),
        ("/api/v1/kpis/daily", {"unit_id": "5", "by": "enterprise"}, ["unit_id needs by=unit"]),
        ("/api/v1/kpis/daily", {"order": "name"}, ["order"]),
        ("/api/v1/processes", {"batch": "3"}, ["batch", "less than or equal"]),
    ],
)  # fmt: skip
def test_bad_parameters_get_a_400_naming_them(
    web_url: str, world: dict[str, Any], path: str, params: dict[str, str], words: list[str]
) -> None:
    status, err = _get(web_url + path, world["taiyuan"], **params)
    assert status == 400 and err["code"] == "bad request", err
    for word in words:
        assert word in err["message"], err["message"]


def test_tokens_are_required(web_url: str, world: dict[str, Any]) -> None:
    for path in ("/api/v1/hazard-units", "/api/v1/kpis/daily", "/api/v1/processes"):
        assert _get(web_url + path, None)[0] == 401
    status, err = _get(web_url + "/api/v1/hazard-units/99999999999", world["taiyuan"])
    assert status == 404 and err["code"] == "not found"
    status, doc = _get(web_url + "/api/openapi.json", None)
    assert {"/api/v1/hazard-units", "/api/v1/hazard-units/{unit_id}", "/api/v1/kpis/daily",
            "/api/v1/processes"} <= set(doc["paths"])  # fmt: skip
