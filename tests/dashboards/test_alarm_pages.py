"""The alarm analysis, ledger, record and audit pages (issue 7, A9-A18) in headless Chromium
against ``hazwatch serve``: they render the user's data without console or callback errors,
the record page saves cause and action (A15), the ledger page files a change request that
waits for approval (A16). Screenshots go to var/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards import i18n
from dashboards.pages import alarm_record  # noqa: F401 - registers the strings checked here
from tests.analytics.alarms.analysis_fixtures import at, make_site
from tests.dashboards.browser import assert_clean, patient, sign_in, visit, wait_for


@pytest.fixture(scope="module")
def site(db_url: str) -> dict:
    """An enterprise with A→B→C three times (A.H parent of B.H in the table), a chattering
    FI-9.H with its square-wave history in ts.sample, and a trip."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        s = make_site(conn)
        tags = {n: s.tag(conn, n) for n in ("A", "B", "C", "FI-9", "K")}
        points = {n: s.point(conn, tags[n], "H", 80.0) for n in ("A", "B", "C", "FI-9")}
        s.point(conn, tags["K"], "TRIP", None)
        conn.execute(
            "INSERT INTO registry.alarm_relation (parent_point_id, child_point_id) VALUES (%s, %s)",
            (points["A"], points["B"]),
        )
        ids = []
        for k in range(3):
            base = 3600 * k
            for n, dt in (("A", 0), ("B", 10), ("C", 30)):
                ids.append(s.record(conn, tags[n], "H", at(base + dt)))
        for t in range(0, 120, 10):
            s.record(conn, tags["FI-9"], "H", at(20000 + t))
        s.record(conn, tags["K"], "TRIP", at(7200 + 40))
        with (
            conn.cursor() as cur,
            cur.copy("COPY ts.sample (time, tag_id, value, quality) FROM STDIN") as copy,
        ):
            for t in range(120):
                copy.write_row((at(20000 + t), tags["FI-9"], 81.0 if t % 10 < 5 else 79.0, 192))
        name = conn.execute("SELECT name FROM registry.enterprise WHERE id = %s",
                            (s.enterprise_id,)).fetchone()[0]  # fmt: skip
    return {"site": s, "ids": ids, "points": points, "enterprise": name}


def test_analysis_page(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], site: dict,
    screenshots: Path,
) -> None:  # fmt: skip
    user = make_user("engineer", enterprise=site["enterprise"])
    sign_in(browser, web_url, user)
    visit(browser, web_url + "/alarms/analysis?days=300&window=600", "#aa-patterns")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "A.H → B.H → C.H" in text  # the sequence, 3 times
    assert "FI-9.H" in text and "0 / 0s / 15s → 0" in text  # the replayed remedy
    assert "K.TRIP" in text
    pairs = browser.find_element(By.ID, "aa-pairs").text
    assert "A.H" in pairs and "100% (3/3)" in pairs
    # plotly draws the causal graph once its bundle has loaded
    wait_for(browser, "#aa-graph .main-svg")
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "alarm_analysis.png"))


def test_record_page_saves_cause_and_action(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], site: dict, db_url: str,
    screenshots: Path,
) -> None:  # fmt: skip
    user = make_user("operator", enterprise=site["enterprise"])
    sign_in(browser, web_url, user)
    rid = site["ids"][0]
    visit(browser, f"{web_url}/alarms/record?id={rid}", "#ar-facts")
    browser.find_element(By.ID, "ar-cause").send_keys("进料流量波动")
    browser.find_element(By.ID, "ar-action").send_keys("调整进料阀开度")
    browser.find_element(By.ID, "ar-save").click()
    saved = i18n.t("ar.saved", "zh", author=user)
    patient(browser, 15).until(lambda d: d.find_element(By.ID, "ar-message").text == saved)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT cause, action, author FROM alarm.note WHERE record_id = %s", (rid,)
        ).fetchone()
    assert row == ("进料流量波动", "调整进料阀开度", user)
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "alarm_record.png"))


def test_ledger_page_files_a_request(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], site: dict, db_url: str,
    screenshots: Path,
) -> None:  # fmt: skip
    user = make_user("engineer", enterprise=site["enterprise"])
    sign_in(browser, web_url, user)
    visit(browser, web_url + "/alarms/ledger", "#al-table")
    browser.find_element(By.ID, "al-point").send_keys("FI-9.H")
    browser.find_element(By.ID, "al-field").send_keys("off_delay_s")
    browser.find_element(By.ID, "al-value").send_keys("15")
    browser.find_element(By.ID, "al-reason").send_keys("消除抖动报警")
    browser.find_element(By.ID, "al-submit").click()
    patient(browser, 15).until(lambda d: "#" in d.find_element(By.ID, "al-message").text)
    with psycopg.connect(db_url) as conn:
        inst = conn.execute(
            "SELECT state, level, payload -> 'changes' FROM workflow.approval_instance"
            " WHERE kind = 'alarm.ledger_change' AND requester = %s",
            (user,),
        ).fetchone()
        off = conn.execute(
            "SELECT off_delay_s FROM registry.alarm_point WHERE id = %s",
            (site["points"]["FI-9"],),
        ).fetchone()
    assert inst == ("pending", "high", {"off_delay_s": 15.0})
    assert off == (0.0,)  # not before approval
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "alarm_ledger.png"))


def test_audit_page_renders_and_reports_a_dead_endpoint(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], site: dict,
    screenshots: Path,
) -> None:  # fmt: skip
    from tests.conftest import find_free_port

    user = make_user("engineer", enterprise=site["enterprise"])
    sign_in(browser, web_url, user)
    visit(browser, web_url + "/alarms/audit", "#au-run")
    endpoint = browser.find_element(By.ID, "au-endpoint")
    endpoint.clear()
    endpoint.send_keys(f"opc.tcp://127.0.0.1:{find_free_port()}")
    browser.find_element(By.ID, "au-run").click()
    patient(browser, 30).until(
        lambda d: "cannot connect to" in d.find_element(By.ID, "au-message").text
    )
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "alarm_audit.png"))
