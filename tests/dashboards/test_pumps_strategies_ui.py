"""The pump alarm strategies page (issue 8, P5) in headless Chromium against ``hazwatch
serve``: an engineer of the plant creates a graded strategy (grades out of order are shown at
the field first, nothing stored), sees the replay of the point's last days, edits it from the
list, switches it off, routes a grade to one more group, and deletes it; the rows and the
audit log rows this caused are checked. An operator sees no controls and a forged delete is
refused. Every wait goes through ``patient()``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from analytics.vibration.strategies import ensure_grade_routing, save_strategy, zone_levels
from tests.analytics.vibration.pump_fixtures import ACTOR, make_pump_plant, minutes, write_overall
from tests.dashboards.browser import (
    assert_clean,
    css_id,
    forged_delete,
    patient,
    pick,
    sign_in,
    text_of,
    type_into,
)

PAGE = "/pumps/strategies"


def field(name: str) -> str:
    return css_id(f=name, type="pstr-f")


def error(name: str) -> str:
    return css_id(f=name, type="pstr-err")


def shown(driver: WebDriver, css: str, timeout: float = 20) -> object:
    """The first element matching ``css`` once it is there (and displayed)."""
    return patient(driver, timeout).until(
        lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()), None
        ),
        message=f"no {css} at {driver.current_url}",
    )


def has_text(driver: WebDriver, css: str, wanted: str, timeout: float = 20) -> None:
    patient(driver, timeout).until(
        lambda d: any(wanted in e.text for e in d.find_elements(By.CSS_SELECTOR, css)),
        message=f"no {wanted!r} in {css}",
    )


def retype(driver: WebDriver, css: str, text: str) -> None:
    """Replace an input's text by keystrokes (``clear()`` bypasses React's change events, so
    an undebounced Dash input would keep its old value)."""
    box = driver.find_element(By.CSS_SELECTOR, css)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text, Keys.TAB)


def value_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).get_attribute("value"))


def open_page(driver: WebDriver, url: str, ready: str) -> None:
    shown(driver, "#hw-nav")  # signed in: the shell is there
    driver.get(url)
    shown(driver, ready)


def audit_rows(conn: psycopg.Connection, entity: str, entity_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT actor, action, reason FROM audit.log WHERE entity = %s AND entity_id = %s"
        " ORDER BY id",
        (entity, str(entity_id)),
    ).fetchall()


def test_engineer_sets_up_a_graded_strategy_and_its_routing(
    conn: psycopg.Connection, web_url: str, browser: WebDriver, screenshots: Path
) -> None:
    plant = make_pump_plant(conn)
    g = plant.groups
    policies = ensure_grade_routing(
        conn,
        ACTOR,
        plant.enterprise_id,
        {"warning": ["equipment"], "alarm": ["equipment", "safety_mgmt"], "danger": ["leadership"]},
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Six hours of the DE point: 2 mm/s, an hour in zone C (5 mm/s), 2 mm/s again.
    velocity = [2.0] * 240 + [5.0] * 60 + [2.0] * 60
    write_overall(conn, plant.sensors["DE"], minutes(now - timedelta(minutes=359), 360), velocity)
    _uid, engineer = plant.users["equipment"]
    name = f"DE 振动速度 {plant.pump_code}"

    sign_in(browser, web_url, engineer)
    open_page(browser, f"{web_url}{PAGE}?pump={plant.pump_id}", "#pstr-new")
    assert "pstr-table" not in browser.page_source or plant.pump_code not in text_of(
        browser, "#pstr-list"
    )  # a fresh pump has no strategies yet
    browser.find_element(By.ID, "pstr-new").click()
    shown(browser, "#pstr-editor")
    # the pump the list is filtered to, and its first point, are preset
    patient(browser).until(lambda d: "DE" in text_of(d, field("sensor_id")))
    assert plant.pump_code in text_of(browser, field("equipment_id"))
    type_into(browser, field("name"), name)
    type_into(browser, field("levels.warning.value"), "4")
    type_into(browser, field("levels.warning.clear"), "3.6")
    type_into(browser, field("levels.alarm.value"), "3")  # below the warning: out of order
    type_into(browser, field("levels.alarm.clear"), "2.7")
    browser.find_element(By.CSS_SELECTOR, field("levels.danger.on") + " input").click()
    type_into(browser, field("levels.danger.value"), "9.9")
    type_into(browser, field("levels.danger.clear"), "8.9")
    browser.find_element(By.ID, "pstr-save").click()
    has_text(browser, error("levels.alarm.value"), "须比预警级别的 4 更严重")
    assert text_of(browser, "#pstr-error") == "请更正标出的字段。"
    assert text_of(browser, error("levels.warning.value")) == ""
    browser.save_screenshot(str(screenshots / "pump-strategy-field-error.png"))
    assert conn.execute(
        "SELECT count(*) FROM vib.alarm_strategy WHERE equipment_id = %s", (plant.pump_id,)
    ).fetchone() == (0,)

    type_into(browser, field("levels.alarm.value"), "6.6")
    type_into(browser, field("levels.alarm.clear"), "5.9")
    # the replay of the last 3 days fires at the hour in zone C, at the warning grade
    has_text(browser, "#pstr-preview-summary", "预警 1")
    patient(browser).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#pstr-preview-graph .scatterlayer .trace")
    )
    assert "触发 1 次" in text_of(browser, "#pstr-preview-summary")
    browser.execute_script(
        "arguments[0].scrollIntoView()", browser.find_element(By.ID, "pstr-preview-graph")
    )
    browser.save_screenshot(str(screenshots / "pump-strategy-preview.png"))
    type_into(browser, "#pstr-reason", "MOC-2026-031 新增振动策略")
    browser.find_element(By.ID, "pstr-save").click()
    shown(browser, "#pstr-done")
    assert text_of(browser, error("levels.alarm.value")) == ""
    has_text(browser, "#pstr-table", name)
    browser.save_screenshot(str(screenshots / "pump-strategy-editor.png"))
    assert_clean(browser)

    row = conn.execute(
        "SELECT id, sensor_id, axis, measure, kind, enabled, spec FROM vib.alarm_strategy"
        " WHERE equipment_id = %s AND name = %s",
        (plant.pump_id, name),
    ).fetchone()
    assert row is not None
    sid, sensor, axis, measure, kind, enabled, spec = row
    assert (sensor, axis, measure, kind, enabled) == (
        plant.sensors["DE"],
        None,
        "velocity_rms_mm_s",
        "threshold",
        True,
    )
    assert [(lv["level"], lv["op"], lv["value"], lv["clear"]) for lv in spec["levels"]] == [
        ("warning", ">=", 4.0, 3.6),
        ("alarm", ">=", 6.6, 5.9),
        ("danger", ">=", 9.9, 8.9),
    ]
    assert audit_rows(conn, "vib.alarm_strategy", sid) == [
        (engineer, "insert", "MOC-2026-031 新增振动策略")
    ]

    # edit it from the list: a longer window and a pending time (debounce)
    browser.find_element(By.ID, "pstr-cancel").click()
    patient(browser).until(lambda d: not d.find_element(By.ID, "pstr-editor").is_displayed())
    browser.find_element(By.ID, "pstr-new").click()  # blank fields first: the edit must load
    shown(browser, "#pstr-editor")
    patient(browser).until(lambda d: value_of(d, field("name")) == "")
    browser.find_element(By.CSS_SELECTOR, css_id(sid=sid, type="pstr-edit")).click()
    has_text(browser, "#pstr-heading", f"编辑：{plant.pump_code}")
    patient(browser).until(lambda d: value_of(d, field("name")) == name)
    assert value_of(browser, field("levels.danger.value")) == "9.9"
    type_into(browser, field("window_s"), "600")
    type_into(browser, field("pending_s"), "120")
    retype(browser, "#pstr-reason", "")
    browser.find_element(By.ID, "pstr-save").click()
    patient(browser).until(
        lambda d: (
            conn.execute(
                "SELECT spec ->> 'pending_s' FROM vib.alarm_strategy WHERE id = %s", (sid,)
            ).fetchone()
            == ("120",)
        )
    )
    spec = conn.execute("SELECT spec FROM vib.alarm_strategy WHERE id = %s", (sid,)).fetchone()[0]
    assert (spec["window_s"], spec["pending_s"], len(spec["levels"])) == (600, 120, 3)

    # switch it off: the list says so
    browser.find_element(By.ID, "pstr-toggle").click()
    has_text(browser, f"#pstr-state-{sid}", "已停用")
    assert conn.execute(
        "SELECT enabled FROM vib.alarm_strategy WHERE id = %s", (sid,)
    ).fetchone() == (False,)
    # the filter for disabled strategies finds it, the one for enabled ones does not
    pick(browser, "#pstr-enabled", "仅启用", search=False)
    patient(browser).until(lambda d: name not in text_of(d, "#pstr-list"))
    pick(browser, "#pstr-enabled", "仅停用", search=False)
    has_text(browser, "#pstr-list", name)
    assert_clean(browser)

    # routing: the safety department hears warnings too
    route = css_id(level="warning", type="pstr-route")
    shown(browser, route)
    assert "equipment" in text_of(browser, route)
    pick(browser, route, "safety_mgmt")
    type_into(browser, "#pstr-r-reason", "MOC-2026-032 预警通知安全部")
    browser.find_element(By.ID, "pstr-r-save").click()
    shown(browser, "#pstr-r-done")
    tiers = conn.execute(
        "SELECT tiers FROM workflow.escalation_policy WHERE id = %s", (policies["warning"],)
    ).fetchone()[0]
    assert tiers[0]["groups"] == [g["equipment"], g["safety_mgmt"]]
    assert tiers[0]["channels"] == ["inapp"]  # the rest of the policy is kept
    assert audit_rows(conn, "workflow.escalation_policy", policies["warning"])[-1] == (
        engineer,
        "update",
        "MOC-2026-032 预警通知安全部",
    )
    for level in ("alarm", "danger"):  # the other grades were not touched
        assert len(audit_rows(conn, "workflow.escalation_policy", policies[level])) == 1
    browser.save_screenshot(str(screenshots / "pump-strategy-routing.png"))
    assert_clean(browser)

    # delete it
    retype(browser, "#pstr-reason", "测点更换")
    browser.find_element(By.ID, "pstr-delete").click()
    has_text(browser, "#pstr-done", "已删除")
    patient(browser).until(lambda d: not d.find_element(By.ID, "pstr-editor").is_displayed())
    assert conn.execute(
        "SELECT count(*) FROM vib.alarm_strategy WHERE id = %s", (sid,)
    ).fetchone() == (0,)
    assert audit_rows(conn, "vib.alarm_strategy", sid) == [
        (engineer, "insert", "MOC-2026-031 新增振动策略"),
        (engineer, "update", f"pump alarm strategy {name}"),
        (engineer, "update", "pump alarm strategy disabled"),
        (engineer, "delete", "测点更换"),
    ]
    assert_clean(browser)


def test_operator_reads_and_a_forged_delete_is_refused(
    conn: psycopg.Connection,
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
) -> None:
    plant = make_pump_plant(conn, groups=("equipment",))
    ensure_grade_routing(conn, ACTOR, plant.enterprise_id, {"alarm": ["equipment"]})
    sid = save_strategy(
        conn,
        ACTOR,
        equipment_id=plant.pump_id,
        name="NDE 速度",
        measure="velocity_rms_mm_s",
        sensor_id=plant.sensors["NDE"],
        spec={"kind": "threshold", "levels": zone_levels(2.5, 4.0, 6.6)},
    )
    for i in range(21):  # 22 in all: two pages of 20
        save_strategy(
            conn,
            ACTOR,
            equipment_id=plant.pump_id,
            name=f"DE 峭度 {i:02d}",
            measure="kurtosis",
            sensor_id=plant.sensors["DE"],
            spec={"kind": "threshold", "levels": zone_levels(4, 5, 8)},
        )
    operator = make_user("operator", enterprise=plant.enterprise)
    sign_in(browser, web_url, operator)
    open_page(browser, f"{web_url}{PAGE}?pump={plant.pump_id}", "#pstr-table")
    assert text_of(browser, "#pstr-page-label") == "第 1 / 2 页，共 22 条"
    assert "NDE 速度" not in text_of(browser, "#pstr-table")  # "DE 峭度 .." sort first
    browser.find_element(By.ID, "pstr-next").click()
    has_text(browser, "#pstr-page-label", "第 2 / 2 页")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#pstr-table tbody tr")) == 2
    assert "NDE 速度" in text_of(browser, "#pstr-table")
    type_into(browser, "#pstr-search", "NDE")  # a new search starts at page 1
    has_text(browser, "#pstr-page-label", "第 1 / 1 页，共 1 条")
    assert shown(browser, "#pstr-ro")
    assert not browser.find_elements(By.ID, "pstr-new")
    assert not browser.find_elements(By.CSS_SELECTOR, css_id(sid=sid, type="pstr-edit"))
    # the routing is shown, not editable
    route = css_id(level="alarm", type="pstr-route")
    assert "equipment" in text_of(browser, route)
    assert not browser.find_elements(By.ID, "pstr-r-save")
    status, answer = forged_delete(browser, "pstr", sid)
    assert status == 200 and "只能查看报警策略" in answer
    assert conn.execute(
        "SELECT count(*) FROM vib.alarm_strategy WHERE id = %s", (sid,)
    ).fetchone() == (1,)
    # the pump pages link here: the list's sub-navigation, and the pump's own page to its
    # strategies
    browser.get(f"{web_url}/pumps")
    link = shown(browser, ".pump-subnav a[href='/pumps/strategies']")
    assert link.text == "机泵报警策略"  # type: ignore[attr-defined]
    browser.get(f"{web_url}/pumps/detail?id={plant.pump_id}")
    shown(browser, "#pumpd-edit-strategies", timeout=40).click()  # type: ignore[attr-defined]
    patient(browser).until(lambda d: d.current_url.endswith(f"{PAGE}?pump={plant.pump_id}"))
    has_text(browser, "#pstr-table", "DE 峭度 00")
    assert plant.pump_code in text_of(browser, "#pstr-pump")  # the filter is set
    assert text_of(browser, "#pstr-page-label") == "第 1 / 2 页，共 22 条"
    assert_clean(browser)
