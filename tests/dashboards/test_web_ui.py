"""The web UI in headless Chromium against ``hazwatch serve``: sign-in, throttling, pages
without console or callback errors, a regulator's scope, the language switch, CSRF, and
screenshots of the main pages in ``var/screenshots/``."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards import i18n
from dashboards.auth import MAX_FAILURES, Scope
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.browser import assert_clean, patient, severe, sign_in, wait_for
from tests.dashboards.conftest import PASSWORD

# Other test modules import these from here.
__all__ = ["assert_clean", "severe", "sign_in", "wait_for"]

TEST = Actor(None, "test")


# -- sign-in ----------------------------------------------------------------------------------


def test_wrong_password_shows_the_error(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], screenshots: Path
) -> None:
    name = make_user("engineer")
    browser.get(web_url + "/")  # not signed in: to the form, remembering where to go
    wait_for(browser, "#login-form")
    assert "/login?next=/" in browser.current_url
    assert i18n.t("login.username", "zh") in browser.page_source
    browser.save_screenshot(str(screenshots / "login.png"))
    sign_in(browser, web_url, name, "wrong-password-1")
    error = wait_for(browser, "#login-error")
    assert error.text == i18n.t("login.failed", "zh")
    assert browser.find_element(By.ID, "username").get_attribute("value") == name


def test_throttling_locks_after_five_failures(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], db_url: str
) -> None:
    name = make_user("operator")
    for _ in range(MAX_FAILURES - 1):
        sign_in(browser, web_url, name, "nope-nope-1")
        assert wait_for(browser, "#login-error").text == i18n.t("login.failed", "zh")
    sign_in(browser, web_url, name, "nope-nope-1")
    assert wait_for(browser, "#login-error").text == i18n.t("login.locked", "zh")
    sign_in(browser, web_url, name)  # the right password, but locked
    assert wait_for(browser, "#login-error").text == i18n.t("login.locked", "zh")
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT action, reason, after ->> 'ip' FROM audit.log WHERE actor = %s ORDER BY id",
            (name,),
        ).fetchall()
    assert rows == [("login_failed", "bad credentials", "127.0.0.1")] * MAX_FAILURES + [
        ("login_failed", "locked", "127.0.0.1")
    ]


# -- pages ------------------------------------------------------------------------------------


def test_admin_pages_load_cleanly(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    screenshots: Path,
    db_url: str,
) -> None:
    name = make_user("admin")
    sign_in(browser, web_url, name)
    wait_for(browser, "#overview-table, #overview-count")
    assert browser.find_element(By.ID, "page-title").text == i18n.t("overview.title", "zh")
    assert browser.find_element(By.ID, "hw-user-name").text == name
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "overview.png"))

    browser.set_window_size(390, 844)  # a phone
    browser.refresh()
    wait_for(browser, "#overview-count")
    browser.save_screenshot(str(screenshots / "overview-phone.png"))
    assert_clean(browser)
    browser.set_window_size(1280, 900)

    browser.find_element(By.ID, "nav-nav.audit").click()  # client-side navigation
    wait_for(browser, "#audit-grid .ag-row")
    assert browser.find_element(By.ID, "page-title").text == i18n.t("audit.title", "zh")
    patient(browser, 10).until(lambda d: name in d.find_element(By.ID, "audit-grid").text)
    actor = browser.find_element(By.ID, "audit-actor")
    actor.send_keys(name + "\n")  # filter: only this admin's sign-in
    patient(browser, 10).until(
        lambda d: (
            "1" in d.find_element(By.ID, "audit-page-label").text
            and len(
                d.find_elements(By.CSS_SELECTOR, "#audit-grid .ag-center-cols-container .ag-row")
            )
            == 1
        )
    )
    assert_clean(browser)
    browser.save_screenshot(str(screenshots / "audit.png"))

    browser.get(web_url + "/no/such/page")
    wait_for(browser, "#hw-not-found")
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT actor_id IS NOT NULL, entity FROM audit.log "
            "WHERE actor = %s AND action = 'login'",
            (name,),
        ).fetchone()
    assert row == (True, "app_user")


def test_regulator_sees_only_its_region_and_no_audit_page(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], conn: psycopg.Connection
) -> None:
    taiyuan = registers.resolve(conn, "region", "太原市")
    county = registers.insert(
        conn,
        TEST,
        "region",
        {
            "code": f"T{uuid.uuid4().hex[:6]}",
            "name": f"测试区-{uuid.uuid4().hex[:6]}",
            "level": "county",
            "parent_id": taiyuan,
        },
    )
    _, in_city = make_enterprise(conn, "太原企业", city="太原市")
    in_county_id, in_county = make_enterprise(conn, "区县企业", city="太原市")
    registers.update(conn, TEST, "enterprise", in_county_id, {"region_id": county})
    _, elsewhere = make_enterprise(conn, "大同企业", city="大同市")

    scope = Scope(region_id=taiyuan)
    visible = scope.enterprise_ids(conn)
    assert visible is not None and in_county_id in visible
    regions = conn.execute(
        "SELECT DISTINCT r.name FROM registry.enterprise e "
        "JOIN registry.region r ON r.id = e.region_id WHERE e.id = ANY(%s)",
        (visible,),
    ).fetchall()
    assert {r[0] for r in regions} <= {"太原市", conn.execute(
        "SELECT name FROM registry.region WHERE id = %s", (county,)
    ).fetchone()[0]}  # fmt: skip

    name = make_user("regulator", region="太原市")
    sign_in(browser, web_url, name)
    table = wait_for(browser, "#overview-table")
    text = table.text
    assert in_city in text and in_county in text
    assert elsewhere not in text and "大同市" not in text
    assert "太原市" in browser.find_element(By.ID, "hw-user-scope").text
    assert not browser.find_elements(By.ID, "nav-nav.audit")
    assert_clean(browser)

    browser.get(web_url + "/audit")
    wait_for(browser, "#hw-forbidden")
    assert not browser.find_elements(By.ID, "audit-grid")
    assert_clean(browser)


def test_language_switch_to_english(
    web_url: str, browser: WebDriver, make_user: Callable[..., str]
) -> None:
    name = make_user("engineer")
    sign_in(browser, web_url, name)
    wait_for(browser, "#overview-count")
    assert browser.find_element(By.ID, "page-title").text == "企业总览"
    browser.find_element(By.ID, "hw-lang").click()  # a Dash callback: carries the CSRF header
    patient(browser, 15).until(
        lambda d: (
            d.find_elements(By.ID, "page-title")
            and d.find_element(By.ID, "page-title").text == "Enterprise overview"
        )
    )
    assert browser.find_element(By.ID, "hw-logout").text == "Sign out"
    assert browser.find_element(By.ID, "nav-nav.overview").text == "Overview"
    assert_clean(browser)
    browser.find_element(By.ID, "hw-logout").click()
    wait_for(browser, "#login-form")
    assert "Sign in" in browser.page_source  # the language outlives the session
    browser.find_element(By.ID, "login-lang").click()
    wait_for(browser, "#login-form")
    assert i18n.t("login.username", "zh") in browser.page_source


# -- CSRF and the guards, without a browser ---------------------------------------------------


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _req(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    return urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 (local)


def _status(opener: urllib.request.OpenerDirector, req: urllib.request.Request) -> int:
    try:
        with opener.open(req, timeout=15) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_dash_post_without_csrf_header_is_refused(
    web_url: str, make_user: Callable[..., str]
) -> None:
    opener = _opener()
    with opener.open(web_url + "/login", timeout=15) as resp:
        page = resp.read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    name = make_user("admin")
    form = urllib.parse.urlencode(
        {"csrf_token": token[1], "username": name, "password": PASSWORD, "next": "/"}
    ).encode()
    with opener.open(_req(web_url + "/login", data=form), timeout=15) as resp:
        assert resp.url == web_url + "/"  # signed in, redirected to the overview
        index = resp.read().decode()
    session_token = re.search(r'<meta name="csrf-token" content="([^"]+)"', index)
    assert session_token and session_token[1] != token[1]  # rotated at sign-in

    body = json.dumps(
        {
            "output": "hw-lang-done.data",
            "outputs": {"id": "hw-lang-done", "property": "data"},
            "inputs": [{"id": "hw-lang", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["hw-lang.n_clicks"],
            "state": [],
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    url = web_url + "/_dash-update-component"
    assert _status(opener, _req(url, data=body, headers=headers)) == 403
    wrong = {**headers, "X-CSRFToken": "forged"}
    assert _status(opener, _req(url, data=body, headers=wrong)) == 403
    right = {**headers, "X-CSRFToken": session_token[1]}
    assert _status(opener, _req(url, data=body, headers=right)) == 200
    # A form POST without the token (cross-site logout, login) is refused as well.
    assert _status(opener, _req(web_url + "/logout", data=b"x=1")) == 403

    anonymous = _opener()
    assert _status(anonymous, _req(web_url + "/_dash-layout")) == 401
    assert _status(anonymous, _req(web_url + "/ping")) == 204


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_string_in_both_languages(lang: str) -> None:
    assert all(lang in v and v[lang] for v in i18n.STRINGS.values())
