"""The contractor archive and training screens (issue 10: C1-C8, C10) in headless Chromium
against ``hazwatch serve``: an enterprise admin edits a qualification's expiry in the grid
(audited); an Excel import of people with one bad ID-card number reports that row, the grid
shows only masked numbers and the admin's look at a full number is audited; a contractor
enters a certificate on its self-service page, uploads its scan and downloads it back with the
same sha256, and cannot fetch another company's attachment by a forged URL; a question-bank
Excel import reports its bad row. No console errors; screenshots in ``var/screenshots/``."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg
from openpyxl import Workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from hazwatch.registers import Actor
from tests.dashboards.browser import assert_clean, patient, sign_in, wait_for
from tests.dashboards.conftest import browser, make_user, screenshots, web_url  # noqa: F401
from tests.dashboards.test_registers_ui import cell, edit_cell, grid_text
from tests.workflows.contractors.site import TEST, id_number, make_site
from workflows.contractors import archive
from workflows.contractors.archive import PersonInput

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def open_screen(driver: WebDriver, url: str, path: str, key: str, search: str = "") -> None:
    query = f"?r={key}" + ("&q=" + urllib.parse.quote(search) if search else "")
    driver.get(url + path + query)
    wait_for(driver, "#reg-grid")
    patient(driver, 15).until(lambda d: d.find_element(By.ID, "reg-page-label").text.strip() != "")


def _xlsx(headers: list[str], rows: list[list[object]], path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    return path


def _send_file(driver: WebDriver, upload_id: str, path: Path, summary_css: str) -> str:
    old = driver.find_elements(By.CSS_SELECTOR, summary_css)
    before = old[0].text if old else None
    field = driver.find_element(By.CSS_SELECTOR, f"#{upload_id} input[type=file]")
    driver.execute_script("arguments[0].value = '';", field)
    field.send_keys(str(path))
    patient(driver, 20).until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, summary_css)
            and (before is None or d.find_element(By.CSS_SELECTOR, summary_css).text != before)
        )
    )
    return str(driver.find_element(By.CSS_SELECTOR, summary_css).text)


def pick(driver: WebDriver, dropdown_id: str, text: str) -> None:
    """Open a Dash dropdown and click the option that shows ``text``."""
    driver.find_element(By.ID, dropdown_id).click()
    option = patient(driver, 10).until(
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
                if text in o.text
            ),
            None,
        )
    )
    option.click()
    patient(driver, 10).until(lambda d: text in d.find_element(By.ID, dropdown_id).text)


def _fetch(driver: WebDriver, url: str) -> tuple[int, bytes]:
    """GET ``url`` outside the browser with the browser's session cookie."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    req = urllib.request.Request(url, headers={"Cookie": cookies})  # noqa: S310 (127.0.0.1)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_admin_edits_a_qualification_expiry(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    db_url: str,
    screenshots: Path,  # noqa: F811
) -> None:
    kind = f"安全生产许可证-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
        qid = archive.save_row(conn, TEST, "contractor_qualification",
                               {"kind": kind, "expires_on": date(2026, 1, 31)},
                               company_id=site.company_id)  # fmt: skip
    admin = make_user("admin", enterprise=site.enterprise)
    sign_in(browser, web_url, admin)
    wait_for(browser, "#hw-nav")
    open_screen(browser, web_url, "/contractors/archive", "contractor_qualification", kind)
    assert kind in grid_text(browser) and site.company in grid_text(browser)
    due = (date.today() + timedelta(days=700)).isoformat()
    edit_cell(browser, qid, "expires_on", due)
    patient(browser, 15).until(lambda d: "已保存" in d.find_element(By.ID, "reg-status").text)
    cell(browser, qid, "kind").click()  # picks the row for its attachments
    wait_for(browser, "#ca-row-picked")
    browser.save_screenshot(str(screenshots / "contractors-archive-qualification.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT expires_on::text FROM contractor.qualification WHERE id = %s", (qid,)
        ).fetchone() == (due,)
        logged = conn.execute(
            "SELECT l.actor, l.after ->> 'expires_on' FROM audit.log l WHERE l.entity ="
            " 'contractor.qualification' AND l.entity_id = %s AND l.action = 'update'",
            (str(qid),),
        ).fetchall()
    assert logged == [(admin, due)]
    # The other registers of the archive are there for the admin, C1-C7 and the rules.
    for key in ("contractor_personnel", "contractor_incident", "contractor_qualification_rule"):
        assert browser.find_elements(By.ID, f"reg-link-{key}")


def test_people_import_with_a_bad_id_number(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    db_url: str,
    screenshots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
    admin = make_user("admin", enterprise=site.enterprise)
    good, other = id_number(711), id_number(713)
    bad = id_number(712)[:17] + ("0" if id_number(712)[17] != "0" else "1")
    sheet = _xlsx(
        ["承包商单位", "姓名", "身份证号", "人员类型", "联系电话", "保险有效期至"],
        [[site.company, "导入张", good, "作业人员", "13900001111", "2031-01-01"],
         [site.company, "导入李", bad, "作业人员", "", ""],
         [site.company, "导入王", other, "特种作业人员", "", ""]],
        tmp_path / "人员.xlsx",
    )  # fmt: skip
    sign_in(browser, web_url, admin)
    wait_for(browser, "#hw-nav")
    open_screen(browser, web_url, "/contractors/archive", "contractor_personnel")
    assert not browser.find_elements(By.ID, "reg-add")  # people come with their ID number
    summary = _send_file(browser, "ca-people-upload", sheet, "#ca-people-summary")
    assert "未导入" in summary, summary
    report = browser.find_element(By.ID, "ca-people-report-table").text
    assert "3" in report and "身份证号" in report and "check digit" in report
    browser.find_element(By.CSS_SELECTOR, '#ca-people-mode input[value="valid"]').click()
    summary = _send_file(browser, "ca-people-upload", sheet, "#ca-people-summary")
    assert "新增 2 人" in summary, summary
    patient(browser, 15).until(lambda d: "导入王" in grid_text(d))
    assert good not in browser.page_source and good[-4:] in grid_text(browser)
    browser.save_screenshot(str(screenshots / "contractors-archive-people-import.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        (eid,) = conn.execute(
            "SELECT e.id FROM contractor.employment e JOIN contractor.person p"
            " ON p.id = e.person_id WHERE p.name = '导入张' AND e.company_id = %s",
            (site.company_id,),
        ).fetchone()
    cell(browser, eid, "person_name").click()
    wait_for(browser, "#ca-row-picked")
    browser.find_element(By.ID, "ca-reveal").click()
    shown = wait_for(browser, "#ca-reveal-number")
    assert good in shown.text
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM audit.log WHERE action = 'pii_read' AND actor = %s", (admin,)
        ).fetchone() == (1,)
    assert_clean(browser)


def test_contractor_certificate_scan_round_trip(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    db_url: str,
    screenshots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        mine, theirs = make_site(conn), make_site(conn)
        archive.register_person(
            conn, Actor(mine.contractor_id, mine.contractor), mine.company_id,
            PersonInput(name="焊工甲", id_number=id_number(721), person_type="special_worker"),
            home=tmp_path,
        )  # fmt: skip
        their_pid, _ = archive.register_person(
            conn, TEST, theirs.company_id,
            PersonInput(name="外单位焊工", id_number=id_number(722), person_type="worker"),
            home=tmp_path,
        )  # fmt: skip
        theirs_aid = archive.attach(conn, TEST, theirs.company_id, "person", their_pid,
                                    "外单位身份证.png", PNG, home=tmp_path)  # fmt: skip
    sign_in(browser, web_url, mine.contractor)
    wait_for(browser, "#page-title")
    browser.get(web_url + "/contractors/my")
    wait_for(browser, "#cx-c-add")
    pick(browser, "cx-c-person", "焊工甲")
    browser.find_element(By.ID, "cx-c-kind").send_keys("特种作业操作证")
    browser.find_element(By.ID, "cx-c-expires").send_keys("2030-06-30")
    browser.find_element(By.ID, "cx-c-add").click()
    wait_for(browser, "#cx-c-ok")
    patient(browser, 10).until(
        lambda d: "特种作业操作证" in d.find_element(By.ID, "cx-people").text
    )
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        (cert,) = conn.execute(
            "SELECT c.id FROM contractor.certificate c JOIN contractor.person p"
            " ON p.id = c.person_id WHERE p.name = '焊工甲'"
        ).fetchone()

    browser.find_element(By.ID, "cx-edit-contractor_certificate").click()
    wait_for(browser, "#reg-grid")
    links = {e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, ".reg-link")}
    assert links == {
        "reg-link-contractor_personnel",
        "reg-link-contractor_certificate",
        "reg-link-contractor_equipment",
    }
    cell(browser, cert, "person_name").click()
    wait_for(browser, "#ca-row-picked")
    scan = tmp_path / "证书扫描.png"
    scan.write_bytes(PNG)
    field = browser.find_element(By.CSS_SELECTOR, "#ca-att-upload input[type=file]")
    field.send_keys(str(scan))
    wait_for(browser, "#ca-att-ok")
    link = wait_for(browser, ".ca-att-link")
    assert link.text == "证书扫描.png"
    status, data = _fetch(browser, str(link.get_attribute("href")))
    assert status == 200 and hashlib.sha256(data).hexdigest() == hashlib.sha256(PNG).hexdigest()
    assert link.get_attribute("data-sha256") == hashlib.sha256(PNG).hexdigest()
    browser.save_screenshot(str(screenshots / "contractors-archive-certificate-scan.png"))
    assert_clean(browser)
    # Another company's attachment by a forged URL: as if it did not exist.
    assert _fetch(browser, f"{web_url}/contractors/attachment/{theirs_aid}")[0] == 404
    # An enterprise-only register asked for by key: the contractor gets its own kinds only.
    open_screen(browser, web_url, "/contractors/archive", "contractor_qualification")
    assert browser.find_element(By.ID, "page-title").text == "承包商人员"
    assert "外单位焊工" not in grid_text(browser) and "焊工甲" in grid_text(browser)
    assert_clean(browser)


def test_question_bank_import_with_a_bad_row(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    make_user: Callable[..., str],  # noqa: F811
    db_url: str,
    screenshots: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn)
    admin = make_user("admin", enterprise=site.enterprise)
    bank = f"导入题库{uuid.uuid4().hex[:4]}"
    sheet = _xlsx(
        ["题库", "题型", "题目", "选项A", "选项B", "选项C", "答案"],
        [[bank, "单选", "进入受限空间前要做什么？", "气体检测", "唱歌", "", "A"],
         [bank, "单选", "这道题的答案不在选项里", "甲", "乙", "", "D"],
         [bank, "判断", "作业票可以代签。", "", "", "", "错"]],
        tmp_path / "题库.xlsx",
    )  # fmt: skip
    sign_in(browser, web_url, admin)
    wait_for(browser, "#hw-nav")
    open_screen(browser, web_url, "/contractors/training", "contractor_question")
    summary = _send_file(browser, "cxt-q-upload", sheet, "#cxt-q-summary")
    assert summary == "导入 2 行，拒绝 1 行。", summary
    rows = browser.find_elements(By.CSS_SELECTOR, "#cxt-q-report-table tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["3"]
    browser.save_screenshot(str(screenshots / "contractors-training-question-import.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT qtype, answer FROM contractor.question WHERE enterprise_id = %s"
            " AND bank = %s ORDER BY id",
            (site.enterprise_id, bank),
        ).fetchall()
    assert stored == [("single", "A"), ("judge", "F")]
    open_screen(browser, web_url, "/contractors/training", "contractor_question", bank)
    assert "进入受限空间前要做什么？" in grid_text(browser)
    choose = browser.find_elements(By.ID, "reg-link-contractor_course")
    assert choose, "the courses screen is offered beside the question banks"
    assert_clean(browser)
