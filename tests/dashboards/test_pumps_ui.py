"""The pump pages (issue 8, P6-P12) in headless Chromium against ``hazwatch serve``: the pump
list (desktop and phone width), the diagnosis tools reacting to axis and band, converting an
alarm to a defect through the UI, hardware health and a report preview."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from analytics.vibration.defects import KIND as DEFECT_KIND  # registers the kind here
from analytics.vibration.strategies import evaluate_strategies, save_strategy, zone_levels
from hazwatch.registers import Actor
from tests.analytics.vibration.pump_fixtures import (
    make_pump_plant,
    minutes,
    write_capture,
    write_overall,
)
from tests.dashboards.browser import assert_clean, patient, sign_in, text_of, wait_for
from workflows.approvals import act


def test_pump_pages(
    conn: psycopg.Connection, web_url: str, browser: WebDriver, screenshots: Path
) -> None:
    plant = make_pump_plant(conn)
    now = datetime.now(UTC)
    de = plant.sensors["DE"]
    write_overall(conn, de, minutes(now - timedelta(minutes=59), 60), [8.0] * 60)
    for k in range(3):
        write_capture(
            conn, de, now - timedelta(minutes=20 * k + 1), fault="unbalance", n=8192, t_s=7200.0 + k
        )
    conn.execute(
        "INSERT INTO ts.device_health (time, device_kind, device_id, online) VALUES"
        " (%s, 'gateway', %s, false)",
        (now - timedelta(seconds=30), plant.gateway_id),
    )
    save_strategy(
        conn,
        Actor(None, "test"),
        equipment_id=plant.pump_id,
        name="DE 速度",
        sensor_id=de,
        measure="velocity_rms_mm_s",
        spec={"kind": "threshold", "window_s": 300, "levels": zone_levels(2.5, 4.0, 6.6)},
    )
    (alert_id,) = evaluate_strategies(conn, now=now, equipment_ids=[plant.pump_id]).fired
    uid, user = plant.users["safety_mgmt"]

    sign_in(browser, web_url, user)
    wait_for(browser, "#page-title")
    browser.set_window_size(1280, 900)
    browser.get(f"{web_url}/pumps")
    card = wait_for(browser, f"#pump-card-{plant.pump_id}")
    assert plant.pump_code in card.text and "报警" in card.text
    assert "8.00 mm/s" in card.text and "D" in text_of(
        browser, f"#pump-card-{plant.pump_id} .pump-zone"
    )
    browser.save_screenshot(str(screenshots / "pumps_list.png"))
    assert_clean(browser)

    # the diagnosis tools: every figure drawn; another axis and a band redraw them
    browser.get(f"{web_url}/pumps/detail?id={plant.pump_id}")
    wait_for(browser, "#pumpd-result", timeout=40)
    for g in (
        "trend",
        "waveform",
        "spectrum",
        "envelope",
        "waterfall",
        "cepstrum",
        "orders",
        "phase",
    ):
        patient(browser, 20).until(
            lambda d, g=g: d.find_elements(By.CSS_SELECTOR, f"#pumpd-{g} .trace, #pumpd-{g} .hm"),
            message=f"figure {g} not drawn",
        )
    findings = text_of(browser, "#pumpd-findings")
    assert "转子不平衡" in findings and "classifier v" in findings  # rules + classifier (P9)
    assert text_of(browser, "#pumpd-zone") in ("C", "D")  # the capture's own severity
    first = text_of(browser, "#pumpd-axis-band")
    assert first.startswith("· X")
    browser.find_element(By.CSS_SELECTOR, "#pumpd-axis input[value='Y']").click()
    patient(browser, 30).until(lambda d: text_of(d, "#pumpd-axis-band").startswith("· Y"))
    lo = browser.find_element(By.ID, "pumpd-band-lo")
    lo.send_keys("2000", Keys.TAB)
    hi = browser.find_element(By.ID, "pumpd-band-hi")
    hi.send_keys("6000", Keys.ENTER)
    patient(browser, 30).until(lambda d: "2000–6000 Hz (user)" in text_of(d, "#pumpd-axis-band"))
    assert "Y" in text_of(browser, "#pumpd-envelope .gtitle")
    cursor = browser.find_element(By.ID, "pumpd-cursor")
    cursor.send_keys("49.5", Keys.ENTER)
    patient(browser, 30).until(lambda d: "C2 99.0" in d.find_element(By.ID, "pumpd-spectrum").text)
    browser.save_screenshot(str(screenshots / "pump_detail.png"))
    assert_clean(browser)

    # alarm -> handle -> convert to a defect in the UI; the equipment department approves
    browser.get(f"{web_url}/pumps/alarms?alert={alert_id}")
    wait_for(browser, "#pumpa-alarm-table")
    browser.find_element(By.ID, "pumpa-note").send_keys("现场复测 8.1 mm/s")
    browser.find_element(By.ID, "pumpa-handle").click()
    patient(browser, 20).until(lambda d: "已记录处理" in text_of(d, "#pumpa-content"))
    browser.find_element(By.ID, "pumpa-title").send_keys("驱动端振动超标")
    browser.find_element(By.ID, "pumpa-convert").click()
    patient(browser, 20).until(lambda d: "已提交转缺陷审批" in text_of(d, "#pumpa-content"))
    iid = conn.execute(
        "SELECT id FROM workflow.approval_instance WHERE kind = %s AND payload ->> 'alert_id' = %s",
        (DEFECT_KIND, str(alert_id)),
    ).fetchone()[0]
    approver = Actor(*plant.users["equipment"])
    assert act(conn, approver, iid, "approve", "同意") == "approved"
    browser.get(f"{web_url}/pumps/alarms")
    table = wait_for(browser, "#pumpa-defect-table")
    assert "驱动端振动超标" in table.text and plant.pump_code in table.text
    assert (
        conn.execute(
            "SELECT requester_id FROM workflow.approval_instance WHERE id = %s", (iid,)
        ).fetchone()[0]
        == uid
    )
    assert_clean(browser)

    # the case library names the diagnosis model in force and how to retrain it (P9, P12)
    browser.get(f"{web_url}/pumps/cases")
    card = wait_for(browser, "#pumpc-model")
    assert "智能诊断模型 v" in card.text and "留出数据准确率" in card.text, card.text
    assert "hazwatch vib train --from-cases" in card.text
    assert_clean(browser)

    # hardware health: the offline gateway
    browser.get(f"{web_url}/pumps/health")
    issues = wait_for(browser, "#pumph-issues")
    assert f"GW-{plant.pump_code}" in issues.text and "离线" in issues.text
    assert_clean(browser)

    # a report: generated in the UI, previewed in the app
    browser.get(f"{web_url}/pumps/reports")
    wait_for(browser, "#pumpr-generate")
    browser.find_element(By.ID, "pumpr-generate").click()
    link = patient(browser, 60).until(lambda d: d.find_elements(By.ID, "pumpr-made-link"))[0]
    link.click()
    wait_for(browser, "#pumpr-frame")
    browser.switch_to.frame(browser.find_element(By.ID, "pumpr-frame"))
    patient(browser, 20).until(
        lambda d: plant.pump_code in d.find_element(By.TAG_NAME, "body").text
    )
    browser.switch_to.default_content()
    assert_clean(browser)

    # phone width: the cards stack in one column
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{web_url}/pumps")
        card = wait_for(browser, f"#pump-card-{plant.pump_id}")
        assert card.size["width"] <= 390
        browser.save_screenshot(str(screenshots / "pumps_phone.png"))
        assert_clean(browser)
    finally:
        browser.set_window_size(1280, 900)


def test_report_pdf_needs_a_session(web_url: str) -> None:
    url = f"{web_url}/pumps/reports/1.pdf"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (127.0.0.1)
        assert "/login" in resp.url  # redirected to sign-in, no PDF
