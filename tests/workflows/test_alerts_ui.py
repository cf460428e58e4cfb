"""The alerts page in headless Chromium against ``hazwatch serve`` (issue 6, A13): an operator
acknowledges a firing alert with a comment (an empty comment is refused), creates a silence,
and a regulator of another region does not see the alert at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import make_enterprise
from tests.dashboards.browser import assert_clean, patient, sign_in, visit, wait_for
from tests.dashboards.conftest import browser, make_user, screenshots, web_url  # noqa: F401
from tests.workflows.alerting_servers import unique
from workflows import alerting


def test_ack_with_comment_and_silence(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn)
        key = unique("P-101")
        aid = alerting.raise_external_alert(
            conn, "pump", key, "alarm", {"equipment": "P-101"}, "泵P-101振动报警 7.9 mm/s",
            value=7.9, enterprise_id=ent,
        )  # fmt: skip
    operator = make_user("operator", enterprise=ent_name)
    sign_in(browser, web_url, operator)
    visit(browser, web_url + "/alerts", "#alerts-table")
    state = browser.find_element(By.ID, f"alert-state-{aid}")
    assert state.text == "告警中"
    assert "泵P-101振动报警" in browser.find_element(By.ID, "alerts-table").text

    ack = f'button[id*=\'"aid":{aid}\'][id*=\'"action":"ack"\']'
    browser.find_element(By.CSS_SELECTOR, ack).click()  # no comment yet
    error = wait_for(browser, "#alerts-error")
    assert "needs a comment" in error.text
    comment = browser.find_element(By.CSS_SELECTOR, f"input[id*='\"aid\":{aid}']")
    comment.send_keys("已通知维修班检查轴承")
    browser.find_element(By.CSS_SELECTOR, ack).click()
    wait_for(browser, "#alerts-done")
    patient(browser, 10).until(
        lambda d: "已通知维修班检查轴承" in d.find_element(By.ID, f"alert-ack-{aid}").text
    )
    browser.save_screenshot(str(screenshots / "alerts-acknowledged.png"))
    assert_clean(browser)

    browser.find_element(By.ID, "silence-matchers").send_keys("equipment=P-101")
    browser.find_element(By.ID, "silence-comment").send_keys("检修")
    browser.find_element(By.ID, "silence-create").click()
    wait_for(browser, "#silence-done")
    assert "equipment=P-101" in browser.find_element(By.ID, "silences-table").text

    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT a.ack_comment, u.name FROM workflow.alert a JOIN auth.app_user u"
            " ON u.id = a.acked_by WHERE a.id = %s",
            (aid,),
        ).fetchone()
        assert row == ("已通知维修班检查轴承", operator)
        logged = conn.execute(
            "SELECT actor FROM audit.log WHERE entity = 'workflow.alert' AND entity_id = %s"
            " AND action = 'ack'",
            (str(aid),),
        ).fetchall()
        assert logged == [(operator,)]
        silence = conn.execute(
            "SELECT actor FROM audit.log WHERE entity = 'workflow.silence' AND actor = %s",
            (operator,),
        ).fetchall()
        assert len(silence) == 1

    regulator = make_user("regulator", region="大同市")
    sign_in(browser, web_url, regulator)
    visit(browser, web_url + "/alerts", "#alerts-list")
    assert not browser.find_elements(By.ID, f"alert-state-{aid}")
    assert not browser.find_elements(By.ID, "silence-create")
