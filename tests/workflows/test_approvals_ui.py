"""Approval pages in headless Chromium against ``hazwatch serve`` (issue 6): a requester submits
a general request, a user without the step's group sees no buttons and a forged callback is
refused by the server, the approver approves with a comment from the inbox, the requester sees
the outcome, and an administrator adds a step to a definition in the editor (audited)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.browser import assert_clean, patient, post_callback, sign_in, visit, wait_for
from tests.dashboards.conftest import browser, make_user, screenshots, web_url  # noqa: F401
from workflows import approvals
from workflows.approval_defs import find_definition

TEST = Actor(None, "test")


def _uid(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM auth.app_user WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def _forge(driver: WebDriver, iid: int) -> tuple[int, str]:
    """Post the inbox's decide callback by hand, as a page that showed no button could."""
    btn = {"action": "approve", "iid": iid, "type": "appr-act"}
    body = {
        "output": "..appr-msg.children...appr-inbox-list.children..",
        "outputs": [
            {"id": "appr-msg", "property": "children"},
            {"id": "appr-inbox-list", "property": "children"},
        ],
        "inputs": [[{"id": btn, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [json.dumps(btn, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [[], [], [], [], []],
    }
    return post_callback(driver, body)


def test_inbox_approve_and_outcome(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn, "审批页面")
    requester = make_user("operator", enterprise=ent_name)
    approver = make_user("operator", enterprise=ent_name)
    outsider = make_user("engineer", enterprise=ent_name)
    admin = make_user("admin")
    with psycopg.connect(db_url, autocommit=True) as conn:
        gid = registers.insert(
            conn, TEST, "user_group", {"enterprise_id": ent, "code": "dept_head", "name": "部门"}
        )
        registers.insert(
            conn, TEST, "user_group_member", {"group_id": gid, "user_id": _uid(conn, approver)}
        )

    # The requester files a general request from "my requests".
    subject = f"检修计划 {uuid.uuid4().hex[:6]}"
    sign_in(browser, web_url, requester)
    visit(browser, web_url + "/approvals/mine", "#appr-new-submit")
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    browser.find_element(By.ID, "appr-new-subject").send_keys(subject)
    browser.find_element(By.ID, "appr-new-description").send_keys("二号泵检修，停机 4 小时")
    browser.find_element(By.ID, "appr-new-submit").click()
    done = wait_for(browser, "#appr-done")
    assert done.text.startswith("已提交申请 #")
    iid = int(done.text.split("#")[1])
    assert_clean(browser)

    # Someone without the step's group: an empty inbox, and a forged callback is refused.
    sign_in(browser, web_url, outsider)
    visit(browser, web_url + "/approvals", "#appr-empty")
    assert not browser.find_elements(By.CSS_SELECTOR, "[id*='appr-act']")
    status, answer = _forge(browser, iid)
    assert status == 200 and "is not an approver of step 1" in answer, answer
    with psycopg.connect(db_url) as conn:
        assert approvals.get_instance(conn, iid).state == "pending"

    # The approver decides from the inbox, with a comment.
    sign_in(browser, web_url, approver)
    card = visit(browser, web_url + "/approvals", f"#appr-card-{iid}")
    assert subject in card.text and "二号泵检修" in card.text
    browser.save_screenshot(str(screenshots / "approvals-inbox.png"))
    comment = card.find_element(By.CSS_SELECTOR, "textarea")
    comment.send_keys("同意，注意隔离")
    card.find_element(By.XPATH, ".//button[text()='同意']").click()
    assert wait_for(browser, "#appr-done").text == f"申请 #{iid} 已处理：已通过"
    wait_for(browser, "#appr-empty")
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        logged = conn.execute(
            "SELECT action, actor, reason FROM audit.log WHERE entity ="
            " 'workflow.approval_instance' AND entity_id = %s ORDER BY id",
            (str(iid),),
        ).fetchall()
    assert logged == [("submit", requester, subject), ("approve", approver, "同意，注意隔离")]

    # The requester sees the outcome.
    sign_in(browser, web_url, requester)
    card = visit(browser, web_url + "/approvals/mine", f"#appr-card-{iid}")
    assert "状态：已通过" in card.text
    assert f"{approver} 同意" in card.text and "同意，注意隔离" in card.text
    assert not card.find_elements(By.TAG_NAME, "button")  # decided: nothing left to do
    browser.save_screenshot(str(screenshots / "approvals-mine.png"))
    assert_clean(browser)

    # An administrator adds a step to this enterprise's definition in the editor.
    with psycopg.connect(db_url, autocommit=True) as conn:
        from workflows.approval_defs import save_definition
        from workflows.approval_flow import Step

        def_id = save_definition(
            conn,
            TEST,
            kind="general",
            enterprise_id=ent,
            steps=[Step(1, "部门审批", ("dept_head",))],
        )
    sign_in(browser, web_url, admin)
    wait_for(browser, "#page-title")
    browser.get(web_url + f"/approvals/definitions?id={def_id}")
    # Callbacks re-render the step rows: elements read meanwhile may go stale.
    waiting = patient(browser)
    waiting.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#appr-def-steps input").get_attribute("value")
            == "部门审批"
        )
    )
    browser.find_element(By.ID, "appr-def-add").click()
    waiting.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#appr-def-steps tbody tr")) == 2)
    wait_for(browser, "#appr-def-steps")  # and Dash idle
    row = browser.find_elements(By.CSS_SELECTOR, "#appr-def-steps tbody tr")[1]
    inputs = row.find_elements(By.TAG_NAME, "input")
    inputs[0].send_keys("安全管理审批")
    inputs[1].send_keys("safety_mgmt")
    row.find_element(By.CSS_SELECTOR, "input[type='number']").send_keys("8")
    browser.find_element(By.ID, "appr-def-save").click()
    assert wait_for(browser, "#appr-def-done").text == f"已保存定义 #{def_id}"
    browser.save_screenshot(str(screenshots / "approvals-definitions.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        d = find_definition(conn, "general", ent, "")
        assert d is not None and d.id == def_id
        assert [(s.name, s.approver_groups, s.deadline_hours) for s in d.steps] == [
            ("部门审批", ("dept_head",), None),
            ("安全管理审批", ("safety_mgmt",), 8.0),
        ]
        audited = conn.execute(
            "SELECT actor FROM audit.log WHERE entity = 'workflow.approval_step'"
            " AND action = 'insert' AND after ->> 'definition_id' = %s ORDER BY id",
            (str(def_id),),
        ).fetchall()
    assert audited == [("test",), (admin,)]
