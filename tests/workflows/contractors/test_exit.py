"""C13 exit and identity: the exit closes the employment, returns the positioning tag and
revokes the access card at a real access-control simulator; deleting a person's records
within a year after the exit is refused by the database with a clear message; a person who
changes employer keeps one code and a year of entries stays visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers, retention
from hazwatch.errors import ConfigError
from hazwatch.registers import RegisterError
from tests.conftest import find_free_port
from tests.workflows.contractors.ops_helpers import approved_entry, person
from tests.workflows.contractors.site import TEST, credit_code, make_site
from workflows.contractors import archive, positioning
from workflows.contractors import exit as exits
from workflows.contractors.access_sim import AccessSimulator
from workflows.contractors.archive import ContractorError, PersonInput


@pytest.fixture
def sim() -> Iterator[AccessSimulator]:
    s = AccessSimulator(port=find_free_port(), token="sim-token").start()
    yield s
    s.stop()


def test_the_pure_rule() -> None:
    assert exits.deletable_from(date(2026, 1, 10), False, came_on_site=False) is None
    assert exits.deletable_from(None, True, came_on_site=True) == date.max
    assert exits.deletable_from(date(2026, 1, 10), False, came_on_site=True) == date(2027, 1, 11)
    # no retention setting may undercut the year
    with pytest.raises(ConfigError, match="legal minimum"):
        retention.effective_policies({"contractor.person": "200 days"})


def _employment(conn: psycopg.Connection, person_id: int, company_id: int) -> int:
    row = conn.execute(
        "SELECT id FROM contractor.employment WHERE person_id = %s AND company_id = %s",
        (person_id, company_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_exit_revokes_the_card_and_keeps_records_a_year(
    conn: psycopg.Connection, tmp_path: Path, sim: AccessSimulator
) -> None:
    site = make_site(conn, sim.url)
    pid = person(conn, site, tmp_path, "离职人员")
    card = approved_entry(conn, site, pid)
    with sim.lock:  # the card as the entry approval pushed it
        sim.cards[card] = {"card_no": card}
    positioning.bind_card(conn, TEST, enterprise_id=site.enterprise_id, tag_no="EX-1",
                          card_no=card)  # fmt: skip
    emp = _employment(conn, pid, site.company_id)
    conn.execute(
        "UPDATE contractor.employment SET joined_on = current_date - 400 WHERE id = %s", (emp,)
    )
    left = date.today() - timedelta(days=100)
    with pytest.raises(ContractorError, match="no employment"):
        exits.record_exit(conn, TEST, employment_id=emp, left_on=left, reason="x",
                          company_id=site.company_id + 100000)  # fmt: skip
    out = exits.record_exit(conn, TEST, employment_id=emp, left_on=left, reason="合同期满")
    assert out.cards_revoked == (card,) and out.tags_returned == ("EX-1",) and not out.problems
    assert card not in sim.cards
    assert exits.kept_until(conn, pid) == left + timedelta(days=366)
    with pytest.raises(psycopg.errors.RestrictViolation, match=r"C13: .*kept at least one year"):
        conn.execute("DELETE FROM contractor.person WHERE id = %s", (pid,))
    with pytest.raises(RegisterError, match="C13") as refused:
        registers.delete(conn, TEST, "contractor_employment", emp)
    assert str(left + timedelta(days=366)) in str(refused.value)
    code = conn.execute("SELECT person_code FROM contractor.person WHERE id = %s", (pid,))
    person_code = code.fetchone()[0]  # type: ignore[index]
    with pytest.raises(ContractorError, match="legal minimum"):
        exits.purge_expired(conn, TEST, keep=timedelta(days=100))
    # someone who left more than a year ago is removed by the retention job, whole
    gone = person(conn, site, tmp_path, "早已离职")
    approved_entry(conn, site, gone, valid_from=date.today() - timedelta(days=500), days=10)
    emp2 = _employment(conn, gone, site.company_id)
    conn.execute(
        "UPDATE contractor.employment SET joined_on = current_date - 600 WHERE id = %s", (emp2,)
    )
    exits.record_exit(conn, TEST, employment_id=emp2, reason="完工",
                      left_on=date.today() - timedelta(days=400))  # fmt: skip
    removed = exits.purge_expired(conn, TEST, keep=timedelta(days=366))
    assert person_code not in removed
    assert conn.execute("SELECT 1 FROM contractor.person WHERE id = %s", (gone,)).fetchone() is None
    assert conn.execute("SELECT 1 FROM contractor.person WHERE id = %s", (pid,)).fetchone()


def test_still_employed_is_refused_too(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    pid = person(conn, site, tmp_path)
    approved_entry(conn, site, pid)
    with pytest.raises(psycopg.errors.RestrictViolation, match="still employed"):
        conn.execute("DELETE FROM contractor.entry_application WHERE person_id = %s", (pid,))
    # a mistaken registration that never came on site may go
    other = person(conn, site, tmp_path, "登记错误")
    conn.execute("DELETE FROM contractor.employment WHERE person_id = %s", (other,))
    conn.execute("DELETE FROM contractor.person WHERE id = %s", (other,))


def test_one_code_across_employers_keeps_last_years_entries(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    site = make_site(conn)
    pid = person(conn, site, tmp_path, "换单位")
    approved_entry(conn, site, pid, valid_from=date.today() - timedelta(days=200), days=20)
    emp = _employment(conn, pid, site.company_id)
    conn.execute(
        "UPDATE contractor.employment SET joined_on = current_date - 300 WHERE id = %s", (emp,)
    )
    exits.record_exit(conn, TEST, employment_id=emp, left_on=date.today() - timedelta(days=150),
                      reason="调往新单位")  # fmt: skip
    new_company = registers.insert(
        conn, TEST, "company",
        {"enterprise_id": site.enterprise_id, "name": f"新单位-{pid}",
         "credit_code": credit_code(), "category": "maintenance"},
    )  # fmt: skip
    number = conn.execute("SELECT id_hash FROM contractor.person WHERE id = %s", (pid,)).fetchone()
    assert number is not None
    code = conn.execute(
        "SELECT person_code FROM contractor.person WHERE id = %s", (pid,)
    ).fetchone()
    assert code is not None
    # the same ID number at the new employer is the same person with the same code
    from workflows.contractors.pii import Vault

    cipher = conn.execute(
        "SELECT id_cipher FROM contractor.person WHERE id = %s", (pid,)
    ).fetchone()
    assert cipher is not None
    plain = Vault.at(tmp_path).open(cipher[0])
    again, _ = archive.register_person(
        conn, TEST, new_company, PersonInput(name="换单位", id_number=plain, person_type="worker"),
        home=tmp_path,
    )  # fmt: skip
    assert again == pid
    seen = exits.history(conn, code[0])
    assert seen["person_code"] == code[0]
    assert {e["company"] for e in seen["employments"]} == {site.company, f"新单位-{pid}"}
    assert [e["company"] for e in seen["entries"]] == [site.company]
    listed = exits.exits(conn, enterprise_ids=[site.enterprise_id], company_id=None)
    assert any(x["person_code"] == code[0] and x["reason"] == "调往新单位" for x in listed)
