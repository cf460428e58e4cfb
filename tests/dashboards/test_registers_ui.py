"""Register screens (D4) in headless Chromium against ``hazwatch serve``: an admin's edit round
trip through the grid and the audit page, a field-level validation error, CSV import with a bad
row (all-or-nothing, then valid rows only), export → import round trip, a regulator who sees
only its city and cannot edit (forged callbacks refused), a contractor confined to its company,
and every register page without console errors. Screenshots in ``var/screenshots/``."""

from __future__ import annotations

import io
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards import i18n
from dashboards.register_specs import PAGE_SPECS
from hazwatch import registers
from hazwatch.registers import Actor
from tests.conftest import make_enterprise
from tests.dashboards.browser import (
    assert_clean,
    dependency,
    outputs_of,
    patient,
    post_callback,
    sign_in,
    visit,
    wait_for,
)
from tests.dashboards.test_register_data import company, credit_code

TEST = Actor(None, "test")


# -- helpers ----------------------------------------------------------------------------------


def open_register(driver: WebDriver, url: str, key: str, search: str | None = None) -> None:
    """A register page (``?q=`` fills the search box) once its first page of rows is in."""
    query = "" if search is None else "&q=" + urllib.parse.quote(search)
    driver.get(f"{url}/registers?r={key}{query}")
    wait_for(driver, "#reg-grid")
    patient(driver, 15).until(lambda d: d.find_element(By.ID, "reg-page-label").text.strip() != "")


def cell(driver: WebDriver, row_id: int | str, field: str) -> Any:
    css = f'#reg-grid .ag-center-cols-container .ag-row[row-id="{row_id}"] [col-id="{field}"]'
    return patient(driver, 15).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def edit_cell(driver: WebDriver, row_id: int | str, field: str, text: str) -> None:
    """Single click opens the editor (singleClickEdit); type, Enter saves."""
    cell(driver, row_id, field).click()
    editor = patient(driver, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#reg-grid .ag-cell-inline-editing input")
    )
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(text + Keys.ENTER)


def grid_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "reg-grid").text)


def upload(driver: WebDriver, path: Path) -> str:
    """Give ``path`` to the upload control; the import summary once it has been shown."""
    old = driver.find_elements(By.ID, "reg-import-summary")
    before = old[0].text if old else None
    field = driver.find_element(By.CSS_SELECTOR, "#reg-upload input[type=file]")
    driver.execute_script("arguments[0].value = '';", field)  # as a new pick in the dialog
    field.send_keys(str(path))
    patient(driver, 20).until(
        lambda d: (
            d.find_elements(By.ID, "reg-import-summary")
            and (before is None or d.find_element(By.ID, "reg-import-summary").text != before)
        )
    )
    return str(driver.find_element(By.ID, "reg-import-summary").text)


def choose_mode(driver: WebDriver, mode: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#reg-import-mode input[value="{mode}"]').click()


def downloads_to(driver: WebDriver, folder: Path) -> None:
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )


def wait_file(folder: Path, suffix: str) -> Path:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*" + suffix) if p.stat().st_size > 0]
        if done:
            return done[0]
        time.sleep(0.2)
    pytest.fail(f"no {suffix} downloaded into {folder}: {list(folder.iterdir())}")


def forged_cell_edit(driver: WebDriver, key: str, row_id: int, field: str, value: str) -> str:
    """Send the grid's cell-edit callback as the signed-in browser would, for a cell the page
    does not let the user edit; the answer as text."""
    dep = dependency(driver, "reg-grid", "cellValueChanged")
    change = {"rowId": str(row_id), "colId": field, "value": value, "oldValue": "",
              "data": {"id": row_id, "_rid": str(row_id), field: value}}  # fmt: skip
    body = {
        "output": dep["output"],
        "outputs": outputs_of(dep),
        "inputs": [{"id": "reg-grid", "property": "cellValueChanged", "value": [change]}],
        "changedPropIds": ["reg-grid.cellValueChanged"],
        "state": [{"id": "reg-key", "property": "data", "value": key}],
    }
    status, answer = post_callback(driver, body)
    assert status == 200, answer
    return answer


# -- tests ------------------------------------------------------------------------------------


