"""The video pages (issue 9) in headless Chromium against ``hazwatch serve``: the alarm list
shows thumbnails, an alarm is confirmed from its page (and waits for the upward review), the
wall and statistics render, a camera password entered in the setup page is stored encrypted
and never shown back, and the zone editor saves a polygon drawn with the mouse. No console or
callback errors; screenshots go to var/screenshots/."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psycopg
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards import i18n
from dashboards.pages import video_alarm, video_zones  # noqa: F401 - registers the strings
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.browser import patient
from tests.dashboards.test_web_ui import assert_clean, sign_in, wait_for
from tests.video.test_registry import LAWN, make_task
from tests.video.test_review import make_alarm
from video import store
from video.crypto import CredentialBox


@pytest.fixture(scope="module")
def site(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An enterprise with a vtest.avi camera, an intrusion task with its lawn zone, two alarms
    with snapshots and a live picture."""
    home = tmp_path_factory.mktemp("video-home")
    with psycopg.connect(db_url, autocommit=True) as conn:
        ent, name = make_enterprise(conn, "视频测试企业")
        registers.update(
            conn, Actor(None, "test"), "enterprise", ent, {"code": f"V{uuid.uuid4().hex[:6]}"}
        )
        box = CredentialBox.for_home(home)
        task = make_task(conn, box, ent, {"intrusion": {"zones": LAWN}}, max_fps=1)
        alarms = [make_alarm(conn, home, task), make_alarm(conn, home, task, "crowding")]
        image = np.full((576, 768, 3), 120, np.uint8)
        ok, jpeg = cv2.imencode(".jpg", image)
        assert ok
        live = store.save_live(home, task, jpeg.tobytes())
        store.update_status(
            conn, task, "ui-worker", "running", frames=42, dropped=3, fps=1.0, live_path=live
        )
        binding = conn.execute(
            "SELECT id FROM video.task_algorithm WHERE task_id = %s", (task,)
        ).fetchone()[0]
    return {"ent": ent, "name": name, "task": task, "alarms": alarms, "binding": binding}


def _images_loaded(browser: WebDriver, css: str) -> int:
    return int(
        browser.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]))"
            ".filter(i => i.complete && i.naturalWidth > 0).length",
            css,
        )
    )


def test_alarm_list_thumbnails_and_confirming_an_alarm(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    site: dict[str, Any],
    db_url: str,
    screenshots: Path,
) -> None:
    user = make_user("operator", enterprise=site["name"])
    sign_in(browser, web_url, user)
    wait_for(browser, "#hw-nav")
    browser.get(web_url + "/video/alarms")
    wait_for(browser, "#va-table")
    patient(browser, 15).until(lambda d: _images_loaded(d, "img.va-thumb") == 2)
    text = browser.find_element(By.ID, "va-table").text
    assert "区域入侵" in text and "人员聚集" in text and "待处置" in text
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_alarms.png"))
    aid = site["alarms"][0]
    browser.find_element(By.ID, f"va-link-{aid}").click()
    wait_for(browser, "#vd-facts")
    patient(browser, 15).until(lambda d: _images_loaded(d, "#vd-snapshot") == 1)
    browser.find_element(By.ID, "vd-comment").send_keys("现场确认有人进入草坪")
    browser.find_element(By.XPATH, "//button[text()='确认报警']").click()
    done = i18n.t("vd.done", "zh", state="已确认")
    patient(browser, 15).until(lambda d: d.find_element(By.ID, "vd-message").text == done)
    assert "现场确认有人进入草坪" in browser.find_element(By.ID, "vd-history").text
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT state, review_id, comment FROM video.alarm WHERE id = %s", (aid,)
        ).fetchone()
        assert row is not None and row[0] == "confirmed" and row[2] == "现场确认有人进入草坪"
        review = conn.execute(
            "SELECT kind, state FROM workflow.approval_instance WHERE id = %s", (row[1],)
        ).fetchone()
    assert review == ("upward.review", "pending")
    # A second confirm is not offered any more; handling is.
    assert not browser.find_element(By.XPATH, "//button[text()='确认报警']").is_enabled()
    assert browser.find_element(By.XPATH, "//button[text()='已处置']").is_enabled()
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_alarm_confirmed.png"))


