"""The alarm KPI page (issue 7, A4-A19) in headless Chromium against ``hazwatch serve``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from analytics.alarms.build import build
from hazwatch.rollups.catalog import ALARM_ROLLUPS
from hazwatch.rollups.engine import refresh
from tests.analytics.alarms.kpi_fixtures import make_plant, write_events
from tests.dashboards.browser import assert_clean, patient, sign_in, wait_for


def test_kpi_page_shows_the_plant(
    conn: psycopg.Connection,
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    screenshots: Path,
) -> None:
    """Yesterday 10:00 local-ish: a flood of 12 alarms 30 s apart in U2 (acked +10 s) and a
    chattering tag (3 activations in 50 s) in U1 -> 15 alarms, 12 acked within 30 s = 80 %,
    peak 12 in 10 minutes (target ≤ 10: not met), 1 flood, 1 chattering tag."""
    plant = make_plant(conn)
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=2, minute=0, second=0,
                                                          microsecond=0)  # fmt: skip
    events = []
    for i in range(12):
        events += [(f"F-{i}@U2", 30 * i, "ALM", "H"), (f"F-{i}@U2", 30 * i + 10, "ACK", "H"),
                   (f"F-{i}@U2", 30 * i + 20, "RTN", "H")]  # fmt: skip
    for s in (3600, 3620, 3650):
        events += [("C-1", s, "ALM", "H", "low", "instrument"), ("C-1", s + 5, "RTN", "H")]
    write_events(conn, plant, events, day=day)
    build(conn)
    # Other tests of the session may have moved the rollups' watermark past yesterday: then
    # these records are late data, seen after the next refresh (the scheduler's job).
    for rollup in ALARM_ROLLUPS:
        refresh(conn, rollup)

    user = make_user("engineer")
    sign_in(browser, web_url, user)
    wait_for(browser, "#page-title")
    browser.get(f"{web_url}/alarms/kpi?enterprise={plant.enterprise_id}")
    wait_for(browser, "#akpi-cards")
    patient(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#akpi-alarms .hw-stat-value").text == "15"
    )
    value = {
        key: browser.find_element(By.CSS_SELECTOR, f"#akpi-{key} .hw-stat-value").text
        for key in ("alarms", "ack_within_30s_pct", "peak_10min", "floods", "chattering_tags")
    }
    assert value == {"alarms": "15", "ack_within_30s_pct": "80.0", "peak_10min": "12",
                     "floods": "1", "chattering_tags": "1"}  # fmt: skip
    peak = browser.find_element(By.ID, "akpi-peak_10min")
    assert "hw-bad" in (peak.get_attribute("class") or "") and "≤ 10" in peak.text
    assert "C-1" in browser.find_element(By.ID, "akpi-chattering").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#akpi-floods tbody tr")) == 1
    assert browser.find_element(By.ID, "akpi-timeline")
    links = browser.find_elements(By.CSS_SELECTOR, "#akpi-records a.akpi-record-link")
    assert len(links) == 15 and "/alarms/record?id=" in (links[0].get_attribute("href") or "")
    assert "报警绩效" in browser.find_element(By.ID, "page-title").text
    browser.save_screenshot(str(screenshots / "alarm_kpis.png"))
    assert_clean(browser)

    # Narrowed to unit U1 in the URL: only the chattering tag's 3 alarms.
    browser.get(f"{web_url}/alarms/kpi?enterprise={plant.enterprise_id}&unit={plant.unit_id}")
    wait_for(browser, "#akpi-cards")
    patient(browser, 20).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#akpi-alarms .hw-stat-value").text == "3"
    )
    assert_clean(browser)
