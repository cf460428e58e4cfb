"""Contractor operations in headless Chromium against ``hazwatch serve`` (issue 10, second
half; C12-C19): an administrator scores an evaluation on the page and the result equals the
sum worked out by hand; a contractor applies for removal from the blacklist on the page and
the entry leaves the list once the enterprise has approved; a contractor sees nothing of
another company; the positioning and work pages load cleanly. Screenshots in
``var/screenshots/``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from hazwatch import registers
from hazwatch.registers import Actor
from tests.dashboards.conftest import browser, make_user, screenshots, web_url  # noqa: F401
from tests.dashboards.test_web_ui import assert_clean, sign_in, wait_for
from tests.workflows.contractors.ops_helpers import approved_entry, person
from tests.workflows.contractors.site import TEST, Site, make_site
from workflows import approvals
from workflows.contractors import evaluation as ev
from workflows.contractors import lists, positioning, stop_work
from workflows.contractors.positioning import Reading


def _type(driver: WebDriver, element_id: str, text: str) -> None:
    el = driver.find_element(By.ID, element_id)
    el.send_keys(Keys.CONTROL, "a")  # clear() does not reach React's state
    el.send_keys(Keys.DELETE)
    el.send_keys(text)


def _wait_text(driver: WebDriver, element_id: str, text: str, timeout: float = 15) -> str:
    try:
        # The element is replaced while a callback answers: look it up again each time.
        WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,
                                                           NoSuchElementException)).until(
            lambda d: text in d.find_element(By.ID, element_id).text
        )  # fmt: skip
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text[:3000]
        raise AssertionError(f"no {text!r} in #{element_id}; page: {body}") from None
    return str(WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
               .until(lambda d: d.find_element(By.ID, element_id).text))  # fmt: skip


def _evaluation(conn: psycopg.Connection, site: Site) -> int:
    """The records and template of the hand-worked example (see the test's docstring)."""
    c = site.company_id
    at = datetime(2026, 10, 3, 9, tzinfo=UTC)
    registers.insert(
        conn,
        TEST,
        "contractor_incident",
        {"company_id": c, "kind": "机械伤害", "level": "minor", "occurred_at": at},
    )
    for n in range(2):
        registers.insert(conn, TEST, "contractor_violation",
                         {"company_id": c, "occurred_at": at.replace(day=5 + n),
                          "description": f"违章{n}"})  # fmt: skip
    tid = ev.save_template(conn, TEST, {"enterprise_id": site.enterprise_id, "code": "UI",
                                        "name": "页面评价", "stage": "acceptance",
                                        "pass_score": 75})  # fmt: skip
    for code, source, metric, weight, rule in (
        ("inc", "auto", "incidents", 40, {"per_level": {"minor": 20}}),
        ("vio", "auto", "violations", 20, {"per": 10}),
        ("overall", "manual", None, 40, {}),
    ):
        ev.save_item(
            conn,
            TEST,
            tid,
            {
                "code": code,
                "name": f"项{code}",
                "source": source,
                "metric": metric,
                "weight": weight,
                "rule": rule,
            },
        )
    return ev.start_evaluation(
        conn,
        TEST,
        template_id=tid,
        company_id=c,
        period_from=date(2026, 10, 1),
        period_to=date(2026, 10, 31),
    )


def test_evaluation_scored_on_the_page_equals_the_hand_sum(
    browser: WebDriver,  # noqa: F811
    web_url: str,  # noqa: F811
    db_url: str,
    make_user: object,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    """October 2026: one minor incident (20 points) → 80, weight 40; two violations (10 each)
    → 80, weight 20; overall performance scored 95 on the page, weight 40.

    (40·80 + 20·80 + 40·95) / (40 + 20 + 40) = (3200 + 1600 + 3800) / 100 = 86.00 ≥ 75.
    """
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
        other = make_site(conn)
        eid = _evaluation(conn, site)
        other_eid = _evaluation(conn, other)
    admin = make_user("admin")  # type: ignore[operator]
    sign_in(browser, web_url, admin)
    wait_for(browser, "#hw-user-name")
    browser.get(f"{web_url}/contractors/evaluation?e={eid}")
    wait_for(browser, "#cev-scores")
    scores = browser.find_element(By.ID, "cev-scores").text
    assert "80" in scores
    _type(browser, "cev-m-score", "95")
    _type(browser, "cev-m-comment", "全过程表现良好")
    browser.find_element(By.ID, "cev-m-save").click()
    _wait_text(browser, "cev-score-msg", "95")
    browser.find_element(By.ID, "cev-finalise").click()
    result = _wait_text(browser, "cev-result", "86.00")
    assert "合格" in result and "不合格" not in result
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "contractor-evaluation.png"))
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, total, passed FROM contractor.evaluation WHERE id = %s", (eid,)
        ).fetchone()
        assert row is not None and (row[0], float(row[1]), row[2]) == ("final", 86.0, True)
        listed = lists.qualified_list(conn, enterprise_ids=[site.enterprise_id])
        assert [q["company"] for q in listed] == [site.company]
    # the contractor of the other company sees its own evaluation only
    sign_in(browser, web_url, other.contractor)
    wait_for(browser, "#hw-user-name")
    browser.get(f"{web_url}/contractors/evaluation?e={eid}")
    wait_for(browser, "#cev-evaluations")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert site.company not in page and other.company in page
    assert browser.find_element(By.ID, "cev-scores").text == "暂无"
    assert not browser.find_element(By.ID, "cev-finalise").is_displayed()
    assert f"{other_eid} {other.company}" in browser.find_element(By.ID, "cev-evaluations").text
    assert_clean(browser)