def test_wall_and_statistics(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    site: dict[str, Any],
    screenshots: Path,
) -> None:
    user = make_user("engineer", enterprise=site["name"])
    sign_in(browser, web_url, user)
    wait_for(browser, "#hw-nav")
    browser.get(web_url + "/video")
    wait_for(browser, f"#vw-task-{site['task']}")
    patient(browser, 15).until(lambda d: _images_loaded(d, "img.vw-live") == 1)
    card = browser.find_element(By.ID, f"vw-task-{site['task']}").text
    assert "分析中" in card and "丢弃帧 3" in card
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_wall.png"))
    browser.get(web_url + "/video/stats")
    wait_for(browser, "#vs-chart .main-svg")
    ranking = browser.find_element(By.ID, "vs-ranking").text
    assert "区域入侵" in ranking and "人员聚集" in ranking
    assert browser.find_element(By.ID, "vs-total").text.startswith("2")
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_stats.png"))


def test_camera_password_is_never_shown_and_zone_editor_saves_a_polygon(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    site: dict[str, Any],
    db_url: str,
    screenshots: Path,
) -> None:
    user = make_user("engineer", enterprise=site["name"])
    sign_in(browser, web_url, user)
    wait_for(browser, "#hw-nav")
    browser.get(web_url + "/video/config")
    wait_for(browser, "#vc-cameras-table")
    secret = f"Pw-{uuid.uuid4().hex[:8]}"
    code = f"UI-{uuid.uuid4().hex[:5]}"
    for field, value in (
        ("vc-cam-code", code),
        ("vc-cam-name", "界面新增摄像机"),
        ("vc-cam-url", "rtsp://10.9.8.7:554/main"),
        ("vc-cam-user", "admin"),
        ("vc-cam-password", secret),
    ):
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "vc-cam-save").click()
    patient(browser, 15).until(
        lambda d: d.find_element(By.ID, "vc-cam-msg").text == i18n.t("vid.saved", "zh")
    )
    patient(browser, 15).until(lambda d: code in d.find_element(By.ID, "vc-cameras").text)
    assert secret not in browser.page_source
    assert browser.find_element(By.ID, "vc-cam-password").get_attribute("value") == ""
    with psycopg.connect(db_url) as conn:
        enc = conn.execute(
            "SELECT secret_enc FROM registry.camera WHERE code = %s", (code,)
        ).fetchone()
    assert enc is not None and enc[0] is not None and secret.encode() not in bytes(enc[0])
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_config.png"))

    browser.get(f"{web_url}/video/zones?binding={site['binding']}")
    wait_for(browser, "#vz-graph .main-svg")
    assert "768×576" in browser.find_element(By.TAG_NAME, "body").text
    drag = wait_for(browser, "#vz-graph .nsewdrag")
    chain = ActionChains(browser).move_to_element_with_offset(drag, -150, -120).click_and_hold()
    for dx, dy in ((60, 0), (60, 0), (0, 50), (0, 50), (-60, 0), (-60, 0), (0, -50)):
        chain = chain.move_by_offset(dx, dy).pause(0.05)
    chain.release().perform()
    patient(browser, 10).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#vz-graph .shapelayer path")) >= 2
    )
    names = browser.find_element(By.ID, "vz-names")
    names.send_keys(Keys.CONTROL, "a")  # clear() does not reach Dash's controlled input
    names.send_keys(Keys.DELETE)
    names.send_keys("lawn, gate")
    browser.find_element(By.ID, "vz-save").click()
    saved = i18n.t("vz.saved", "zh", n=2)
    patient(browser, 15).until(lambda d: d.find_element(By.ID, "vz-message").text == saved)
    with psycopg.connect(db_url) as conn:
        zones = conn.execute(
            "SELECT zones FROM video.task_algorithm WHERE id = %s", (site["binding"],)
        ).fetchone()[0]
    assert [z["name"] for z in zones] == ["lawn", "gate"]
    gate = zones[1]["points"]
    assert 3 <= len(gate) <= 64
    assert all(0 <= x <= 768 and 0 <= y <= 576 for x, y in gate)
    xs, ys = [p[0] for p in gate], [p[1] for p in gate]
    assert max(xs) - min(xs) > 50 and max(ys) - min(ys) > 30  # a real area, in frame pixels
    assert zones[0]["points"] == LAWN[0]["points"]
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "video_zones.png"))