def test_admin_edits_a_unit_and_the_audit_page_shows_it(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    ent_id, _ = make_enterprise(conn, "编辑测试")
    code = f"U{uuid.uuid4().hex[:6]}"
    unit_id = registers.insert(
        conn, TEST, "unit", {"enterprise_id": ent_id, "code": code, "name": "旧名称装置"}
    )
    name = make_user("admin")
    sign_in(browser, web_url, name)
    wait_for(browser, "#hw-nav")
    browser.find_element(By.ID, "nav-nav.registers").click()
    wait_for(browser, "#reg-picker")
    browser.find_element(By.ID, "reg-link-unit").click()
    patient(browser, 15).until(
        lambda d: d.find_element(By.ID, "page-title").text == i18n.t("reg.name.unit", "zh")
    )
    open_register(browser, web_url, "unit", code)
    assert "旧名称装置" in grid_text(browser)
    edit_cell(browser, unit_id, "name", "新名称装置")
    patient(browser, 15).until(lambda d: "已保存" in d.find_element(By.ID, "reg-status").text)
    assert conn.execute("SELECT name FROM registry.unit WHERE id = %s", (unit_id,)).fetchone() == (
        "新名称装置",
    )
    browser.save_screenshot(str(screenshots / "registers-unit.png"))
    assert_clean(browser)

    open_register(browser, web_url, "unit", code)  # a fresh page: read back from the database
    assert cell(browser, unit_id, "name").text == "新名称装置"

    browser.get(web_url + "/audit")
    wait_for(browser, "#audit-grid .ag-row")
    browser.find_element(By.ID, "audit-actor").send_keys(name + "\n")
    patient(browser, 15).until(
        lambda d: "name: 旧名称装置 → 新名称装置" in d.find_element(By.ID, "audit-grid").text
    )
    text = browser.find_element(By.ID, "audit-grid").text
    assert "registry.unit" in text and "register screen" in text
    browser.save_screenshot(str(screenshots / "audit-register-change.png"))
    assert_clean(browser)


def test_invalid_credit_code_is_shown_at_the_field(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    ent_id, _ = make_enterprise(conn, "信用代码")
    company_id = company(conn, ent_id, "校验测试公司")
    before = conn.execute(
        "SELECT credit_code FROM contractor.company WHERE id = %s", (company_id,)
    ).fetchone()
    sign_in(browser, web_url, make_user("admin"))
    wait_for(browser, "#hw-nav")
    open_register(browser, web_url, "contractor_company", "校验测试公司")
    edit_cell(browser, company_id, "credit_code", "91350100M000100Y44")
    marked = f'#reg-grid .ag-row[row-id="{company_id}"] [col-id="credit_code"].hw-cell-error'
    patient(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, marked))
    errors = browser.find_element(By.ID, "reg-errors").text
    assert "统一社会信用代码：统一社会信用代码校验位错误：应为 3，实为 4" in errors
    assert cell(browser, company_id, "credit_code").text == "91350100M000100Y44"  # kept
    assert (
        conn.execute(
            "SELECT credit_code FROM contractor.company WHERE id = %s", (company_id,)
        ).fetchone()
        == before
    )
    browser.save_screenshot(str(screenshots / "registers-field-error.png"))
    assert_clean(browser)


def test_csv_import_with_a_bad_row_then_valid_rows_only(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    ent_id, ent = make_enterprise(conn, "导入测试")
    text = (
        "企业,编码,名称,类型\n"
        f"{ent},G1,一号装置,装置\n"
        f"{ent},G2,二号装置,厂房\n"
        f"{ent},G3,三号装置,罐区\n"
    )
    first = tmp_path / "units.csv"
    first.write_bytes(text.encode("gbk"))  # as Excel saves it on Chinese Windows
    sign_in(browser, web_url, make_user("admin"))
    wait_for(browser, "#hw-nav")
    open_register(browser, web_url, "unit")
    summary = upload(browser, first)
    assert summary == i18n.t("reg.import.nothing", "zh", errors=1)
    report = browser.find_element(By.ID, "reg-report-table").text
    assert "3 类型 “厂房”不是可选值" in report
    count = "SELECT count(*) FROM registry.unit WHERE enterprise_id = %s"
    assert conn.execute(count, (ent_id,)).fetchone() == (0,)
    browser.save_screenshot(str(screenshots / "registers-import-errors.png"))

    downloads_to(browser, tmp_path)
    browser.find_element(By.ID, "reg-report-download").click()
    report_file = wait_file(tmp_path, "import-errors.csv")
    assert report_file.read_text("utf-8-sig").splitlines()[1].startswith("3,类型,")

    choose_mode(browser, "valid")
    summary = upload(browser, first)  # the same file again
    assert summary == i18n.t("reg.import.done", "zh", inserted=2, updated=0, errors=1)
    rows = conn.execute(
        "SELECT code FROM registry.unit WHERE enterprise_id = %s ORDER BY code", (ent_id,)
    ).fetchall()
    assert rows == [("G1",), ("G3",)]
    assert_clean(browser)


def test_export_then_import_round_trip(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    tmp_path: Path,
) -> None:
    ent_id, ent = make_enterprise(conn, "导出测试")
    gw = registers.insert(
        conn, TEST, "gateway",
        {"enterprise_id": ent_id, "code": "GW1", "name": "一号网关", "protocol": "mqtt",
         "port": 1883},
    )  # fmt: skip
    registers.insert(
        conn, TEST, "sensor",
        {"enterprise_id": ent_id, "code": "S1", "kind": "temperature", "gateway_id": gw,
         "installed_on": "2025-03-01"},
    )  # fmt: skip
    sign_in(browser, web_url, make_user("admin"))
    wait_for(browser, "#hw-nav")
    downloads_to(browser, tmp_path)
    open_register(browser, web_url, "sensor", ent)
    browser.find_element(By.ID, "reg-export-xlsx").click()
    exported = wait_file(tmp_path, ".xlsx")
    wb = load_workbook(exported)
    ws = wb.active
    assert ws is not None
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["企业", "编码", "类型", "网关"]
    assert [c.value for c in ws[2]][:4] == [ent, "S1", "温度", "GW1"]  # codes, not ids
    assert ws.max_row == 2
    ws.cell(2, headers.index("测点位置") + 1, "电机驱动端")
    ws.append([ent, "S2", "压力", "GW1", None, None, None, "2025-04-01"])
    edited = tmp_path / "sensors-edited.xlsx"
    buf = io.BytesIO()
    wb.save(buf)
    edited.write_bytes(buf.getvalue())
    summary = upload(browser, edited)
    assert summary == i18n.t("reg.import.done", "zh", inserted=1, updated=1, errors=0)
    rows = conn.execute(
        "SELECT code, kind, gateway_id, measurement_point, installed_on::text FROM registry.sensor"
        " WHERE enterprise_id = %s ORDER BY code",
        (ent_id,),
    ).fetchall()
    assert rows == [
        ("S1", "temperature", gw, "电机驱动端", "2025-03-01"),
        ("S2", "pressure", gw, None, "2025-04-01"),
    ]
    patient(browser, 15).until(lambda d: "S2" in grid_text(d))  # the grid reloaded
    assert_clean(browser)


def test_regulator_sees_its_city_only_and_cannot_edit(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    tag = uuid.uuid4().hex[:6]
    ty_id, ty = make_enterprise(conn, f"太原监管{tag}", city="太原市")
    _, dt = make_enterprise(conn, f"大同监管{tag}", city="大同市")
    ty_unit = registers.insert(
        conn, TEST, "unit", {"enterprise_id": ty_id, "code": "R1", "name": "监管装置"}
    )
    name = make_user("regulator", region="太原市")
    sign_in(browser, web_url, name)
    wait_for(browser, "#hw-nav")
    open_register(browser, web_url, "enterprise", tag)
    text = grid_text(browser)
    assert ty in text and dt not in text
    for control in ("reg-add", "reg-delete", "reg-upload", "reg-import-mode"):
        assert not browser.find_elements(By.ID, control), control
    assert browser.find_element(By.ID, "reg-readonly").text == i18n.t("reg.readonly", "zh")
    cell(browser, ty_id, "phone").click()
    assert not browser.find_elements(By.CSS_SELECTOR, "#reg-grid .ag-cell-inline-editing")
    browser.save_screenshot(str(screenshots / "registers-regulator.png"))
    assert_clean(browser)
    open_register(browser, web_url, "region")
    wait_for(browser, "#reg-tree")
    tree = browser.find_element(By.ID, "reg-tree").text
    assert "太原市" in tree and "大同市" not in tree

    forged = forged_cell_edit(browser, "unit", ty_unit, "name", "伪造名称")
    assert "无权修改" in forged
    assert conn.execute("SELECT name FROM registry.unit WHERE id = %s", (ty_unit,)).fetchone() == (
        "监管装置",
    )


def test_contractor_sees_and_edits_only_its_company(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    host_id, host = make_enterprise(conn, "承包商现场")
    own = company(conn, host_id, "自家公司")
    other = company(conn, host_id, "别家公司")
    own_name, other_name = (
        conn.execute("SELECT name FROM contractor.company WHERE id = %s", (i,)).fetchone()[0]
        for i in (own, other)
    )
    name = make_user("contractor", enterprise=host, company=own_name)
    sign_in(browser, web_url, name)
    visit(browser, web_url + "/registers", "#reg-grid")
    links = browser.find_elements(By.CSS_SELECTOR, "#reg-picker a")
    assert [a.get_attribute("id") for a in links] == ["reg-link-contractor_company"]
    patient(browser, 15).until(lambda d: own_name in grid_text(d))
    assert other_name not in grid_text(browser)
    assert "共 1 行" in browser.find_element(By.ID, "reg-page-label").text
    edit_cell(browser, own, "phone", "0351-6667788")
    patient(browser, 15).until(lambda d: "已保存" in d.find_element(By.ID, "reg-status").text)
    cell(browser, own, "status").click()  # not the contractor's to change
    assert not browser.find_elements(By.CSS_SELECTOR, "#reg-grid .ag-cell-inline-editing")
    browser.save_screenshot(str(screenshots / "registers-contractor.png"))
    assert_clean(browser)
    browser.get(web_url + "/registers?r=unit")
    wait_for(browser, "#hw-forbidden")

    forged = forged_cell_edit(browser, "contractor_company", other, "phone", "0351-1")
    assert "超出您的数据范围" in forged
    phones = dict(
        conn.execute(
            "SELECT id, phone FROM contractor.company WHERE id = ANY(%s)", ([own, other],)
        ).fetchall()
    )
    assert phones == {own: "0351-6667788", other: None}
    audit = conn.execute(
        "SELECT actor, after ->> 'phone' FROM audit.log WHERE entity = 'contractor.company'"
        " AND entity_id = %s AND action = 'update'",
        (str(own),),
    ).fetchall()
    assert audit == [(name, "0351-6667788")]


def test_every_register_page_loads_cleanly(
    web_url: str,
    browser: WebDriver,
    make_user: Callable[..., str],
    conn: psycopg.Connection,
    screenshots: Path,
) -> None:
    ent_id, _ = make_enterprise(conn, "页面测试")
    registers.insert(conn, TEST, "company", {
        "enterprise_id": ent_id, "name": f"页面公司-{uuid.uuid4().hex[:6]}",
        "credit_code": credit_code(), "category": "construction"})  # fmt: skip
    sign_in(browser, web_url, make_user("admin"))
    wait_for(browser, "#hw-nav")
    open_register(browser, web_url, "region")
    for spec in PAGE_SPECS:
        key = spec.key
        browser.find_element(By.ID, f"reg-link-{key}").click()  # client-side, no reload
        patient(browser).until(
            lambda d, spec=spec: (
                d.find_element(By.ID, "page-title").text == spec.title("zh")
                and d.find_element(By.ID, "reg-page-label").text.strip() != ""
            )
        )
        headers = browser.find_element(By.CSS_SELECTOR, "#reg-grid .ag-header").text
        assert spec.columns[0].header("zh") in headers
        assert_clean(browser)
        if key in ("region", "enterprise", "pump", "contractor_company"):
            browser.save_screenshot(str(screenshots / f"registers-{key}.png"))
    browser.find_element(By.ID, "reg-add").click()  # a new row appears, nothing is saved yet
    patient(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#reg-grid .ag-row[row-id^="new-"]')
    )
    assert_clean(browser)


def test_engineer_adds_a_row_saved_once_complete(
    web_url: str, browser: WebDriver, make_user: Callable[..., str], conn: psycopg.Connection
) -> None:
    ent_id, ent = make_enterprise(conn, "新增行")
    sign_in(browser, web_url, make_user("engineer", enterprise=ent))
    wait_for(browser, "#hw-nav")
    open_register(browser, web_url, "shift_team")
    browser.find_element(By.ID, "reg-add").click()
    new = patient(browser, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, '#reg-grid .ag-row[row-id^="new-"]')
    )
    rid = new.get_attribute("row-id")
    assert cell(browser, rid, "enterprise_id").text == ent  # the engineer's own, prefilled
    edit_cell(browser, rid, "name", "甲班")
    patient(browser, 15).until(lambda d: "已保存" in d.find_element(By.ID, "reg-status").text)
    row = conn.execute(
        "SELECT id, name FROM registry.shift_team WHERE enterprise_id = %s", (ent_id,)
    ).fetchone()
    assert row is not None and row[1] == "甲班"
    # The temporary row becomes the saved one (the grid redraws just after the status line).
    patient(browser, 10).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, '#reg-grid .ag-row[row-id^="new-"]')
    )
    assert cell(browser, row[0], "name").text == "甲班"
    assert_clean(browser)
