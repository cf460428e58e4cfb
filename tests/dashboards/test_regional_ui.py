"""The regional supervision page (D3, R8) in headless Chromium: a city regulator sees its
city's enterprises ranked by process, gas, pump and video alarms, drills down to one (its
alarm events and its gas/pump alarms), and cannot open another city's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards.api import regulator as api
from dashboards.pages.regional import by_type, city_of, enterprise_ranking, summarise
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.test_api_alerts import _received
from tests.dashboards.test_web_ui import assert_clean, sign_in, wait_for
from workflows import alerting

ACTOR = Actor(None, "test")


def _alarms(conn: psycopg.Connection, enterprise: int, n: int) -> None:
    tag = registers.insert(
        conn, ACTOR, "tag", {"enterprise_id": enterprise, "name": f"PI-{uuid.uuid4().hex[:6]}"}
    )
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, category, source)"
            " VALUES (%s, %s, 'ALM', 'HI', 'emergency', 'safety', 'test')",
            [(now - timedelta(minutes=5 + i), tag) for i in range(n)],
        )


def test_city_summary_is_counted_per_city() -> None:
    """Two enterprises of 太原市 (one registered at a county 140105) and one of 大同市: the
    county's enterprise counts for its city; completeness = fresh tags / tags."""
    ents = [
        api.Enterprise(id=1, code=None, name="a", region_code="140100", region_name="太原市",
                       major_hazard_level=None, alarms_24h=0, last_data_at=None),
        api.Enterprise(id=2, code=None, name="b", region_code="140105", region_name="小店区",
                       major_hazard_level=None, alarms_24h=0, last_data_at=None),
        api.Enterprise(id=3, code=None, name="c", region_code="140200", region_name="大同市",
                       major_hazard_level=None, alarms_24h=0, last_data_at=None),
    ]  # fmt: skip
    ranking = [
        api.Ranked(rank=1, key="2", name="b", count=7),
        api.Ranked(rank=2, key="3", name="c", count=1),
    ]
    fresh = [
        api.Freshness(enterprise_id=1, enterprise_name="a", tags=4, fresh_tags=1,
                      completeness_pct=25.0, last_data_at=None),
        api.Freshness(enterprise_id=2, enterprise_name="b", tags=6, fresh_tags=6,
                      completeness_pct=100.0, last_data_at=None),
    ]  # fmt: skip
    cities = summarise(ents, ranking, fresh)
    assert city_of("140105") == "140100"
    assert cities["140100"] == {
        "name": "太原市",
        "enterprises": 2,
        "alarms": 7,
        "process": 7,
        "gas": 0,
        "pump": 0,
        "video": 0,
        "tags": 10,
        "fresh": 7,
    }
    assert cities["140200"]["alarms"] == 1 and cities["140200"]["tags"] == 0

    # Gas, pump (vibration and hardware), video and process-rule alarms count with the events.
    alerts = {"gas": {1: 2}, "pump": {3: 1}, "pump_health": {3: 2}, "video": {2: 1},
              "process": {2: 1}}  # fmt: skip
    types = by_type(ranking, alerts)
    assert types == {"process": {2: 8, 3: 1}, "gas": {1: 2}, "pump": {3: 3}, "video": {2: 1}}
    cities = summarise(ents, ranking, fresh, types)
    assert (cities["140100"]["alarms"], cities["140100"]["gas"]) == (11, 2)
    assert (cities["140200"]["alarms"], cities["140200"]["pump"]) == (4, 3)
    ranked = enterprise_ranking(ents, types)
    assert [(r["rank"], r["name"], r["total"]) for r in ranked] == [
        (1, "b", 9), (2, "c", 4), (3, "a", 2)
    ]  # fmt: skip


def test_regulator_ranking_drill_down_and_scope(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    ours, our_name = make_enterprise(conn, "区域页太原", "太原市")
    theirs, their_name = make_enterprise(conn, "区域页大同", "大同市")
    _alarms(conn, ours, 4)
    _alarms(conn, theirs, 9)
    now = datetime.now(UTC).replace(microsecond=0)
    _received(conn, ours, our_name, "gas", "danger", now - timedelta(minutes=3))
    _received(conn, theirs, their_name, "gas", "alarm", now - timedelta(minutes=3))
    alerting.raise_external_alert(
        conn, "pump", f"strategy:{uuid.uuid4().hex[:6]}", "alarm", {"unit": "U-P"},
        "机泵振动报警", enterprise_id=ours, now=now - timedelta(minutes=2),
    )  # fmt: skip

    sign_in(browser, web_url, make_user("regulator", region="太原市"))
    wait_for(browser, "#overview-table")
    browser.get(web_url + "/regional")
    ranking = wait_for(browser, "#regional-ranking")
    assert our_name in ranking.text and their_name not in ranking.text
    row = next(r for r in ranking.find_elements(By.CSS_SELECTOR, "tbody tr") if our_name in r.text)
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[2:8] == ["太原市", "4", "1", "1", "0", "6"]  # process, gas, pump, video, total
    wait_for(browser, "#rg-gas")
    wait_for(browser, "#regional-by-type .main-svg")
    assert "大同市" not in wait_for(browser, "#regional-cities").text
    wait_for(browser, "#regional-map .main-svg")  # plotly drew the map
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "regional.png"))

    browser.find_element(By.LINK_TEXT, our_name).click()
    events = wait_for(browser, "#regional-ent-events")
    assert len(events.find_elements(By.CSS_SELECTOR, "tbody tr")) == 4
    alerts = wait_for(browser, "#regional-ent-alerts")
    assert len(alerts.find_elements(By.CSS_SELECTOR, "tbody tr")) == 2
    assert "可燃/有毒气体报警" in alerts.text and "危险" in alerts.text
    assert wait_for(browser, "#page-title").text == our_name
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "regional-enterprise.png"))

    browser.get(web_url + f"/regional/enterprise?id={theirs}")
    wait_for(browser, "#regional-ent-missing")
    assert their_name not in browser.find_element(By.TAG_NAME, "body").text
    assert_clean(browser)


def test_operators_are_refused(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], conn: psycopg.Connection
) -> None:
    ent, _ = make_enterprise(conn, "区域页操作员", "太原市")
    sign_in(browser, web_url, make_user("operator", enterprise=str(ent)))
    wait_for(browser, "#overview-table")
    browser.get(web_url + "/regional")
    wait_for(browser, "#hw-forbidden")
    assert not browser.find_elements(By.ID, "regional-content")
