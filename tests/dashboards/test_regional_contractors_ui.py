"""The regulators' contractor page (C20, D3, R8) in headless Chromium: a city regulator sees
its city's enterprises' contractor figures for the chosen days (state of the last day, counts
summed), a bar chart of the chosen figure and a table sortable by any column; another city's
enterprise is not shown; the page speaks English on request; operators are refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards.pages.regional_contractors import per_enterprise
from tests.conftest import make_enterprise
from tests.dashboards.browser import assert_clean, patient, pick, sign_in, wait_for, wait_text
from tests.dashboards.test_contractor_summary_api import store_days

#: Days no other test writes summaries for (the session database is shared).
DAYS = [date(2025, 6, 10), date(2025, 6, 11)]
PAGE = "/regional/contractors?from=2025-06-10&to=2025-06-11&figure=violations"


def _order(browser: WebDriver) -> list[str]:
    """Enterprise names as the grid shows them, top to bottom (the pinned first column)."""
    rows = browser.find_elements(By.CSS_SELECTOR, "#rc-grid .ag-pinned-left-cols-container .ag-row")
    shown = sorted(rows, key=lambda r: int(r.get_attribute("row-index") or 0))
    return [r.text for r in shown]


def test_regulator_sees_charts_and_sorts_its_citys_contractor_figures(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    ty1, ty1_name = make_enterprise(conn, f"承包商页{tag}甲", "太原市")
    ty2, ty2_name = make_enterprise(conn, f"承包商页{tag}乙", "太原市")
    dt, dt_name = make_enterprise(conn, f"承包商页{tag}丙", "大同市")
    store_days(conn, ty1, DAYS, [3, 4], incidents=1)
    store_days(conn, ty2, DAYS, [10, 0])
    store_days(conn, dt, DAYS, [50, 50])

    sign_in(browser, web_url, make_user("regulator", region="太原市"))
    wait_for(browser, "#overview-table")
    browser.get(web_url + PAGE)
    wait_for(browser, "#rc-grid .ag-row")
    patient(browser).until(lambda d: len(_order(d)) == 2, message=f"two rows: {_order(browser)}")
    assert set(_order(browser)) == {ty1_name, ty2_name}  # not the Datong enterprise
    assert dt_name not in browser.find_element(By.TAG_NAME, "body").text
    # Counts are summed over the days, the state figures are the last day's.
    assert wait_for(browser, "#rc-violations .hw-stat-value").text == "17"
    assert wait_for(browser, "#rc-workers .hw-stat-value").text == "12"  # 6 + 6 on 11 June
    assert wait_for(browser, "#rc-incidents .hw-stat-value").text == "2"
    wait_for(browser, "#rc-chart .main-svg")
    wait_text(browser, "#rc-chart .gtitle", "违章")
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "regional-contractors.png"))

    header = "#rc-grid .ag-header-cell[col-id='violations']"
    browser.find_element(By.CSS_SELECTOR, header).click()  # ascending: 7, 10
    patient(browser).until(lambda d: _order(d) == [ty1_name, ty2_name], message="ascending")
    browser.find_element(By.CSS_SELECTOR, header).click()  # descending: 10, 7
    patient(browser).until(lambda d: _order(d) == [ty2_name, ty1_name], message="descending")

    pick(browser, "#rc-figure", "事故事件")
    wait_text(browser, "#rc-chart .gtitle", "事故事件")
    assert_clean(browser)

    browser.find_element(By.ID, "hw-lang").click()  # English: the page reloads
    wait_text(browser, "#page-title", "Contractor management by enterprise")
    wait_text(browser, "#rc-grid .ag-header-cell[col-id='violations']", "Violations")
    assert_clean(browser)
    browser.find_element(By.ID, "hw-lang").click()  # back to Chinese for the other tests
    wait_text(browser, "#page-title", "承包商管理情况")


def test_the_range_is_aggregated_per_enterprise() -> None:
    """State of the last day, counts summed, the pass rate over all exams."""
    from dashboards.api.contractor_summary import ContractorDay
    from workflows.contractors import summary_feed as sf

    def day(d: int, workers: int, violations: int, taken: int, passed: int) -> object:
        figures = dict.fromkeys(sf.FIGURES, 0) | {
            "workers_on_file": workers, "violations": violations, "exams_taken": taken,
            "exams_passed": passed,
        }  # fmt: skip
        return ContractorDay(
            enterprise_id=1, enterprise_code=None, enterprise_name="甲", region_code="140100",
            region_name="太原市", day=date(2025, 6, d), final=d < 3, revision=1,
            computed_at="2025-06-12T00:00:00+08:00", **figures, evaluation_avg_score=None,
            exam_pass_rate_pct=None, breakdown={}, companies=None,
        )  # fmt: skip

    (row,) = per_enterprise([day(2, 7, 1, 4, 1), day(1, 9, 2, 0, 0), day(3, 8, 0, 4, 4)])
    assert (row["workers_on_file"], row["violations"], row["days_reported"]) == (8, 3, 3)
    assert row["exam_pass_rate_pct"] == 62.5 and row["last_day"] == "2025-06-03"
    assert row["running"] is True and row["evaluation_avg_score"] is None


def test_operators_are_refused(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], conn: psycopg.Connection
) -> None:
    ent, _ = make_enterprise(conn, "承包商页操作员", "太原市")
    sign_in(browser, web_url, make_user("operator", enterprise=str(ent)))
    wait_for(browser, "#overview-table")
    browser.get(web_url + PAGE)
    wait_for(browser, "#hw-forbidden")
    assert not browser.find_elements(By.ID, "rc-content")
