"""The risk monitoring page (R2-R5) and the regulator reports (R8) in headless Chromium: a city
regulator sees its city's supervised process unit in alarm with its SIS bypassed, the warehouse,
the loading area's grounding alarm and the gas detectors, on a desktop and a phone; another
city's enterprise stays hidden; the daily report ranks the enterprise and downloads as PDF."""

from __future__ import annotations

import io
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.test_web_ui import assert_clean, sign_in, wait_for
from workflows import hazard_units as hu
from workflows import regional_reports as rr

ACTOR = Actor(None, "test")


def _point(conn: psycopg.Connection, ent: int, unit: int, name: str, role: str,
           value: float, limits: dict[str, float] | None = None, **kw: object) -> int:  # fmt: skip
    tag = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ent, "name": name})
    for cond, limit in (limits or {}).items():
        values = {"tag_id": tag, "condition": cond, "limit_value": limit, "priority": "high",
                  "category": "safety"}  # fmt: skip
        registers.insert(conn, ACTOR, "alarm_point", values)
    hu.add_point(conn, ACTOR, unit, tag, role, **kw)  # type: ignore[arg-type]
    conn.execute(
        "INSERT INTO ts.sample (time, tag_id, value) VALUES (now() - interval '20 s', %s, %s)",
        (tag, value),
    )
    return tag


def _plant(conn: psycopg.Connection, ent: int) -> None:
    def unit(code: str, kind: str) -> int:
        values = {"enterprise_id": ent, "code": code, "name": f"{code} 单元", "kind": kind,
                  "hazard_code": f"HZ-{code}"}  # fmt: skip
        return registers.insert(conn, ACTOR, "unit", values)

    r1, wh, la = unit("R-1", "unit"), unit("WH-1", "warehouse"), unit("LA-1", "loading_area")
    hu.link_process(conn, ACTOR, r1, "氯化工艺")
    _point(conn, ent, r1, "TI-101", "key_parameter", 92.0, {"H": 80.0, "HH": 90.0},
           parameter="氯化反应釜温度")  # fmt: skip
    _point(conn, ent, r1, "IS-101.BYP", "sis_bypass", 1.0)
    hu.add_chemical(conn, ACTOR, wh, "氯酸钾", cas_no="3811-04-9", max_stock_t=40.0,
                    critical_quantity_t=100.0)  # fmt: skip
    _point(conn, ent, wh, "TH-1.TEMP", "temperature", 24.5, {"H": 30.0})
    hu.set_loading_area(conn, ACTOR, la, ["liquefied_hydrocarbon"], bays=2, major_hazard=True)
    _point(conn, ent, la, "LB-1.GND", "static_grounding", 1.0)
    sensor = registers.insert(conn, ACTOR, "sensor", {"enterprise_id": ent, "code": "GD-LA1-07",
                                                      "kind": "gas_combustible"})  # fmt: skip
    _point(conn, ent, la, "GD-LA1-07.LEL", "gas_combustible", 3.0, {"H": 20.0, "HH": 50.0},
           sensor_id=sensor)  # fmt: skip


