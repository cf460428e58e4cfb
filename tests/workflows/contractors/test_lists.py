"""C19 the blacklist and the qualified list: a blacklisted company's entry application is
refused automatically, a blacklisted person is flagged to the approver, and removal needs an
application after re-education confirmed by the enterprise through the approval engine."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from hazwatch.registers import Actor
from tests.workflows.contractors.ops_helpers import person
from tests.workflows.contractors.site import TEST, make_site
from workflows import approvals
from workflows.contractors import entry, lists
from workflows.contractors.archive import ContractorError
from workflows.contractors.entry import EntryRefused

FROM = date.today() + timedelta(days=1)


def test_blacklist_removal_flow(conn: psycopg.Connection, tmp_path: Path) -> None:
    site = make_site(conn)
    contractor = Actor(site.contractor_id, site.contractor)
    reviewer = Actor(site.reviewer_id, site.reviewer)
    safety = Actor(site.safety_id, site.safety)
    worker = person(conn, site, tmp_path, "黑名单人员")
    lists.enter_qualified(conn, TEST, site.company_id, None)
    entry_id = lists.add_to_blacklist(conn, TEST, company_id=site.company_id,
                                      reason="发生一般生产安全事故")  # fmt: skip
    assert lists.qualified_list(conn, enterprise_ids=[site.enterprise_id]) == []
    with pytest.raises(ContractorError, match="already"):
        lists.add_to_blacklist(conn, TEST, company_id=site.company_id, reason="again")
    with pytest.raises(EntryRefused, match="blacklist"):
        entry.apply_for_entry(conn, contractor, company_id=site.company_id, person_ids=[worker],
                              valid_from=FROM, valid_until=FROM + timedelta(days=5),
                              places=["一号门"])  # fmt: skip
    with pytest.raises(ContractorError, match="re_education"):
        lists.request_removal(conn, contractor, entry_id, re_education=" ",
                              company_id=site.company_id)  # fmt: skip
    other = make_site(conn)
    with pytest.raises(ContractorError, match="no blacklist entry"):
        lists.request_removal(conn, contractor, entry_id, re_education="x",
                              company_id=other.company_id)  # fmt: skip
    iid = lists.request_removal(conn, contractor, entry_id, company_id=site.company_id,
                                re_education="全员再教育 8 学时，考试合格")  # fmt: skip
    with pytest.raises(ContractorError, match="under way"):
        lists.request_removal(conn, contractor, entry_id, re_education="again",
                              company_id=site.company_id)  # fmt: skip
    assert approvals.act(conn, reviewer, iid, "approve", "再教育记录属实") == "pending"
    still = lists.blacklist(conn, enterprise_ids=[site.enterprise_id], include_removed=False)
    assert [e["id"] for e in still] == [entry_id]
    assert approvals.act(conn, safety, iid, "approve", "同意移出") == "approved"
    assert lists.blacklist(conn, enterprise_ids=[site.enterprise_id], include_removed=False) == []
    row = conn.execute(
        "SELECT removed_at IS NOT NULL, removal_note FROM contractor.blacklist WHERE id = %s",
        (entry_id,),
    ).fetchone()
    assert row is not None and row[0] and "全员再教育" in row[1]
    # the company may apply again once removed
    assert entry.apply_for_entry(
        conn,
        contractor,
        company_id=site.company_id,
        person_ids=[worker],
        valid_from=FROM,
        valid_until=FROM + timedelta(days=5),
        places=["一号门"],
    )
    # a contractor of another company does not see this company's entries
    assert lists.blacklist(conn, enterprise_ids=None, company_id=other.company_id) == []


def test_blacklisted_person_is_flagged_not_refused(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    site = make_site(conn)
    contractor = Actor(site.contractor_id, site.contractor)
    worker = person(conn, site, tmp_path, "被列入人员")
    lists.add_to_blacklist(conn, TEST, person_id=worker, reason="严重违章")
    ids = entry.apply_for_entry(
        conn,
        contractor,
        company_id=site.company_id,
        person_ids=[worker],
        valid_from=FROM,
        valid_until=FROM + timedelta(days=5),
        places=["一号门"],
    )
    flags = conn.execute(
        "SELECT flags FROM contractor.entry_application WHERE id = %s", (ids[0],)
    ).fetchone()
    assert flags is not None and flags[0] == ["blacklisted person: 严重违章"]
    seen = lists.blacklist(conn, enterprise_ids=None, company_id=site.company_id)
    assert [(e["kind"], e["name"]) for e in seen] == [("person", "被列入人员")]
    with pytest.raises(ContractorError, match="exactly one"):
        lists.add_to_blacklist(conn, TEST, reason="x")
