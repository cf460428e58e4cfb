"""The alerting configuration pages in headless Chromium against ``hazwatch serve`` (issue 6,
D2, A13): an engineer creates a threshold rule (a clear threshold on the wrong side is shown
at its field first) and sees its replay; edits an escalation tier; an administrator sets up a
webhook channel whose secret never comes back to the browser and sends a test message; an
operator sees no controls and a forged write is refused; the bell counts new notifications
and clears when they are read. No console errors; screenshots in ``var/screenshots/``."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from hazwatch import registers
from tests.conftest import make_enterprise
from tests.dashboards.browser import (
    assert_clean,
    css_id,
    forged_delete,
    patient,
    pick,
    sign_in,
    text_of,
    type_into,
    visit,
    wait_for,
    wait_text,
)
from tests.dashboards.conftest import browser, make_user, screenshots, web_url  # noqa: F401
from tests.workflows.alerting_servers import TEST, http_receiver, make_group, unique
from workflows import alert_config
from workflows.notify import notify, unread_count


def field(prefix: str, name: str) -> str:
    return css_id(f=name, type=f"{prefix}-f")


def error(prefix: str, name: str) -> str:
    return css_id(f=name, type=f"{prefix}-err")


def make_tag(conn: psycopg.Connection, ent: int, name: str) -> int:
    tag = registers.insert(
        conn, TEST, "tag", {"enterprise_id": ent, "name": name, "eng_unit": "degC"}
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with (
        conn.cursor() as cur,
        cur.copy("COPY ts.sample (time, tag_id, value, quality) FROM STDIN") as copy,
    ):
        for m in range(24 * 60, -1, -1):  # one a minute; above 80 twice a day for ~2 h
            copy.write_row((now - timedelta(minutes=m), tag, 70 + 12 * math.sin(m / 229), 192))
    return tag


# -- rules ------------------------------------------------------------------------------------


def test_engineer_creates_a_threshold_rule_after_a_field_error(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn)
        tag_name = unique("TI-101")
        tag = make_tag(conn, ent, tag_name)
    engineer = make_user("engineer", enterprise=ent_name)
    sign_in(browser, web_url, engineer)
    visit(browser, web_url + "/alerts/rules", "#rule-new").click()
    patient(browser, 10).until(lambda d: d.find_element(By.ID, "rule-editor").is_displayed())
    code = unique("ti101-high").lower()
    type_into(browser, field("rule", "code"), code)
    type_into(browser, field("rule", "name"), "反应器温度高")
    pick(browser, field("rule", "tag_id"), tag_name)
    type_into(browser, field("rule", "levels.alarm.value"), "80")
    type_into(browser, field("rule", "levels.alarm.clear"), "85")  # wrong side for ">"
    type_into(browser, field("rule", "labels"), "unit=R-101")
    browser.find_element(By.ID, "rule-save").click()
    wait_text(browser, error("rule", "levels.alarm.clear"), "解除值须在安全一侧")
    assert "不高于触发值 80" in text_of(browser, error("rule", "levels.alarm.clear"))
    assert wait_for(browser, "#rule-error").text == "请更正标出的字段。"
    browser.save_screenshot(str(screenshots / "alert-rule-field-error.png"))
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM workflow.alert_rule WHERE code = %s", (code,)
        ).fetchone() == (0,)

    type_into(browser, field("rule", "levels.alarm.clear"), "75")
    wait_for(browser, "#rule-bt-summary")  # the replay of the last 24 h
    browser.find_element(By.ID, "rule-save").click()
    wait_for(browser, "#rule-done")
    assert text_of(browser, error("rule", "levels.alarm.clear")) == ""
    wait_text(browser, "#rule-table", code)
    summary = text_of(browser, "#rule-bt-summary")
    assert "触发" in summary and "告警中共" in summary
    fired = int(summary.split("触发 ")[1].split(" 次")[0])
    assert fired >= 1  # the series crosses 80 in the last day
    browser.save_screenshot(str(screenshots / "alert-rule-editor.png"))
    assert_clean(browser)

    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT id, enterprise_id, tag_id, kind, spec, labels FROM workflow.alert_rule"
            " WHERE code = %s",
            (code,),
        ).fetchone()
        assert row is not None
        rid, rent, rtag, kind, spec, labels = row
        assert (rent, rtag, kind, labels) == (ent, tag, "threshold", {"unit": "R-101"})
        assert spec["levels"] == [{"level": "alarm", "op": ">", "value": 80.0, "clear": 75.0}]
        logged = conn.execute(
            "SELECT actor, action FROM audit.log WHERE entity = 'workflow.alert_rule'"
            " AND entity_id = %s",
            (str(rid),),
        ).fetchall()
        assert logged == [(engineer, "insert")]

    browser.find_element(By.ID, "rule-toggle").click()  # disable it
    wait_text(browser, f"#rule-state-{code}", "已停用")
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT enabled FROM workflow.alert_rule WHERE id = %s", (rid,)
        ).fetchone() == (False,)
    assert_clean(browser)


# -- escalation policies ----------------------------------------------------------------------


def test_engineer_edits_a_policy_tier(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn)
        operators = make_group(conn, [], ent)
        technicians = make_group(conn, [], ent)
        code = unique("pol").lower()
        pid = alert_config.insert(
            conn,
            TEST,
            "escalation_policy",
            {
                "enterprise_id": ent,
                "code": code,
                "name": "逐级升级",
                "tiers": [
                    {"after_s": 0, "groups": [operators]},
                    {"after_s": 600, "groups": [technicians]},
                ],
            },
        )
    engineer = make_user("engineer", enterprise=ent_name)
    sign_in(browser, web_url, engineer)
    visit(browser, web_url + "/alerts/policies", f"#pol-tiers-{code}")
    assert "L2 10 分钟" in text_of(browser, f"#pol-tiers-{code}")
    browser.find_element(By.CSS_SELECTOR, css_id(rid=pid, type="pol-edit")).click()  # type: ignore[arg-type]
    patient(browser, 10).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, field("pol", "tiers.1.after_min")).get_attribute(
                "value"
            )
            == "10"
        )
    )
    type_into(browser, field("pol", "tiers.1.after_min"), "0")  # not after tier 1
    browser.find_element(By.ID, "pol-save").click()
    wait_text(browser, error("pol", "tiers.1.after_min"), "须晚于上一层")
    type_into(browser, field("pol", "tiers.1.after_min"), "20")
    browser.find_element(By.ID, "pol-save").click()
    wait_for(browser, "#pol-done")
    wait_text(browser, f"#pol-tiers-{code}", "L2 20 分钟")
    browser.save_screenshot(str(screenshots / "alert-policy-editor.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        tiers = conn.execute(
            "SELECT tiers FROM workflow.escalation_policy WHERE id = %s", (pid,)
        ).fetchone()
        assert tiers is not None
        assert [(t["after_s"], t["groups"]) for t in tiers[0]] == [
            (0, [operators]),
            (1200, [technicians]),
        ]
        assert conn.execute(
            "SELECT actor FROM audit.log WHERE entity = 'workflow.escalation_policy'"
            " AND entity_id = %s AND action = 'update'",
            (str(pid),),
        ).fetchall() == [(engineer,)]


# -- channels ---------------------------------------------------------------------------------


def test_channel_secret_is_never_shown_and_the_test_message_is_signed(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    secret = "top-" + unique("secret")
    code = unique("ops-hook").lower()
    admin = make_user("admin")
    with http_receiver() as receiver:
        sign_in(browser, web_url, admin)
        visit(browser, web_url + "/alerts/channels", "#chan-new").click()
        patient(browser, 10).until(lambda d: d.find_element(By.ID, "chan-editor").is_displayed())
        type_into(browser, field("chan", "code"), code)
        pick(browser, field("chan", "kind"), "通用 Webhook", search=False)
        type_into(browser, field("chan", "cfg.url"), receiver.url + "/hook")
        type_into(browser, field("chan", "secret"), secret)
        browser.find_element(By.ID, "chan-save").click()
        wait_for(browser, "#chan-done")
        wait_text(browser, "#chan-info", "已设置")
        patient(browser, 10).until(
            lambda d: (
                d.find_element(By.CSS_SELECTOR, field("chan", "secret")).get_attribute("value")
                == ""
            )
        )
        assert text_of(browser, f"#chan-secret-{code}") == "已设置"
        assert secret not in browser.page_source

        browser.find_element(By.ID, "chan-test").click()
        wait_for(browser, "#chan-test-ok")
        (req,) = receiver.for_path("/hook")
        ts = req.headers["X-Hazwatch-Timestamp"]
        expected = hmac.new(secret.encode(), f"{ts}.".encode() + req.raw, hashlib.sha256)
        assert req.headers["X-Hazwatch-Signature"] == "sha256=" + expected.hexdigest()

        browser.get(web_url + "/alerts/channels")  # a fresh page: open it again
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT id FROM workflow.channel WHERE code = %s", (code,)
            ).fetchone()
            assert row is not None
        wait_for(browser, css_id(rid=row[0], type="chan-edit")).click()  # type: ignore[arg-type]
        wait_text(browser, "#chan-info", "密钥：已设置（不显示）")
        assert (
            browser.find_element(By.CSS_SELECTOR, field("chan", "secret")).get_attribute("value")
            == ""
        )
        type_into(browser, field("chan", "name"), "运行群")
        browser.find_element(By.ID, "chan-save").click()  # secret left empty: kept
        wait_for(browser, "#chan-done")
        browser.save_screenshot(str(screenshots / "alert-channel-editor.png"))
        assert secret not in browser.page_source
        assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT secret, name FROM workflow.channel WHERE code = %s", (code,)
        ).fetchone()
        assert stored == (secret, "运行群")
        logged = conn.execute(
            "SELECT action, before::text, after::text FROM audit.log"
            " WHERE entity = 'workflow.channel' AND entity_id = %s ORDER BY id",
            (str(row[0]),),
        ).fetchall()
        assert [a for a, _, _ in logged] == ["insert", "update"]
        assert all(secret not in (b or "") + (a or "") for _, b, a in logged)


# -- read-only roles --------------------------------------------------------------------------


def test_operator_sees_no_controls_and_a_forged_write_is_refused(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, ent_name = make_enterprise(conn)
        tag = make_tag(conn, ent, unique("PI-7"))
        code = unique("pi7-high").lower()
        rid = alert_config.insert(
            conn,
            TEST,
            "alert_rule",
            {
                "enterprise_id": ent,
                "code": code,
                "name": "压力高",
                "kind": "threshold",
                "tag_id": tag,
                "spec": {
                    "kind": "threshold",
                    "levels": [{"level": "alarm", "op": ">", "value": 80, "clear": 75}],
                },
            },
        )
    operator = make_user("operator", enterprise=ent_name)
    sign_in(browser, web_url, operator)
    wait_for(browser, "#page-title")
    for path, listed in (
        ("/alerts/rules", "#rule-table"),
        ("/alerts/policies", "#pol-list"),
        ("/alerts/calendars", "#cal-list"),
        ("/alerts/channels", "#chan-list"),
    ):
        browser.get(web_url + path)
        wait_for(browser, listed)
        wait_for(browser, "#af-read-only")
        assert not browser.find_elements(By.CSS_SELECTOR, "[id$='-new'], .af-edit, .af-editor")
        assert_clean(browser)
    browser.get(web_url + "/alerts/rules")
    wait_text(browser, "#rule-table", code)
    browser.save_screenshot(str(screenshots / "alert-rules-read-only.png"))

    status, answer = forged_delete(browser, "rule", rid)
    assert status == 200
    shown = json.loads(answer)["response"]["rule-msg"]["children"]["props"]
    assert shown["id"] == "rule-error" and "只能查看告警配置" in shown["children"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM workflow.alert_rule WHERE id = %s", (rid,)
        ).fetchone() == (1,)
        assert conn.execute(
            "SELECT count(*) FROM audit.log WHERE entity = 'workflow.alert_rule'"
            " AND entity_id = %s AND action = 'delete'",
            (str(rid),),
        ).fetchone() == (0,)


# -- the bell and the user's own settings -----------------------------------------------------


def bell_class(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "hw-bell-count").get_attribute("class"))


def test_bell_counts_notifications_and_clears_on_read(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
) -> None:
    name = make_user("operator")
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM auth.app_user WHERE name = %s", (name,)).fetchone()
        assert row is not None
        uid = row[0]
    sign_in(browser, web_url, name)
    wait_for(browser, "#page-title")
    wait_for(browser, "#hw-bell-count")
    patient(browser, 10).until(lambda d: "hw-bell-zero" in bell_class(d))

    with psycopg.connect(db_url, autocommit=True) as conn:
        for n in (1, 2):
            notify(conn, subject=f"测试通知 {n}", body="bell", users=[uid], channels=["inapp"])
    # No reload: the bell's interval picks the count up.
    patient(browser, 25).until(
        lambda d: (
            d.find_element(By.ID, "hw-bell-count").get_attribute("textContent") == "2"
            and "hw-bell-zero"
            not in str(d.find_element(By.ID, "hw-bell-count").get_attribute("class"))
        )
    )
    browser.save_screenshot(str(screenshots / "bell-unread.png"))
    browser.find_element(By.ID, "hw-bell").click()
    wait_text(browser, "#inbox-table", "测试通知 2")
    browser.find_element(By.ID, "inbox-read-all").click()
    patient(browser, 10).until(
        lambda d: (
            "hw-bell-zero" in str(d.find_element(By.ID, "hw-bell-count").get_attribute("class"))
        )
    )
    with psycopg.connect(db_url) as conn:
        assert unread_count(conn, uid) == 0
    assert_clean(browser)

    browser.get(web_url + "/alerts/preferences")
    wait_for(browser, "#prefs-channels")
    browser.find_element(By.CSS_SELECTOR, "#prefs-channels input[value='sms']").click()
    browser.find_element(By.ID, "prefs-save").click()
    wait_for(browser, "#prefs-done")
    browser.save_screenshot(str(screenshots / "alert-preferences.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        prefs = conn.execute(
            "SELECT channels FROM workflow.notify_preference WHERE user_id = %s", (uid,)
        ).fetchone()
        assert prefs == (["inapp", "sms"],)
        assert conn.execute(
            "SELECT actor FROM audit.log WHERE entity = 'workflow.notify_preference'"
            " AND action = 'insert' AND actor = %s",
            (name,),
        ).fetchall() == [(name,)]