def test_blacklist_removal_applied_on_the_page(
    browser: WebDriver,  # noqa: F811
    web_url: str,  # noqa: F811
    db_url: str,
    screenshots: Path,  # noqa: F811
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
        other = make_site(conn)
        entry_id = lists.add_to_blacklist(conn, TEST, company_id=site.company_id,
                                          reason="发生一般生产安全事故")  # fmt: skip
        lists.add_to_blacklist(conn, TEST, company_id=other.company_id, reason="别家单位的原因")
    sign_in(browser, web_url, site.contractor)
    wait_for(browser, "#hw-user-name")
    browser.get(f"{web_url}/contractors/lists")
    wait_for(browser, "#cbl-blacklist")
    table = browser.find_element(By.ID, "cbl-blacklist").text
    assert site.company in table and "在列" in table
    page = browser.find_element(By.TAG_NAME, "body").text
    assert other.company not in page and "别家单位的原因" not in page
    assert not browser.find_element(By.ID, "cbl-add").is_displayed()  # the enterprise lists
    browser.find_element(By.ID, "cbl-reedu").send_keys("全员再教育 8 学时，考试全部合格")
    browser.find_element(By.ID, "cbl-apply").click()
    _wait_text(browser, "cbl-apply-msg", "已提交")
    _wait_text(browser, "cbl-blacklist", "移除申请审批中")
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "contractor-blacklist-removal.png"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT removal_approval_id FROM contractor.blacklist WHERE id = %s", (entry_id,)
        ).fetchone()
        assert row is not None and row[0] is not None
        approvals.act(conn, Actor(site.reviewer_id, site.reviewer), row[0], "approve", "属实")
        approvals.act(conn, Actor(site.safety_id, site.safety), row[0], "approve", "同意移出")
    browser.get(f"{web_url}/contractors/lists")
    _wait_text(browser, "cbl-blacklist", "已移出")
    assert_clean(browser)


def test_positioning_and_work_pages(
    browser: WebDriver,  # noqa: F811
    web_url: str,  # noqa: F811
    db_url: str,
    make_user: object,  # noqa: F811
    screenshots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
        other = make_site(conn)
        card = approved_entry(conn, site, person(conn, site, tmp_path, "定位甲"))
        positioning.save_fence(
            conn,
            TEST,
            enterprise_id=site.enterprise_id,
            name="罐区禁入",
            kind="forbidden",
            polygon=[[0, 0], [40, 0], [40, 30], [0, 30]],
        )
        positioning.save_fence(conn, TEST, enterprise_id=site.enterprise_id, name="检修区",
                               kind="allowed", polygon=[[60, 0], [120, 0], [120, 60], [60, 60]],
                               project_id=site.project_id)  # fmt: skip
        positioning.bind_card(conn, TEST, enterprise_id=site.enterprise_id, tag_no="UI-1",
                              card_no=card)  # fmt: skip
        positioning.ingest(conn, site.enterprise_id,
                           [Reading("UI-1", datetime.now(UTC), 10, 10)])  # fmt: skip
        stop_work.issue_stop(conn, Actor(site.reviewer_id, site.reviewer),
                             company_id=site.company_id, reason_class="violation",
                             reason="动火作业无人监护")  # fmt: skip
        stop_work.issue_stop(conn, Actor(other.reviewer_id, other.reviewer),
                             company_id=other.company_id, reason_class="hazard",
                             reason="别家隐患停工")  # fmt: skip
    admin = make_user("admin")  # type: ignore[operator]
    sign_in(browser, web_url, admin)
    wait_for(browser, "#hw-user-name")
    browser.get(f"{web_url}/contractors/positioning")
    wait_for(browser, "#cpo-tags")
    assert "罐区禁入" in browser.find_element(By.ID, "cpo-violations").text
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "contractor-positioning.png"))
    browser.get(f"{web_url}/contractors/work")
    wait_for(browser, "#cwk-stops")
    _type(browser, "cwk-q", "动火")
    _wait_text(browser, "cwk-stops", "动火作业无人监护")
    assert "别家隐患停工" not in browser.find_element(By.ID, "cwk-stops").text
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "contractor-work.png"))
    # the contractor of the other company sees neither the tag nor the first company's order
    sign_in(browser, web_url, other.contractor)
    wait_for(browser, "#hw-user-name")
    browser.get(f"{web_url}/contractors/positioning")
    wait_for(browser, "#cpo-tags")
    assert "UI-1" not in browser.find_element(By.TAG_NAME, "body").text
    browser.get(f"{web_url}/contractors/work")
    wait_for(browser, "#cwk-stops")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "别家隐患停工" in body and "动火作业无人监护" not in body
    assert_clean(browser)
