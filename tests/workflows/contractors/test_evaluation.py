"""C16-C18 evaluation: rules checked before they are saved, automatic scores from the records
plus manual scores weighted into a result equal to the sum worked out by hand, the cycle job,
and the qualified list following the result (C19)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from hazwatch import registers
from tests.workflows.contractors.site import TEST, make_site
from workflows.contractors import evaluation as ev
from workflows.contractors import lists
from workflows.contractors.archive import ContractorError
from workflows.contractors.evaluation import Facts, Item

FROM, TO = date(2026, 10, 1), date(2026, 10, 31)


def _at(day: int) -> datetime:
    return datetime(2026, 10, day, 9, 0, tzinfo=UTC)


def test_pure_scores_and_rules() -> None:
    inc = Item("inc", "事故", "auto", 30, "incidents", {"per_level": {"minor": 20}})
    assert ev.auto_score(inc, Facts(incidents={"minor": 2, "near_miss": 1}))[0] == 55  # 100-40-5
    qual = Item("q", "资质", "auto", 10, "qualification_validity", {"per_expired": 25})
    assert ev.auto_score(qual, Facts(documents=0))[0] == 0  # nothing on file: no credit
    assert ev.auto_score(qual, Facts(documents=4, expired_documents=5))[0] == 0  # floor
    att = Item("a", "考勤", "auto", 5, "attendance", {"expected_person_days": 40})
    assert ev.auto_score(att, Facts(attendance_days=30))[0] == 75
    assert ev.rule_problems("violations", {"per": 150}) == ["per: between 0 and 100"]
    assert ev.rule_problems("incidents", {"per_level": {"huge": 3}})[0].startswith("per_level")
    assert ev.rule_problems("violations", {"per_expired": 3})[0].startswith("rule key")
    with pytest.raises(ValueError, match="not scored yet: b"):
        ev.weighted_total([Item("a", "A", "manual", 1), Item("b", "B", "manual", 1)], {"a": 1})
    assert ev.cycle_period("quarterly", date(2026, 11, 15)) == (date(2026, 7, 1), date(2026, 9, 30))
    assert ev.cycle_period("yearly", date(2027, 1, 2)) == (date(2026, 1, 1), date(2026, 12, 31))
    assert ev.cycle_period("monthly", date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_score_equals_the_hand_worked_sum(conn: psycopg.Connection, tmp_path: Path) -> None:
    """Records of October 2026 for the company:

    - incidents: one minor (20 points) and one near miss (5): 100 - 25 = 75, weight 30
    - violations: two in the period (10 each; a third in September does not count): 80, weight 20
    - work violations: one (20 each): 80, weight 20
    - qualifications: two on file, one expired on 31 October (25 each): 75, weight 10
    - safety management, manual: 90, weight 20

    (30·75 + 20·80 + 20·80 + 10·75 + 20·90) / (30 + 20 + 20 + 10 + 20)
      = (2250 + 1600 + 1600 + 750 + 1800) / 100 = 8000 / 100 = 80.00 ≥ 70: passed.
    """
    site = make_site(conn)
    c = site.company_id
    for level, day in (("minor", 3), ("near_miss", 4)):
        registers.insert(conn, TEST, "contractor_incident",
                         {"company_id": c, "kind": "机械伤害", "level": level,
                          "occurred_at": _at(day)})  # fmt: skip
    for day, work in ((5, False), (6, False), (7, True)):
        registers.insert(conn, TEST, "contractor_violation",
                         {"company_id": c, "occurred_at": _at(day), "description": f"违章{day}",
                          "is_work_violation": work})  # fmt: skip
    registers.insert(conn, TEST, "contractor_violation",
                     {"company_id": c, "description": "九月违章",
                      "occurred_at": datetime(2026, 9, 20, tzinfo=UTC)})  # fmt: skip
    registers.insert(
        conn,
        TEST,
        "contractor_qualification",
        {"company_id": c, "kind": "安全生产许可证", "expires_on": date(2026, 10, 30)},
    )
    registers.insert(
        conn,
        TEST,
        "contractor_qualification",
        {"company_id": c, "kind": "施工总承包三级", "expires_on": date(2028, 1, 1)},
    )
    tid = ev.save_template(conn, TEST, {"enterprise_id": site.enterprise_id, "code": "T1",
                                        "name": "选择评价", "stage": "selection",
                                        "pass_score": 70})  # fmt: skip
    for code, source, metric, weight, rule in (
        ("inc", "auto", "incidents", 30, {"per_level": {"minor": 20, "near_miss": 5}}),
        ("vio", "auto", "violations", 20, {"per": 10}),
        ("wv", "auto", "work_violations", 20, {"per": 20}),
        ("qual", "auto", "qualification_validity", 10, {"per_expired": 25}),
        ("mgmt", "manual", None, 20, {}),
    ):
        ev.save_item(
            conn,
            TEST,
            tid,
            {
                "code": code,
                "name": code,
                "source": source,
                "metric": metric,
                "weight": weight,
                "rule": rule,
            },
        )
    with pytest.raises(ContractorError, match="rule: per: between 0 and 100"):
        ev.save_item(
            conn,
            TEST,
            tid,
            {
                "code": "bad",
                "name": "bad",
                "source": "auto",
                "metric": "violations",
                "weight": 1,
                "rule": {"per": 500},
            },
        )
    eid = ev.start_evaluation(conn, TEST, template_id=tid, company_id=c, period_from=FROM,
                              period_to=TO)  # fmt: skip
    got = ev.scores(conn, eid)
    assert {k: v["score"] for k, v in got.items()} == {"inc": 75, "vio": 80, "wv": 80, "qual": 75}
    assert got["vio"]["basis"] == {"count": 2, "per": 10.0}
    with pytest.raises(ContractorError, match="not scored yet: mgmt"):
        ev.finalise(conn, TEST, eid)
    with pytest.raises(ContractorError, match="0 to 100"):
        ev.set_manual(conn, TEST, eid, "mgmt", 120)
    ev.set_manual(conn, TEST, eid, "mgmt", 90, "制度健全")
    # editing the template now changes nothing of the evaluation under way
    items = dict((i.code, item_id) for item_id, i in ev.template_items(conn, tid))
    ev.save_item(conn, TEST, tid, {"code": "mgmt", "name": "mgmt", "source": "manual",
                                   "weight": 80}, item_id=items["mgmt"])  # fmt: skip
    result = ev.finalise(conn, TEST, eid)
    assert (result.total, result.passed) == (80.0, True)
    assert [q["company"] for q in lists.qualified_list(conn, enterprise_ids=[site.enterprise_id])] \
        == [site.company]  # fmt: skip
    with pytest.raises(ContractorError, match="final"):
        ev.set_manual(conn, TEST, eid, "mgmt", 10)
    with pytest.raises(ContractorError, match="already"):
        ev.start_evaluation(conn, TEST, template_id=tid, company_id=c, period_from=FROM,
                            period_to=TO)  # fmt: skip
    # a failed execution evaluation takes the company off the list again
    t2 = ev.save_template(conn, TEST, {"enterprise_id": site.enterprise_id, "code": "T2",
                                       "name": "过程评价", "stage": "execution",
                                       "pass_score": 90})  # fmt: skip
    ev.save_item(
        conn,
        TEST,
        t2,
        {
            "code": "vio",
            "name": "违章",
            "source": "auto",
            "metric": "violations",
            "weight": 1,
            "rule": {"per": 10},
        },
    )
    e2 = ev.start_evaluation(conn, TEST, template_id=t2, company_id=c, period_from=FROM,
                             period_to=TO)  # fmt: skip
    assert ev.finalise(conn, TEST, e2).passed is False
    assert lists.qualified_list(conn, enterprise_ids=[site.enterprise_id]) == []


def test_the_cycle_job_opens_last_months_evaluation(conn: psycopg.Connection) -> None:
    site = make_site(conn)
    registers.update(conn, TEST, "contractor_project", site.project_id, {"status": "in_progress"})
    made = ev.open_due(conn, TEST, today=date(2026, 12, 3))
    assert made >= 1
    row = conn.execute(
        "SELECT t.code, v.period_from, v.period_to, v.status FROM contractor.evaluation v"
        " JOIN contractor.eval_template t ON t.id = v.template_id WHERE v.project_id = %s",
        (site.project_id,),
    ).fetchall()
    assert row == [("EXE", date(2026, 11, 1), date(2026, 11, 30), "draft")]
    again = ev.open_due(conn, TEST, today=date(2026, 12, 20))
    assert conn.execute(
        "SELECT count(*) FROM contractor.evaluation WHERE project_id = %s", (site.project_id,)
    ).fetchone() == (1,)
    assert again >= 0
