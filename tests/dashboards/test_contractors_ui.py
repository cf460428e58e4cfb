"""Contractor entry in headless Chromium against ``hazwatch serve`` and a real access-control
simulator (issue 10; C8-C11, C19): a contractor account registers people and applies; one
worker fails the exam and the application is returned automatically, the other passes and is
approved by both steps; the simulator receives exactly the approved card. A blacklisted
company is refused; a contractor cannot see or submit to another company's data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from hazwatch import registers
from tests.conftest import find_free_port
from tests.dashboards.browser import patient
from tests.dashboards.conftest import browser, screenshots, web_url  # noqa: F401
from tests.dashboards.test_web_ui import assert_clean, sign_in, wait_for
from tests.workflows.contractors.site import TEST, id_number, make_site
from workflows.contractors.access_sim import AccessSimulator
from workflows.contractors.entry import card_number

FROM = date.today() + timedelta(days=2)
UNTIL = FROM + timedelta(days=20)


@pytest.fixture
def sim() -> Iterator[AccessSimulator]:
    s = AccessSimulator(port=find_free_port(), token="sim-token").start()
    yield s
    s.stop()


def _type(driver: WebDriver, element_id: str, text: str) -> None:
    el = driver.find_element(By.ID, element_id)
    el.send_keys(Keys.CONTROL, "a")  # clear() does not reach React's state
    el.send_keys(Keys.DELETE)
    el.send_keys(text)


def _register(driver: WebDriver, name: str, number: str) -> None:
    _type(driver, "cx-p-name", name)
    _type(driver, "cx-p-id", number)
    _type(driver, "cx-p-ins", (UNTIL + timedelta(days=200)).isoformat())
    _type(driver, "cx-p-med", (date.today() - timedelta(days=10)).isoformat())
    driver.find_element(By.ID, "cx-p-add").click()
    try:
        patient(driver, 15).until(
            lambda d: name in "".join(e.text for e in d.find_elements(By.ID, "cx-p-ok"))
        )
    except TimeoutException:
        pytest.fail(f"{name} not registered: {driver.find_element(By.ID, 'cx-p-msg').text}")


def _take_exam(driver: WebDriver, url: str, db_url: str, app_id: int, right: bool) -> Any:
    driver.get(f"{url}/contractors/exam?a={app_id}")
    wait_for(driver, "#cx-paper")
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT paper FROM contractor.exam_attempt WHERE application_id = %s"
            " AND finished_at IS NULL",
            (app_id,),
        ).fetchone()
    assert row is not None
    page = driver.page_source
    for item in row[0]:
        assert item["stem"] in page
        value = (
            item["answer"] if right else {"A": "B", "B": "A", "C": "A", "T": "F"}[item["answer"]]
        )
        driver.find_element(
            By.CSS_SELECTOR, f"fieldset[data-qid='{item['question_id']}'] input[value='{value}']"
        ).click()
    driver.find_element(By.ID, "cx-exam-submit").click()
    return wait_for(driver, "#cx-exam-outcome")


def _approve(driver: WebDriver, url: str, user: str, iid: int) -> None:
    sign_in(driver, url, user)
    wait_for(driver, "#page-title")
    driver.get(url + "/approvals")
    card = wait_for(driver, f"#appr-card-{iid}")
    card.find_element(By.XPATH, ".//button[text()='同意']").click()
    wait_for(driver, "#appr-done")
    assert_clean(driver)


def test_entry_flow_to_the_access_card(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    screenshots: Path,  # noqa: F811
    db_url: str,
    sim: AccessSimulator,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        site = make_site(conn, sim.url)
    sign_in(browser, web_url, site.contractor)
    wait_for(browser, "#page-title")
    browser.get(web_url + "/contractors/my")
    wait_for(browser, "#cx-p-add")
    _register(browser, "张工", id_number(101))
    _register(browser, "李工", id_number(102))
    ids_shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#cx-people .cx-id")]
    assert ids_shown == [id_number(n)[:4] + "*" * 10 + id_number(n)[-4:] for n in (101, 102)]
    assert id_number(101) not in browser.page_source  # PII masked for the contractor
    for box in browser.find_elements(By.CSS_SELECTOR, "#cx-apply-people input"):
        box.click()
    _type(browser, "cx-apply-from", FROM.isoformat())
    _type(browser, "cx-apply-to", UNTIL.isoformat())
    _type(browser, "cx-apply-places", "一号门，储罐区")
    browser.find_element(By.ID, "cx-apply-submit").click()
    wait_for(browser, "#cx-apply-ok")
    browser.save_screenshot(str(screenshots / "contractors-self-service.png"))
    assert_clean(browser)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT a.id, p.name FROM contractor.entry_application a JOIN contractor.person p"
            " ON p.id = a.person_id WHERE a.company_id = %s ORDER BY p.name",
            (site.company_id,),
        ).fetchall()
    apps = {name: app_id for app_id, name in rows}
    assert set(apps) == {"张工", "李工"}

    failed = _take_exam(browser, web_url, db_url, apps["张工"], right=False)
    assert failed.get_attribute("data-status") == "returned"
    assert "不合格" in failed.text and "自动退回" in failed.text
    passed = _take_exam(browser, web_url, db_url, apps["李工"], right=True)
    assert passed.get_attribute("data-status") == "in_approval"
    browser.save_screenshot(str(screenshots / "contractors-exam.png"))
    assert_clean(browser)
    browser.get(web_url + "/contractors/my")
    returned = wait_for(browser, f"#cx-app-{apps['张工']} .cx-status")
    assert returned.text == "已退回"
    with psycopg.connect(db_url) as conn:
        iid_row = conn.execute(
            "SELECT approval_id FROM contractor.entry_application WHERE id = %s",
            (apps["李工"],),
        ).fetchone()
        assert conn.execute(
            "SELECT approval_id FROM contractor.entry_application WHERE id = %s",
            (apps["张工"],),
        ).fetchone() == (None,)
    assert iid_row is not None and iid_row[0] is not None
    iid = int(iid_row[0])

    _approve(browser, web_url, site.reviewer, iid)  # document review (contractor_mgmt)
    assert not sim.cards
    _approve(browser, web_url, site.safety, iid)  # safety approval: the card is pushed
    card_no = card_number(site.enterprise_id, apps["李工"])
    assert list(sim.cards) == [card_no]
    card = sim.cards[card_no]
    with psycopg.connect(db_url) as conn:
        person = conn.execute(
            "SELECT p.person_code, p.id_masked FROM contractor.person p JOIN"
            " contractor.entry_application a ON a.person_id = p.id WHERE a.id = %s",
            (apps["李工"],),
        ).fetchone()
        approved = conn.execute(
            "SELECT payload FROM workflow.approval_instance WHERE id = %s", (iid,)
        ).fetchone()
    assert person is not None and approved is not None
    assert card["person_code"] == person[0] == approved[0]["person_code"]
    assert (card["name"], card["id_masked"]) == ("李工", person[1])
    assert (card["valid_from"], card["valid_until"]) == (FROM.isoformat(), UNTIL.isoformat())
    assert card["places"] == ["一号门", "储罐区"] == approved[0]["places"]
    assert card["company"] == site.company

    sign_in(browser, web_url, site.contractor)
    wait_for(browser, "#page-title")
    browser.get(web_url + "/contractors/my")
    row = wait_for(browser, f"#cx-app-{apps['李工']}")
    assert card_no in row.text and "已批准" in row.text
    browser.save_screenshot(str(screenshots / "contractors-approved.png"))
    assert_clean(browser)


def _forge_hand_in(driver: WebDriver, attempt: int) -> Any:
    """Post the exam page's hand-in callback by hand with another company's attempt id."""
    script = """
        const [attempt, done] = [arguments[0], arguments[arguments.length - 1]];
        const token = document.querySelector('meta[name="csrf-token"]').content;
        fetch('/_dash-dependencies').then(r => r.json()).then(deps => {
          const dep = deps.find(d => d.output.includes('cx-exam-result.children'));
          const body = {output: dep.output,
            outputs: [{id: 'cx-exam-result', property: 'children'},
                      {id: 'cx-exam-body', property: 'children'}],
            inputs: [{id: 'cx-exam-submit', property: 'n_clicks', value: 1}],
            changedPropIds: ['cx-exam-submit.n_clicks'],
            state: [{id: 'cx-exam-attempt', property: 'data', value: attempt}, [], []]};
          return fetch('/_dash-update-component', {method: 'POST', body: JSON.stringify(body),
              headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}});
        }).then(r => r.text().then(t => done([r.status, t])));
    """
    return driver.execute_async_script(script, attempt)


def test_blacklist_and_other_companies(
    web_url: str,  # noqa: F811
    browser: WebDriver,  # noqa: F811
    db_url: str,
) -> None:
    from hazwatch.registers import Actor
    from workflows.contractors import archive, entry
    from workflows.contractors.archive import PersonInput

    with psycopg.connect(db_url, autocommit=True) as conn:
        mine, theirs = make_site(conn), make_site(conn)
        their_actor = Actor(theirs.contractor_id, theirs.contractor)
        pid, _ = archive.register_person(
            conn, their_actor, theirs.company_id,
            PersonInput(name="外单位人员", id_number=id_number(201), person_type="worker",
                        insurance_until=UNTIL + timedelta(days=90),
                        medical_check_on=date.today()),
            home=Path(db_url and "/tmp") / "cx-ui-other",
        )  # fmt: skip
        (their_app,) = entry.apply_for_entry(
            conn, their_actor, company_id=theirs.company_id, person_ids=[pid],
            valid_from=FROM, valid_until=UNTIL, places=["一号门"],
        )  # fmt: skip
        attempt, _ = entry.start_exam(conn, their_app, company_id=theirs.company_id)
        registers.insert(
            conn,
            TEST,
            "contractor_blacklist",
            {"company_id": mine.company_id, "reason": "重大违章"},
        )
    sign_in(browser, web_url, mine.contractor)
    wait_for(browser, "#page-title")
    browser.get(web_url + "/contractors/my")
    wait_for(browser, "#cx-p-add")
    assert "外单位人员" not in browser.page_source  # another company's people are not listed
    _register(browser, "本单位人员", id_number(202))
    browser.find_element(By.CSS_SELECTOR, "#cx-apply-people input").click()
    _type(browser, "cx-apply-from", FROM.isoformat())
    _type(browser, "cx-apply-to", UNTIL.isoformat())
    _type(browser, "cx-apply-places", "一号门")
    browser.find_element(By.ID, "cx-apply-submit").click()
    refusal = wait_for(browser, "#cx-apply-msg .cx-error")
    assert "blacklist" in refusal.text and "重大违章" in refusal.text, refusal.text
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM contractor.entry_application WHERE company_id = %s",
            (mine.company_id,),
        ).fetchone() == (0,)
    # Another company's exam: not even shown; a forged hand-in is refused on the server.
    browser.get(f"{web_url}/contractors/exam?a={their_app}")
    wait_for(browser, "#hw-forbidden")
    status, text = _forge_hand_in(browser, attempt)
    assert status == 200 and "no entry application" in text
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT finished_at FROM contractor.exam_attempt WHERE id = %s", (attempt,)
        ).fetchone() == (None,)
