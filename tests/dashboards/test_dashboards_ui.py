"""Grafana-style dashboards (D1) and the overview by unit (issue 5, item 6) in headless
Chromium against ``hazwatch serve``: create, edit with field errors, save, the time picker,
URL state across a reload, drag-to-zoom, drill-down to the tag page, JSON export / import,
duplicate, no console errors, and screenshots (desktop and a 390x844 phone)."""

from __future__ import annotations

import json
import math
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards import app as _app  # noqa: F401  (registers the pages' strings)
from dashboards import i18n
from dashboards.panels.defaults import PLANT_OVERVIEW_UID, provision_defaults
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.browser import assert_clean, fetch, patient, sign_in, wait_for

TEST = Actor(None, "test")
TAGS = ("TEP-XMEAS07", "TEP-XMEAS09", "TEP-XMEAS08", "TEP-XMEAS12", "TEP-XMEAS15")


@pytest.fixture(scope="module")
def plant(db_url: str) -> dict[str, Any]:
    """An enterprise with a unit, the demo plant's key tags (two days of 1-minute samples up
    to now), a ledger entry, alarm events, and the provisioned "装置概览" dashboard."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, name = make_enterprise(conn, "看板企业")
        unit = registers.insert(
            conn, TEST, "unit", {"enterprise_id": ent, "code": "TEP", "name": "反应单元"}
        )
        tags = {
            t: registers.insert(conn, TEST, "tag", {"enterprise_id": ent, "unit_id": unit,
                                                    "name": t, "eng_unit": "kPa"})
            for t in TAGS
        }  # fmt: skip
        registers.insert(
            conn, TEST, "alarm_point",
            {"tag_id": tags["TEP-XMEAS07"], "condition": "H", "limit_value": 2719.5,
             "priority": "high", "category": "process"},
        )  # fmt: skip
        with conn.cursor().copy("COPY ts.sample (time, tag_id, value) FROM STDIN") as copy:
            for i in range(2 * 24 * 60):
                t = now - timedelta(minutes=i)
                for k, tag in enumerate(tags.values()):
                    base = 2706.0 if k == 0 else 100.0 + k
                    copy.write_row((t, tag, base + 10 * math.sin(i / 90.0)))
        for minutes, kind in ((90, "ALM"), (60, "RTN"), (20, "ALM")):
            conn.execute(
                "INSERT INTO alarm.event (time, tag_id, kind, condition, priority, value, source)"
                " VALUES (%s, %s, %s, 'H', 'high', 2721, 'test')",
                (now - timedelta(minutes=minutes), tags["TEP-XMEAS07"], kind),
            )
        provision_defaults(conn, ent)
    return {"ent": ent, "name": name, "unit": unit, "tags": tags}


def _query(driver: WebDriver) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query)


def _wait_graphs(driver: WebDriver, n: int = 1) -> list[Any]:
    patient(driver, 20).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".dv-graph .main-svg")) >= n
    )
    return driver.find_elements(By.CSS_SELECTOR, ".dv-graph")


def test_create_edit_save_and_view(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], plant: dict[str, Any]
) -> None:
    sign_in(browser, web_url, make_user("engineer"))
    wait_for(browser, "#overview-count")
    browser.find_element(By.ID, "nav-nav.dashboards").click()
    wait_for(browser, "#dl-new-title")
    title = f"测试看板-{time.time_ns() % 10**6}"
    browser.find_element(By.ID, "dl-new-title").send_keys(title)
    browser.find_element(By.ID, "dl-create").click()
    wait_for(browser, "#de-form")
    assert "/dashboard-edit/" in browser.current_url
    uid = browser.current_url.rsplit("/", 1)[1]

    # Invalid panel: every problem is named at its field, nothing is added.
    browser.find_element(By.ID, "de-p-thresholds").send_keys("abc:red")
    browser.find_element(By.ID, "de-add").click()
    errors = wait_for(browser, "#de-form-errors")
    assert "panel.title" in errors.text and "'abc' is not a number" in errors.text
    assert "panel.tags" in errors.text
    assert not browser.find_elements(By.ID, "de-panel-list")

    browser.find_element(By.ID, "de-p-title").send_keys("反应器压力")
    browser.find_element(By.ID, "de-p-tags").send_keys("TEP-XMEAS07, $tag")
    thresholds = browser.find_element(By.ID, "de-p-thresholds")
    thresholds.send_keys(Keys.CONTROL, "a")  # clear() bypasses React's change event
    thresholds.send_keys(Keys.BACKSPACE)
    thresholds.send_keys("2710:orange, 2714:red")
    browser.find_element(By.ID, "de-add").click()
    patient(browser, 10).until(lambda d: "反应器压力" in d.find_element(By.ID, "de-panels").text)
    assert not browser.find_elements(By.ID, "de-form-errors")
    browser.find_element(By.ID, "de-save").click()
    patient(browser, 10).until(
        lambda d: d.find_element(By.ID, "de-save-msg").text == i18n.t("de.saved", "zh", version=2)
    )
    assert_clean(browser)

    browser.find_element(By.ID, "de-view").click()
    wait_for(browser, "#dv-grid")
    assert browser.find_element(By.ID, "page-title").text == title
    _wait_graphs(browser)
    assert "ts.sample" in browser.find_element(By.CSS_SELECTOR, ".dv-source").text
    assert_clean(browser)

    # Quick range: written into the URL.
    def picked_24h(d: WebDriver) -> bool:
        # A click that lands while the view is still wiring its callbacks (a loaded machine)
        # is lost; clicking again sets the same range, so click until the URL says so.
        if _query(d).get("from") == ["now-24h"]:
            return True
        d.find_element(By.XPATH, "//button[contains(@id, 'now-24h')]").click()
        return False

    patient(browser, 20).until(picked_24h)
    patient(browser, 15).until(  # the page is drawn again from the new URL
        lambda d: "ts.sample_1m" in d.find_element(By.CSS_SELECTOR, ".dv-source").text
    )

    # A shared address with variables and an absolute range restores the same view.
    start = datetime.now(UTC) - timedelta(hours=30)
    end = start + timedelta(hours=12)
    tag = plant["tags"]["TEP-XMEAS09"]
    query = urllib.parse.urlencode([
        ("from", str(int(start.timestamp() * 1000))), ("to", str(int(end.timestamp() * 1000))),
        ("var-enterprise", plant["ent"]), ("var-tag", tag),
    ])  # fmt: skip
    browser.get(f"{web_url}/d/{uid}?{query}")
    _wait_graphs(browser)
    shown_from = browser.find_element(By.ID, "dv-from").get_attribute("value")
    browser.refresh()
    _wait_graphs(browser)
    assert browser.find_element(By.ID, "dv-from").get_attribute("value") == shown_from
    assert shown_from == (start + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    assert _query(browser)["var-tag"] == [str(tag)]
    graph_text = browser.find_element(By.CSS_SELECTOR, ".dv-graph").text
    assert "TEP-XMEAS07" in graph_text and "TEP-XMEAS09" in graph_text  # $tag from the URL
    assert_clean(browser)


def test_zoom_and_drill_down_on_the_provisioned_dashboard(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    plant: dict[str, Any],
    screenshots: Path,
) -> None:
    sign_in(browser, web_url, make_user("operator"))
    wait_for(browser, "#overview-count")
    browser.get(
        f"{web_url}/d/{PLANT_OVERVIEW_UID}?from=now-24h&to=now&var-enterprise={plant['ent']}"
    )
    graphs = _wait_graphs(browser, 5)
    patient(browser, 15).until(
        lambda d: "TEP-XMEAS08" in d.find_element(By.ID, "dv-panel-key-table").text
    )
    assert browser.find_element(By.ID, "page-title").text == "装置概览"
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "dashboard.png"))

    # Drag-to-zoom across the first chart: an absolute range lands in the URL.
    drag = graphs[0].find_element(By.CSS_SELECTOR, ".nsewdrag")
    width = drag.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        drag, -width // 4, 0
    ).click_and_hold().move_by_offset(width // 3, 0).release().perform()
    patient(browser, 15).until(lambda d: _query(d).get("from", [""])[0].isdigit())
    q = _query(browser)
    assert int(q["to"][0]) - int(q["from"][0]) < 24 * 3600 * 1000 * 0.5
    assert q["var-enterprise"] == [str(plant["ent"])]
    patient(browser, 15).until(  # drawn again: the picker shows the absolute range
        lambda d: not d.find_element(By.ID, "dv-from").get_attribute("value").startswith("now")
    )
    graphs = _wait_graphs(browser, 5)
    assert_clean(browser)

    # A click on the series opens the tag's page, keeping the range.
    drag = graphs[0].find_element(By.CSS_SELECTOR, ".nsewdrag")
    ActionChains(browser).move_to_element(drag).pause(0.5).click().perform()
    patient(browser, 15).until(lambda d: "/tags/" in d.current_url)
    assert browser.current_url.split("?")[0].endswith(f"/tags/{plant['tags']['TEP-XMEAS07']}")
    wait_for(browser, "#tag-trend .main-svg")
    assert browser.find_element(By.ID, "page-title").text.startswith("TEP-XMEAS07")
    assert "2,719.5" in browser.find_element(By.ID, "tag-ledger").text
    events = browser.find_element(By.ID, "tag-events").text
    assert events.count("ALM") == 2 and "RTN" in events
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "tag.png"))

    # The table's tag links drill down too.
    browser.back()
    link = wait_for(browser, "#dv-panel-key-table .dv-tag-link")
    link.click()
    patient(browser, 15).until(lambda d: "/tags/" in d.current_url)

    browser.set_window_size(390, 844)
    try:
        browser.get(f"{web_url}/d/{PLANT_OVERVIEW_UID}?var-enterprise={plant['ent']}")
        _wait_graphs(browser, 5)
        panel = browser.find_element(By.ID, "dv-panel-pressure")
        assert panel.size["width"] <= 390  # one column on a phone
        browser.save_screenshot(str(screenshots / "dashboard-phone.png"))
        assert_clean(browser)
    finally:
        browser.set_window_size(1280, 900)


def _download(driver: WebDriver, path: str) -> Any:
    """What the export link downloads, fetched in the page (the session's cookie goes along)."""
    status, text = fetch(driver, path)
    assert status == 200, text[:300]
    return json.loads(text)


def test_export_import_duplicate_and_delete(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    plant: dict[str, Any],
    tmp_path: Path,
) -> None:
    sign_in(browser, web_url, make_user("engineer"))
    wait_for(browser, "#overview-count")
    browser.get(web_url + "/dashboards")
    wait_for(browser, f"#dl-open-{PLANT_OVERVIEW_UID}")
    exported = _download(browser, f"/dashboards/export/{PLANT_OVERVIEW_UID}.json")
    assert exported["uid"] == PLANT_OVERVIEW_UID and exported["title"] == "装置概览"

    exported["title"] = "导入的概览"
    good = tmp_path / "board.json"
    good.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "坏", "panels": [{"type": "pie", "tags": []}]}))
    browser.get(web_url + "/dashboards")
    wait_for(browser, "#dl-upload")
    upload = browser.find_element(By.CSS_SELECTOR, "#dl-upload input[type=file]")
    upload.send_keys(str(bad))
    errors = wait_for(browser, "#dl-errors")
    assert "panels[0].type: 'pie'" in errors.text and "panels[0].title" in errors.text
    assert "bad.json" in browser.find_element(By.ID, "dl-msg").text
    upload = browser.find_element(By.CSS_SELECTOR, "#dl-upload input[type=file]")
    upload.send_keys(str(good))
    patient(browser, 15).until(
        lambda d: (
            i18n.t("dl.imported", "zh", title="导入的概览") in d.find_element(By.ID, "dl-msg").text
        )
    )
    link = browser.find_element(
        By.XPATH, "//a[contains(@class, 'dl-open') and text()='导入的概览']"
    )
    new_uid = link.get_attribute("id").removeprefix("dl-open-")
    assert new_uid != PLANT_OVERVIEW_UID  # taken: imported under a fresh uid
    again = _download(browser, f"/dashboards/export/{new_uid}.json")
    assert {k: v for k, v in again.items() if k != "uid"} == {
        k: v for k, v in exported.items() if k != "uid"
    }

    browser.get(web_url + "/dashboards")
    wait_for(browser, f"#dl-open-{new_uid}")
    browser.find_element(By.CSS_SELECTOR, f"[id*='\"uid\":\"{new_uid}\"'][id*='dl-dup']").click()
    patient(browser, 15).until(
        lambda d: "导入的概览（副本）" in d.find_element(By.ID, "dl-table").text
    )
    # The provisioned board is not this engineer's: no delete button; its own import has one.
    assert not browser.find_elements(By.CSS_SELECTOR, f"[id*='{PLANT_OVERVIEW_UID}'][id*='dl-del']")
    browser.find_element(By.CSS_SELECTOR, f"[id*='\"uid\":\"{new_uid}\"'][id*='dl-del']").click()
    patient(browser, 15).until(lambda d: not d.find_elements(By.ID, f"dl-open-{new_uid}"))
    assert_clean(browser)