def test_report_content_is_built_from_the_query_results() -> None:
    period = rr.report_period("weekly", date(2026, 11, 25))
    assert (period.label, period.start.isoformat()) == ("2026-W47", "2026-11-15T16:00:00+00:00")
    assert rr.report_period("monthly", date(2026, 1, 10)).label == "2025-12"
    ent = SimpleNamespace(id=1, region_code="140105", region_name="小店区")
    ent2 = SimpleNamespace(id=2, region_code="140200", region_name="大同市")
    data = {
        "enterprises": [ent, ent2],
        "ranking": [SimpleNamespace(rank=1, key="1", name="甲", count=30),
                    SimpleNamespace(rank=2, key="2", name="乙", count=10)],
        "by_category": [SimpleNamespace(key="safety", count=40)],
        "by_priority": [SimpleNamespace(key="high", count=40)],
        "alarms": 40,
        "freshness": [SimpleNamespace(enterprise_id=1, enterprise_name="甲", tags=10,
                                      fresh_tags=0, completeness_pct=0.0)],
        "hourly": {1: (240, 120)},
        "units": [{"enterprise": "甲", "code": "A", "name": "a", "warning": "normal",
                   "sis": "none", "since": None},
                  {"enterprise": "甲", "code": "B", "name": "b", "warning": "alarm",
                   "sis": "tripped", "since": None}],
    }  # fmt: skip
    doc = rr.build_report(data, period, "山西省")
    assert doc["by_enterprise"][0] == {"rank": 1, "name": "甲", "city": "小店区", "count": 30,
                                       "share": 75.0, "process": 30, "gas": 0, "pump": 0,
                                       "video": 0}  # fmt: skip
    assert [(c["name"], c["count"]) for c in doc["by_city"]] == [("小店区", 30), ("大同市", 10)]
    assert doc["freshness"][0]["avg_pct"] == 50.0 and doc["summary"]["stale"] == 1
    assert [u["code"] for u in doc["units"]] == ["B", "A"] and doc["summary"]["units_alarm"] == 1
    page = rr.render_html(doc, "zh", datetime(2026, 11, 25, tzinfo=UTC))
    assert "周报" in page and "联锁动作" in page and "75.0%" in page
    assert "weekly report" in rr.render_html(doc, "en")


def test_regulator_sees_hazard_units_and_reports(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    ours, our_name = make_enterprise(conn, "风险监测太原", "太原市")
    theirs, _ = make_enterprise(conn, "风险监测大同", "大同市")
    _plant(conn, ours)
    _plant(conn, theirs)
    tag = registers.insert(conn, ACTOR, "tag", {"enterprise_id": ours,
                                                "name": f"PI-{uuid.uuid4().hex[:5]}"})  # fmt: skip
    yesterday = rr.report_period("daily", datetime.now(rr.TZ).date())
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, category, source)"
            " VALUES (%s, %s, 'ALM', 'HI', 'high', 'safety', 'test')",
            [(yesterday.start + timedelta(hours=2, minutes=i), tag) for i in range(7)],
        )

    sign_in(browser, web_url, make_user("regulator", region="太原市"))
    wait_for(browser, "#overview-table")
    browser.get(web_url + f"/hazard?enterprise={ours}")
    assert "报警" in wait_for(browser, "#hz-state-R-1").text
    assert "旁路" in wait_for(browser, "#hz-sis-R-1").text
    assert "报警" in wait_for(browser, "#hz-state-LA-1").text  # grounding disconnected
    assert "正常" in wait_for(browser, "#hz-state-WH-1").text
    assert "氯酸钾" in wait_for(browser, "#hz-chem-WH-1").text
    assert "氯化反应釜温度" in wait_for(browser, "#hz-points-R-1").text
    assert "GD-LA1-07" in wait_for(browser, "#hz-gas").text
    assert wait_for(browser, "#hz-stat-alarm").text.startswith("2")
    assert "风险监测大同" not in wait_for(browser, "#hz-enterprises").text
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "hazard-units.png"))
    browser.set_window_size(390, 844)
    try:
        browser.refresh()
        wait_for(browser, "#hz-gas")
        assert_clean(browser)
        browser.save_screenshot(str(screenshots / "hazard-units-phone.png"))
    finally:
        browser.set_window_size(1280, 900)

    browser.get(web_url + f"/hazard?enterprise={theirs}")
    wait_for(browser, "#hz-missing")
    assert_clean(browser)

    browser.get(web_url + "/regional/reports?kind=daily")
    wait_for(browser, "#rr-frame")
    assert_clean(browser)
    browser.switch_to.frame(browser.find_element(By.ID, "rr-frame"))
    ranking = wait_for(browser, "#rr-by-enterprise").text
    units = browser.find_element(By.ID, "rr-units").text
    browser.switch_to.default_content()
    assert our_name in ranking and "风险监测大同" not in ranking
    assert "R-1 R-1 单元" in units and "报警" in units
    browser.save_screenshot(str(screenshots / "regional-reports.png"))

    cookies = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    req = urllib.request.Request(  # noqa: S310 (127.0.0.1)
        web_url + "/regional/reports/daily.pdf", headers={"Cookie": cookies}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        assert resp.headers["Content-Type"] == "application/pdf"
        pdf = resp.read()
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF") and our_name in text and "日报" in text