def test_overview_lists_units_with_alarm_state(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    plant: dict[str, Any],
    screenshots: Path,
) -> None:
    sign_in(browser, web_url, make_user("regulator", region="太原市"))
    units = wait_for(browser, "#overview-units")
    rows = [r.text for r in units.find_elements(By.CSS_SELECTOR, "tbody tr")]
    ours = [r for r in rows if plant["name"] in r]
    assert len(ours) == 1
    assert "TEP 反应单元" in ours[0] and "高 × 1" in ours[0] and "正常" in ours[0]
    assert rows.index(ours[0]) == 0 or "×" in rows[0]  # alarmed units first
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "overview-units.png"))
    # A regulator views dashboards but has no create, import, edit or delete controls.
    browser.get(web_url + "/dashboards")
    wait_for(browser, f"#dl-open-{PLANT_OVERVIEW_UID}")
    assert not browser.find_element(By.ID, "dl-create").is_displayed()
    assert not browser.find_elements(By.CSS_SELECTOR, "[id*='dl-del'], [id*='dl-dup']")
    assert_clean(browser)

    browser.set_window_size(390, 844)
    try:
        browser.get(web_url + "/")
        units = wait_for(browser, "#overview-units")
        assert units.size["width"] <= 390
        cells = units.find_elements(By.CSS_SELECTOR, "tbody tr td")
        assert cells and cells[0].value_of_css_property("display") == "block"  # rows as cards
        browser.execute_script("arguments[0].scrollIntoView()", units)
        browser.save_screenshot(str(screenshots / "overview-units-phone.png"))
        assert_clean(browser)
    finally:
        browser.set_window_size(1280, 900)
